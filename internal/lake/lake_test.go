package lake

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/sqlite"
)

// newTestLake builds a Lake on a temporary SQLite catalog and local warehouse.
func newTestLake(t testing.TB) *Lake {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	objects, err := objstore.NewLocal(filepath.Join(dir, "warehouse"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := objstore.NewCache(objects, filepath.Join(dir, "cache"), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	db, err := duckdb.Open(duckdb.Options{Threads: 2, MemoryLimitMB: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return New(Config{Store: store, Objects: objects, Cache: cache, DB: db, TmpDir: filepath.Join(dir, "tmp"), RowGroupSize: 1000, Author: "test"})
}

func mustWrite(t testing.TB, l *Lake, ref, table, src string, opts WriteOptions) WriteResult {
	t.Helper()
	id, err := rat.ParseTableID(table)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Write(context.Background(), ref, id, src, opts)
	if err != nil {
		t.Fatalf("write %s: %v", table, err)
	}
	return res
}

func queryInt(t testing.TB, l *Lake, ref string, at At, q string) int64 {
	t.Helper()
	var n int64
	err := l.Query(context.Background(), ref, at, q, func(rows *sql.Rows) error {
		if !rows.Next() {
			t.Fatalf("%s: no rows", q)
		}
		return rows.Scan(&n)
	})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}
