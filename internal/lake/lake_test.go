package lake

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/postgres"
	"github.com/ratdata/rat/internal/sqlite"
	"github.com/ratdata/rat/internal/testenv"
)

// backends runs a test on the embedded default (SQLite + local directory)
// and on the cluster setup (Postgres + S3 on MinIO).
func backends(t *testing.T, fn func(t *testing.T, l *Lake)) {
	t.Run("local", func(t *testing.T) {
		t.Parallel()
		fn(t, newLocalLake(t))
	})
	t.Run("s3", func(t *testing.T) {
		t.Parallel()
		fn(t, newS3Lake(t))
	})
}

func newLocalLake(t testing.TB) *Lake {
	t.Helper()
	dir := t.TempDir()
	return newTestLake(t, localStore(t, dir), localObjects(t, filepath.Join(dir, "warehouse")), dir)
}

// localStore opens a SQLite catalog in dir, closed when the test ends.
func localStore(t testing.TB, dir string) catalog.Store {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// localObjects is a local warehouse in dir.
func localObjects(t testing.TB, dir string) objstore.Store {
	t.Helper()
	objects, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return objects
}

func newS3Lake(t testing.TB) *Lake {
	t.Helper()
	ctx := context.Background()
	env := testenv.S3(t)
	pg := testenv.Postgres(t)
	store, err := postgres.Open(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s3, err := objstore.NewS3(ctx, objstore.S3Config{
		Endpoint: env.Endpoint, Region: env.Region, AccessKey: env.AccessKey, SecretKey: env.SecretKey,
		Bucket: env.Bucket, Prefix: env.Prefix,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	return newTestLake(t, store, s3, t.TempDir())
}

// newTestLake is what one rat process builds on store and objects, its
// cache and temporary files in dir; tweaks change its Config.
func newTestLake(t testing.TB, store catalog.Store, objects objstore.Store, dir string, tweaks ...func(*Config)) *Lake {
	t.Helper()
	cache, err := objstore.NewCache(objects, filepath.Join(dir, "cache"), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	db, err := duckdb.Open(duckdb.Options{Threads: 2, MemoryLimitMB: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := Config{Store: store, Objects: objects, Cache: cache, DB: db, TmpDir: filepath.Join(dir, "tmp"), RowGroupSize: 1000, Author: "test"}
	for _, tweak := range tweaks {
		tweak(&cfg)
	}
	return New(cfg)
}

// warehouseKeys lists every object of the lake's warehouse with its size.
func warehouseKeys(t testing.TB, l *Lake) map[string]int64 {
	t.Helper()
	infos, err := l.objects.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	for _, in := range infos {
		m[in.Key] = in.Size
	}
	return m
}

// checkReferenced fails the test for each file st references that is not
// among the warehouse keys listed in present.
func checkReferenced(t testing.TB, l *Lake, st *expireState, present map[string]int64) {
	t.Helper()
	needed, err := l.referencedFiles(context.Background(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k := range needed {
		if _, ok := present[k]; !ok {
			t.Errorf("referenced file %s is gone", k)
		}
	}
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

// queryText returns a query's rows rendered as text, one string per row.
func queryText(t testing.TB, l *Lake, ref string, at At, q string) []string {
	t.Helper()
	var out []string
	err := l.Query(context.Background(), ref, at, q, func(rows *sql.Rows) error {
		var err error
		out, err = renderRows(rows)
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func renderRows(rows *sql.Rows) ([]string, error) {
	var out []string
	_, err := duckdb.EachRow(rows, func(_ []string, vals []any) error {
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = "NULL"
			if v != nil {
				parts[i] = duckdb.Text(v)
			}
		}
		out = append(out, strings.Join(parts, " | "))
		return nil
	})
	return out, err
}

func headOf(t testing.TB, l *Lake, ref string) string {
	t.Helper()
	r, err := l.Store().Ref(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return r.Head
}
