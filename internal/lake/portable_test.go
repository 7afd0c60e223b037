package lake

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/postgres"
	"github.com/ratdata/rat/internal/testenv"
)

// history writes a table with two snapshots on main, a branch with a third
// and a view, and returns the first snapshot's id.
func history(t *testing.T, l *Lake) int64 {
	t.Helper()
	ctx := context.Background()
	mustWrite(t, l, "main", "bronze.t", "SELECT range AS id FROM range(10)", WriteOptions{})
	first := currentSnapshot(t, l, "main", "bronze.t")
	mustWrite(t, l, "main", "bronze.t", "SELECT range AS id FROM range(10, 15)", WriteOptions{})
	if err := l.Store().CreateRef(ctx, rat.Ref{Name: "dev", Kind: rat.Branch, Head: headOf(t, l, "main")}); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, l, "dev", "bronze.t", "SELECT range AS id FROM range(15, 20)", WriteOptions{})
	if err := l.CreateView(ctx, "main", rat.TableID{Layer: "gold", Name: "v"}, "SELECT count(*) AS n FROM bronze.t", ""); err != nil {
		t.Fatal(err)
	}
	return first
}

func currentSnapshot(t *testing.T, l *Lake, ref, table string) int64 {
	t.Helper()
	id, _ := rat.ParseTableID(table)
	tbl, err := l.Load(context.Background(), ref, id)
	if err != nil {
		t.Fatal(err)
	}
	return tbl.Metadata().CurrentSnapshot().SnapshotID
}

// checkHistory reads what history wrote.
func checkHistory(t *testing.T, l *Lake, first int64) {
	t.Helper()
	for _, c := range []struct {
		ref  string
		at   At
		q    string
		want int64
	}{
		{"main", At{}, "SELECT count(*) FROM bronze.t", 15},
		{"main", At{SnapshotID: first}, "SELECT count(*) FROM bronze.t", 10},
		{"dev", At{}, "SELECT sum(id) FROM bronze.t", 190},
		{"main", At{}, "SELECT n FROM gold.v", 15},
	} {
		if got := queryInt(t, l, c.ref, c.at, c.q); got != c.want {
			t.Errorf("%s on %s (at %+v) = %d, want %d", c.q, c.ref, c.at, got, c.want)
		}
	}
}

// TestWarehouseMoves: a warehouse moved to another directory, or an S3
// prefix copied elsewhere with the warehouse setting pointed there, keeps
// every table, branch, snapshot and view; writes go on at the new place.
func TestWarehouseMoves(t *testing.T) {
	t.Run("local", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		store := localStore(t, dir)
		l := newTestLake(t, store, localObjects(t, filepath.Join(dir, "one")), filepath.Join(dir, "state-one"))
		first := history(t, l)
		checkHistory(t, l, first)
		if err := os.Rename(filepath.Join(dir, "one"), filepath.Join(dir, "two")); err != nil {
			t.Fatal(err)
		}
		moved := newTestLake(t, store, localObjects(t, filepath.Join(dir, "two")), filepath.Join(dir, "state-two"))
		checkHistory(t, moved, first)
		mustWrite(t, moved, "main", "bronze.t", "SELECT 100 AS id", WriteOptions{})
		if n := queryInt(t, moved, "main", At{}, "SELECT count(*) FROM bronze.t"); n != 16 {
			t.Fatalf("after a write at the new place: %d rows, want 16", n)
		}
	})
	t.Run("s3", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		env := testenv.S3(t)
		store, err := postgres.Open(ctx, testenv.Postgres(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		bucket := func(prefix string) *objstore.S3 {
			s, err := objstore.NewS3(ctx, objstore.S3Config{
				Endpoint: env.Endpoint, Region: env.Region, AccessKey: env.AccessKey, SecretKey: env.SecretKey,
				Bucket: env.Bucket, Prefix: env.Prefix + prefix,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.EnsureBucket(ctx); err != nil {
				t.Fatal(err)
			}
			return s
		}
		from, to := bucket("one"), bucket("two")
		l := newTestLake(t, store, from, t.TempDir())
		first := history(t, l)
		// Copy every object to the new prefix, then remove the old ones: the
		// copy must read nothing at the old place.
		infos, err := from.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range infos {
			f, err := from.Open(ctx, info.Key)
			if err != nil {
				t.Fatal(err)
			}
			err = to.Put(ctx, info.Key, f, info.Size)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := from.Delete(ctx, info.Key); err != nil {
				t.Fatal(err)
			}
		}
		moved := newTestLake(t, store, to, t.TempDir())
		checkHistory(t, moved, first)
		mustWrite(t, moved, "main", "bronze.t", "SELECT 100 AS id", WriteOptions{})
		if n := queryInt(t, moved, "main", At{}, "SELECT count(*) FROM bronze.t"); n != 16 {
			t.Fatalf("after a write at the new place: %d rows, want 16", n)
		}
		if left, err := from.List(ctx, ""); err != nil || len(left) != 0 {
			t.Fatalf("the write put %d object(s) at the old prefix (%v)", len(left), err)
		}
	})
}

// TestMetadataNamesAcrossBranches: two branches committing the same table
// from the same base write metadata files of different names, and the
// catalog records them relative to the warehouse root.
func TestMetadataNamesAcrossBranches(t *testing.T) {
	backends(t, func(t *testing.T, l *Lake) {
		ctx := context.Background()
		mustWrite(t, l, "main", "bronze.t", "SELECT 1 AS id", WriteOptions{})
		head := headOf(t, l, "main")
		for _, b := range []string{"a", "b"} {
			if err := l.Store().CreateRef(ctx, rat.Ref{Name: b, Kind: rat.Branch, Head: head}); err != nil {
				t.Fatal(err)
			}
		}
		mustWrite(t, l, "a", "bronze.t", "SELECT 2 AS id", WriteOptions{})
		mustWrite(t, l, "b", "bronze.t", "SELECT 3 AS id", WriteOptions{})
		id := rat.TableID{Layer: "bronze", Name: "t"}
		ea, err := l.Store().Table(ctx, "a", id)
		if err != nil {
			t.Fatal(err)
		}
		eb, err := l.Store().Table(ctx, "b", id)
		if err != nil {
			t.Fatal(err)
		}
		if path.Base(ea.Metadata) == path.Base(eb.Metadata) {
			t.Fatalf("both branches wrote %s", path.Base(ea.Metadata))
		}
		for _, m := range []string{ea.Metadata, eb.Metadata} {
			if strings.Contains(m, ":") || !strings.HasPrefix(m, "bronze/t/metadata/") {
				t.Errorf("recorded location %q, want one relative to the warehouse root", m)
			}
		}
		if a, b := queryInt(t, l, "a", At{}, "SELECT sum(id) FROM bronze.t"), queryInt(t, l, "b", At{}, "SELECT sum(id) FROM bronze.t"); a != 3 || b != 4 {
			t.Fatalf("branch a sums %d, b %d; want 3 and 4", a, b)
		}
	})
}

// TestOutsideReader: iceberg-go's own file IO and scan (no rat code)
// read a rat table where it lies, from the full location of its metadata.
func TestOutsideReader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLocalLake(t)
	mustWrite(t, l, "main", "bronze.t", "SELECT range AS id, 'x' || range AS s FROM range(7)", WriteOptions{})
	mustWrite(t, l, "main", "bronze.t", "SELECT 7 AS id, 'y' AS s", WriteOptions{})
	e, err := l.Store().Table(ctx, "main", rat.TableID{Layer: "bronze", Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	loc := e.Metadata
	if !strings.Contains(loc, "://") {
		loc = l.objects.URL(loc) // recorded relative to the warehouse root
	}
	if !strings.HasPrefix(loc, "file:///") {
		t.Fatalf("resolved location %q", loc)
	}
	tbl, err := table.NewFromLocation(ctx, table.Identifier{"bronze", "t"}, loc, icebergio.LoadFSFunc(nil, loc), catalog.NewIceberg(l.Store(), catalog.IcebergConfig{Ref: "main"}))
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 2 {
		t.Fatalf("planned %d files, want 2", len(tasks))
	}
	arrow, err := tbl.Scan().ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer arrow.Release()
	if arrow.NumRows() != 8 || arrow.NumCols() != 2 {
		t.Fatalf("iceberg-go read %d rows, %d columns; want 8, 2", arrow.NumRows(), arrow.NumCols())
	}
}
