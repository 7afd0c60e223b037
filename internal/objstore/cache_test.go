package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	icebergio "github.com/apache/iceberg-go/io"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/objstore"
)

// remote is a Store that is not on local disk: the test S3 service when
// RAT_TEST_S3_ENDPOINT is set, else a local store with LocalPath hidden. It
// counts Opens (downloads) and can delay them to make callers overlap.
type remote struct {
	objstore.Store
	opens atomic.Int64
	delay time.Duration
}

func (r *remote) Open(ctx context.Context, key string) (objstore.File, error) {
	r.opens.Add(1)
	time.Sleep(r.delay)
	return r.Store.Open(ctx, key)
}

func (r *remote) LocalPath(string) (string, bool) { return "", false }

func newRemote(t *testing.T) *remote {
	t.Helper()
	if os.Getenv("RAT_TEST_S3_ENDPOINT") != "" {
		return &remote{Store: newS3(t)}
	}
	return &remote{Store: newLocal(t)}
}

func newCache(t *testing.T, s objstore.Store, dir string, max int64) *objstore.Cache {
	t.Helper()
	c, err := objstore.NewCache(s, dir, max)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func putBytes(t *testing.T, s objstore.Store, key string, b []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
}

func path(t *testing.T, c *objstore.Cache, key string) string {
	t.Helper()
	p, err := c.Path(context.Background(), key)
	if err != nil {
		t.Fatalf("Path(%s): %v", key, err)
	}
	return p
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestCacheHitsAndMisses(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	want := bytes.Repeat([]byte("0123456789"), 1000)
	putBytes(t, r, "t/data/00001.parquet", want)
	dir := t.TempDir()
	c := newCache(t, r, dir, 1<<20)

	p := path(t, c, "t/data/00001.parquet")
	if c.Misses() != 1 || c.Hits() != 0 {
		t.Errorf("after first Path: misses %d hits %d, want 1 and 0", c.Misses(), c.Hits())
	}
	if filepath.Dir(p) != dir || filepath.Ext(p) != ".parquet" {
		t.Errorf("Path = %s, want a .parquet file in %s", p, dir)
	}
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, want) {
		t.Errorf("cached file: %d bytes, %v; want the object's %d bytes", len(got), err, len(want))
	}
	if p2 := path(t, c, "t/data/00001.parquet"); p2 != p {
		t.Errorf("second Path = %s, want %s", p2, p)
	}
	if c.Misses() != 1 || c.Hits() != 1 || r.opens.Load() != 1 {
		t.Errorf("after second Path: misses %d hits %d opens %d, want 1, 1, 1", c.Misses(), c.Hits(), r.opens.Load())
	}
	if c.Bytes() != int64(len(want)) {
		t.Errorf("Bytes = %d, want %d", c.Bytes(), len(want))
	}
	if des, _ := os.ReadDir(dir); len(des) != 1 {
		t.Errorf("cache directory holds %d files, want 1 (no temp files)", len(des))
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	for _, k := range []string{"a", "b", "c"} {
		putBytes(t, r, k+".parquet", bytes.Repeat([]byte(k), 100))
	}
	c := newCache(t, r, t.TempDir(), 250)
	pa := path(t, c, "a.parquet")
	pb := path(t, c, "b.parquet")
	path(t, c, "a.parquet") // a is now more recent than b
	pc := path(t, c, "c.parquet")
	if exists(pb) || !exists(pa) || !exists(pc) {
		t.Errorf("after a, b, a, c in 250 bytes: a %v, b %v, c %v; want b evicted", exists(pa), exists(pb), exists(pc))
	}
	if c.Bytes() != 200 {
		t.Errorf("Bytes = %d, want 200", c.Bytes())
	}
	path(t, c, "b.parquet")
	if c.Misses() != 4 || c.Bytes() > 250 {
		t.Errorf("b again: misses %d bytes %d, want a fourth download and at most 250 bytes", c.Misses(), c.Bytes())
	}
}

func TestCacheKeepsAnObjectLargerThanItsSize(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	putBytes(t, r, "small", []byte("s"))
	putBytes(t, r, "huge", bytes.Repeat([]byte("h"), 500))
	c := newCache(t, r, t.TempDir(), 100)
	ps := path(t, c, "small")
	ph := path(t, c, "huge")
	if got, err := os.ReadFile(ph); err != nil || len(got) != 500 {
		t.Errorf("the newest file, larger than the cache: %d bytes, %v; want it kept", len(got), err)
	}
	if exists(ps) {
		t.Error("older file kept although the cache is over its size")
	}
}

func TestCacheReindexesOnRestart(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	putBytes(t, r, "old.parquet", bytes.Repeat([]byte("o"), 100))
	putBytes(t, r, "new.parquet", bytes.Repeat([]byte("n"), 100))
	dir := t.TempDir()
	c1 := newCache(t, r, dir, 1000)
	pOld := path(t, c1, "old.parquet")
	pNew := path(t, c1, "new.parquet")
	// Recency survives as modification time.
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(pOld, past, past); err != nil {
		t.Fatal(err)
	}
	// Temp files: a fresh one may be another process's download; an old one
	// is a crash leftover.
	fresh, stale := filepath.Join(dir, ".tmp-fresh"), filepath.Join(dir, ".tmp-stale")
	for _, p := range []string{fresh, stale} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	longAgo := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, longAgo, longAgo); err != nil {
		t.Fatal(err)
	}

	c2 := newCache(t, r, dir, 1000)
	if c2.Bytes() != 200 {
		t.Errorf("restarted cache Bytes = %d, want 200 (temp files not counted)", c2.Bytes())
	}
	if p := path(t, c2, "new.parquet"); p != pNew || c2.Hits() != 1 || c2.Misses() != 0 {
		t.Errorf("restarted cache: Path = %s, hits %d, misses %d; want a hit on %s", p, c2.Hits(), c2.Misses(), pNew)
	}
	if !exists(fresh) || exists(stale) {
		t.Errorf("temp files after restart: fresh %v, stale %v; want only the fresh one kept", exists(fresh), exists(stale))
	}

	// A smaller bound evicts the least recent file at start.
	c3 := newCache(t, r, dir, 150)
	if exists(pOld) || !exists(pNew) || c3.Bytes() != 100 {
		t.Errorf("restart with 150 bytes: old %v, new %v, Bytes %d; want the older file evicted", exists(pOld), exists(pNew), c3.Bytes())
	}
}

func TestCacheConcurrentPathDownloadsOnce(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	want := bytes.Repeat([]byte("x"), 64<<10)
	putBytes(t, r, "hot.parquet", want)
	r.delay = 100 * time.Millisecond
	c := newCache(t, r, t.TempDir(), 1<<20)
	const callers = 10
	paths := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { paths[i], errs[i] = c.Path(context.Background(), "hot.parquet") })
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Errorf("caller %d: %s, %v; want %s", i, paths[i], errs[i], paths[0])
		}
	}
	if r.opens.Load() != 1 || c.Misses() != 1 || c.Hits() != callers-1 {
		t.Errorf("opens %d misses %d hits %d; want 1 download shared by %d callers", r.opens.Load(), c.Misses(), c.Hits(), callers)
	}
	if got, _ := os.ReadFile(paths[0]); !bytes.Equal(got, want) {
		t.Errorf("cached file has %d bytes, want %d", len(got), len(want))
	}
}

func TestCacheMissingKey(t *testing.T) {
	t.Parallel()
	c := newCache(t, newRemote(t), t.TempDir(), 1<<20)
	for range 2 { // the failed download must not leave a stuck in-flight entry
		_, err := c.Path(context.Background(), "no/such.parquet")
		if !rat.IsCode(err, rat.ENOTFOUND) || !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Path(missing) = %v, want ENOTFOUND", err)
		}
	}
	if _, err := c.Path(context.Background(), "../x"); !rat.IsCode(err, rat.EINVALID) {
		t.Errorf("Path(../x) = %v, want EINVALID", err)
	}
}

func TestCacheLocalStoreUsesTheFileItself(t *testing.T) {
	t.Parallel()
	l := newLocal(t)
	putBytes(t, l, "bronze/x.parquet", []byte("data"))
	dir := t.TempDir()
	c := newCache(t, l, dir, 1<<20)
	want, _ := l.LocalPath("bronze/x.parquet")
	if p := path(t, c, "bronze/x.parquet"); p != want {
		t.Errorf("Path = %s, want the store's own file %s", p, want)
	}
	if c.Hits() != 0 || c.Misses() != 0 || c.Bytes() != 0 {
		t.Errorf("hits %d misses %d bytes %d, want no cache activity", c.Hits(), c.Misses(), c.Bytes())
	}
	if _, err := c.Path(context.Background(), "bronze/missing.parquet"); !rat.IsCode(err, rat.ENOTFOUND) {
		t.Errorf("Path(missing) on a local store = %v, want ENOTFOUND", err)
	}
	// Put is the store's PutFile and copies nothing into the cache.
	src := filepath.Join(t.TempDir(), "f.parquet")
	if err := os.WriteFile(src, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(context.Background(), "silver/f.parquet", src); err != nil {
		t.Fatal(err)
	}
	if des, _ := os.ReadDir(dir); len(des) != 0 {
		t.Errorf("cache directory holds %d files for a local store, want none", len(des))
	}
	if b, err := os.ReadFile(filepath.Join(l.Root(), "silver", "f.parquet")); err != nil || string(b) != "new" {
		t.Errorf("Put on a local store wrote %q, %v", b, err)
	}
}

func TestCachePutWritesThrough(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	c := newCache(t, r, t.TempDir(), 1<<20)
	src := filepath.Join(t.TempDir(), "f.parquet")
	if err := os.WriteFile(src, []byte("written once"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(context.Background(), "gold/f.parquet", src); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if info, err := r.Stat(context.Background(), "gold/f.parquet"); err != nil || info.Size != 12 {
		t.Errorf("store after Put: %+v, %v; want the 12-byte object", info, err)
	}
	p := path(t, c, "gold/f.parquet")
	if b, _ := os.ReadFile(p); string(b) != "written once" || c.Misses() != 0 || r.opens.Load() != 0 {
		t.Errorf("read after Put: %q, misses %d, opens %d; want a hit without download", b, c.Misses(), r.opens.Load())
	}
}

func TestCacheSeparatesStores(t *testing.T) {
	t.Parallel()
	r1, r2 := newRemote(t), newRemote(t)
	putBytes(t, r1, "same/key.parquet", []byte("one"))
	putBytes(t, r2, "same/key.parquet", []byte("two"))
	dir := t.TempDir()
	p1 := path(t, newCache(t, r1, dir, 1<<20), "same/key.parquet")
	p2 := path(t, newCache(t, r2, dir, 1<<20), "same/key.parquet")
	b1, _ := os.ReadFile(p1)
	b2, _ := os.ReadFile(p2)
	if p1 == p2 || string(b1) != "one" || string(b2) != "two" {
		t.Errorf("same key in two stores: %s=%q, %s=%q; want separate files", p1, b1, p2, b2)
	}
}

func TestNewCacheRejectsNonPositiveSize(t *testing.T) {
	if _, err := objstore.NewCache(newLocal(t), t.TempDir(), 0); !rat.IsCode(err, rat.EINVALID) {
		t.Errorf("NewCache(size 0) = %v, want EINVALID", err)
	}
}

func TestIcebergIOWithCache(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	c := newCache(t, r, t.TempDir(), 1<<20)
	fsys := objstore.IcebergIOWithCache(r, c)
	putBytes(t, r, "tbl/data/f.parquet", []byte("PAR1 data PAR1"))
	putBytes(t, r, "tbl/metadata/v1.metadata.json", []byte("{}"))

	for range 2 {
		b, err := fsys.(icebergio.ReadFileIO).ReadFile(r.URL("tbl/data/f.parquet"))
		if err != nil || string(b) != "PAR1 data PAR1" {
			t.Fatalf("ReadFile(parquet) = %q, %v", b, err)
		}
	}
	if c.Misses() != 1 || c.Hits() != 1 {
		t.Errorf("two parquet reads: misses %d hits %d, want 1 and 1", c.Misses(), c.Hits())
	}
	// Metadata files are immutable too: cached after the first read.
	for range 2 {
		f, err := fsys.Open(r.URL("tbl/metadata/v1.metadata.json"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if string(b) != "{}" {
			t.Fatalf("metadata read: %q", b)
		}
	}
	if c.Misses() != 2 || c.Hits() != 2 {
		t.Errorf("two metadata reads: misses %d hits %d, want 2 and 2", c.Misses(), c.Hits())
	}
	// Anything else (a mutable hint file, say) is read from the store.
	putBytes(t, r, "tbl/metadata/version-hint.text", []byte("1"))
	f, err := fsys.Open(r.URL("tbl/metadata/version-hint.text"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "1" || c.Misses() != 2 || c.Hits() != 2 {
		t.Errorf("hint read: %q, misses %d hits %d; want it read from the store, not cached", b, c.Misses(), c.Hits())
	}

	// A data file written through the IO is in the cache right away.
	w, err := fsys.(icebergio.WriteFileIO).Create(r.URL("tbl/data/g.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, strings.NewReader("fresh parquet")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	opens := r.opens.Load()
	f, err = fsys.Open(r.URL("tbl/data/g.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(f)
	f.Close()
	if string(b) != "fresh parquet" || r.opens.Load() != opens || c.Misses() != 2 {
		t.Errorf("read after Create: %q, opens %d→%d, misses %d; want a cache hit", b, opens, r.opens.Load(), c.Misses())
	}
}

// A local warehouse behind its location provider (as lake uses it) is
// written in place: a file written through the IO needs no temp directory.
func TestIcebergIOWritesLocalInPlace(t *testing.T) {
	l := newLocal(t)
	c := newCache(t, l, t.TempDir(), 1<<20)
	fsys := objstore.IcebergIOWithCache(objstore.NewLocations(l), c)
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	for _, key := range []string{"tbl/metadata/m1.avro", "tbl/metadata/v1.metadata.json"} {
		w, err := fsys.(icebergio.WriteFileIO).Create(l.URL(key))
		if err != nil {
			t.Fatalf("Create(%s) with no temp directory: %v", key, err)
		}
		if _, err := io.Copy(w, strings.NewReader("bytes of "+key)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close(%s): %v", key, err)
		}
		p, _ := l.LocalPath(key)
		if got, err := os.ReadFile(p); err != nil || string(got) != "bytes of "+key {
			t.Errorf("%s = %q, %v", key, got, err)
		}
	}
}
