// Package laketest builds a real Lake for tests of the packages above it: a
// SQLite catalog, a local warehouse, a read cache and DuckDB, all under one
// temporary directory.
package laketest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/sqlite"
)

// Local returns a Lake whose state lives in dir/.rat, closed when the test
// ends.
func Local(t testing.TB, dir string) *lake.Lake {
	t.Helper()
	state := filepath.Join(dir, ".rat")
	store, err := sqlite.Open(context.Background(), filepath.Join(state, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	objects, err := objstore.NewLocal(filepath.Join(state, "warehouse"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := objstore.NewCache(objects, filepath.Join(state, "cache"), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	db, err := duckdb.Open(duckdb.Options{Threads: 2, MemoryLimitMB: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return lake.New(lake.Config{Store: store, Objects: objects, Cache: cache, DB: db,
		TmpDir: filepath.Join(state, "tmp"), RowGroupSize: 10000, Author: "test"})
}

// WriteFiles writes files (relative path → content) under dir.
func WriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
