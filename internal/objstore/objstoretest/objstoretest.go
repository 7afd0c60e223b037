// Package objstoretest is the conformance suite every objstore.Store passes.
// A backend's test calls Run with a factory that returns a fresh, empty store
// (a temp directory, a unique bucket prefix).
package objstoretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	icebergio "github.com/apache/iceberg-go/io"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/objstore"
)

// Run runs the conformance suite. newStore must return a new empty store
// each time it is called; subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) objstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s objstore.Store)
	}{
		{"PutGetRoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"Stat", testStat},
		{"ListPrefixSorted", testList},
		{"Delete", testDelete},
		{"MissingKey", testMissing},
		{"URLKeyRoundTrip", testURLKey},
		{"InvalidKey", testInvalidKey},
		{"ConcurrentPutsSameKey", testConcurrentPuts},
		{"ShortReaderPublishesNothing", testShortReader},
		{"LargeObject", testLarge},
		{"PutFile", testPutFile},
		{"EmptyObject", testEmpty},
		{"IcebergIO", testIcebergIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// payload returns n deterministic pseudo-random bytes.
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

func put(t *testing.T, s objstore.Store, key string, b []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
}

// Get reads key from s whole, failing the test on an error.
func Get(t testing.TB, s objstore.Store, key string) []byte {
	t.Helper()
	f, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	if int64(len(b)) != f.Size() {
		t.Errorf("%s: read %d bytes, Size() = %d", key, len(b), f.Size())
	}
	return b
}

func testRoundTrip(t *testing.T, s objstore.Store) {
	want := payload(100_000, 1)
	put(t, s, "bronze/sales/data/00001.parquet", want)
	f, err := s.Open(context.Background(), "bronze/sales/data/00001.parquet")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer f.Close()
	if f.Size() != int64(len(want)) {
		t.Errorf("Size() = %d, want %d", f.Size(), len(want))
	}
	buf := make([]byte, 1000)
	if n, err := f.ReadAt(buf, 5000); err != nil || n != 1000 || !bytes.Equal(buf, want[5000:6000]) {
		t.Errorf("ReadAt(1000 bytes at 5000) = %d, %v; bytes match: %v", n, err, bytes.Equal(buf[:n], want[5000:5000+n]))
	}
	// A read across the end returns what exists and io.EOF.
	n, err := f.ReadAt(buf, int64(len(want)-10))
	if n != 10 || err != io.EOF || !bytes.Equal(buf[:10], want[len(want)-10:]) {
		t.Errorf("ReadAt across the end = %d, %v; want 10, io.EOF", n, err)
	}
	if off, err := f.Seek(-100, io.SeekEnd); err != nil || off != int64(len(want)-100) {
		t.Fatalf("Seek(-100, end) = %d, %v", off, err)
	}
	tail, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(tail, want[len(want)-100:]) {
		t.Errorf("read after Seek(-100, end): %d bytes, %v; want the last 100 bytes", len(tail), err)
	}
	if off, err := f.Seek(42, io.SeekStart); err != nil || off != 42 {
		t.Fatalf("Seek(42, start) = %d, %v", off, err)
	}
	rest, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(rest, want[42:]) {
		t.Errorf("read after Seek(42, start): %d bytes, %v; want %d bytes from offset 42", len(rest), err, len(want)-42)
	}
}

func testOverwrite(t *testing.T, s objstore.Store) {
	put(t, s, "meta/v.json", []byte("first version, longer than the second"))
	put(t, s, "meta/v.json", []byte("second"))
	if got := Get(t, s, "meta/v.json"); string(got) != "second" {
		t.Errorf("after overwrite: %q, want %q", got, "second")
	}
}

func testStat(t *testing.T, s objstore.Store) {
	put(t, s, "a/b.bin", payload(1234, 2))
	info, err := s.Stat(context.Background(), "a/b.bin")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Key != "a/b.bin" || info.Size != 1234 || info.ModTime.IsZero() {
		t.Errorf("Stat = %+v, want key a/b.bin, size 1234 and a modification time", info)
	}
	// A "directory" is not an object.
	if _, err := s.Stat(context.Background(), "a"); !rat.IsCode(err, rat.ENOTFOUND) {
		t.Errorf("Stat of a key prefix: %v, want ENOTFOUND", err)
	}
}

func testList(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	keys := []string{"b", "a/c/d", "ab", "a.b", "a/b", "a/c/e/f", "z/y"}
	for i, k := range keys {
		put(t, s, k, payload(i+1, uint64(i)))
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a.b", "a/b", "a/c/d", "a/c/e/f", "ab", "b", "z/y"}},
		{"a/", []string{"a/b", "a/c/d", "a/c/e/f"}},
		{"a", []string{"a.b", "a/b", "a/c/d", "a/c/e/f", "ab"}},
		{"a/c/", []string{"a/c/d", "a/c/e/f"}},
		{"a/c/e", []string{"a/c/e/f"}},
		{"nothing/", nil},
	}
	for _, c := range cases {
		infos, err := s.List(ctx, c.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", c.prefix, err)
		}
		var got []string
		for _, in := range infos {
			got = append(got, in.Key)
			if in.Size <= 0 || in.ModTime.IsZero() {
				t.Errorf("List(%q): %+v lacks size or time", c.prefix, in)
			}
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("List(%q) = %v, want %v", c.prefix, got, c.want)
		}
	}
	if _, err := s.List(ctx, "../"); !rat.IsCode(err, rat.EINVALID) {
		t.Errorf("List(../): %v, want EINVALID", err)
	}
}

func testDelete(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	put(t, s, "d/x", []byte("x"))
	put(t, s, "d/y", []byte("y"))
	if err := s.Delete(ctx, "d/x"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Stat(ctx, "d/x"); !rat.IsCode(err, rat.ENOTFOUND) {
		t.Errorf("Stat after Delete: %v, want ENOTFOUND", err)
	}
	if infos, _ := s.List(ctx, "d/"); len(infos) != 1 || infos[0].Key != "d/y" {
		t.Errorf("List after Delete = %+v, want only d/y", infos)
	}
	if err := s.Delete(ctx, "d/x"); err != nil {
		t.Errorf("Delete of a missing key: %v, want nil", err)
	}
	if err := s.Delete(ctx, "never/existed"); err != nil {
		t.Errorf("Delete of a never-written key: %v, want nil", err)
	}
}

func testMissing(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	_, openErr := s.Open(ctx, "no/such/key.parquet")
	_, statErr := s.Stat(ctx, "no/such/key.parquet")
	for op, err := range map[string]error{"Open": openErr, "Stat": statErr} {
		if !rat.IsCode(err, rat.ENOTFOUND) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s of a missing key: %v (code %s), want ENOTFOUND wrapping fs.ErrNotExist", op, err, rat.ErrorCode(err))
		}
		if err != nil && !strings.Contains(err.Error(), "no/such/key.parquet") {
			t.Errorf("%s error %q does not name the key", op, err)
		}
	}
}

func testURLKey(t *testing.T, s objstore.Store) {
	for _, key := range []string{"x", "bronze/sales/metadata/00001-abc.metadata.json", "a b/c=1/d.parquet"} {
		u := s.URL(key)
		if !strings.Contains(u, "://") {
			t.Errorf("URL(%q) = %q, want an absolute location", key, u)
		}
		if got, ok := s.Key(u); !ok || got != key {
			t.Errorf("Key(URL(%q)) = %q, %v; want the key back", key, got, ok)
		}
	}
	base := strings.TrimSuffix(s.URL("k"), "/k")
	for _, loc := range []string{
		base + "-sibling/k",   // shares the root as a string prefix only
		base + "/../k",        // escapes the root
		base + "/",            // the root itself
		"gs://elsewhere/k",    // another scheme
		"relative/path/k",     // not a location
		base + "/a/../../k",   // escapes through a subdirectory
		base + "/.tmp-123abc", // a temp file name
	} {
		if got, ok := s.Key(loc); ok {
			t.Errorf("Key(%q) = %q, true; want false (outside the store)", loc, got)
		}
	}
}

func testInvalidKey(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	for _, key := range []string{"", "/abs", "../x", "a/../b", "a//b", "a/", "./a", "a/.", `a\b`, "a/.tmp-x"} {
		err := s.Put(ctx, key, strings.NewReader("x"), 1)
		if !rat.IsCode(err, rat.EINVALID) {
			t.Errorf("Put(%q): %v, want EINVALID", key, err)
			continue
		}
		if key != "" && !strings.Contains(err.Error(), strconv.Quote(key)) {
			t.Errorf("Put(%q): error %q does not name the key", key, err)
		}
		if _, err := s.Open(ctx, key); !rat.IsCode(err, rat.EINVALID) {
			t.Errorf("Open(%q): %v, want EINVALID", key, err)
		}
		if _, err := s.Stat(ctx, key); !rat.IsCode(err, rat.EINVALID) {
			t.Errorf("Stat(%q): %v, want EINVALID", key, err)
		}
		if err := s.Delete(ctx, key); !rat.IsCode(err, rat.EINVALID) {
			t.Errorf("Delete(%q): %v, want EINVALID", key, err)
		}
	}
	if infos, err := s.List(ctx, ""); err != nil || len(infos) != 0 {
		t.Errorf("after invalid puts, List = %+v, %v; want nothing written", infos, err)
	}
}

func testConcurrentPuts(t *testing.T, s objstore.Store) {
	const writers, size = 8, 1 << 20
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			b := bytes.Repeat([]byte{byte('A' + i)}, size)
			errs[i] = s.Put(context.Background(), "race/obj", bytes.NewReader(b), size)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	got := Get(t, s, "race/obj")
	if len(got) != size {
		t.Fatalf("after concurrent puts: %d bytes, want %d", len(got), size)
	}
	if n := bytes.Count(got, got[:1]); n != size {
		t.Errorf("after concurrent puts: object mixes writers (%d of %d bytes are %q)", n, size, got[:1])
	}
	if infos, _ := s.List(context.Background(), ""); len(infos) != 1 {
		t.Errorf("after concurrent puts List = %+v, want one object and no temp files", infos)
	}
}

func testShortReader(t *testing.T, s objstore.Store) {
	// The reader ends before the announced size: the put fails and
	// publishes nothing. Seekable readers can be checked up front; a stream
	// (io.MultiReader hides Seek) fails during the upload.
	for name, r := range map[string]io.Reader{
		"seekable": strings.NewReader("only 12 byte"),
		"stream":   io.MultiReader(strings.NewReader("only 12 byte")),
	} {
		key := "short/" + name
		err := s.Put(context.Background(), key, r, 100)
		if err == nil {
			t.Errorf("Put with a short %s reader: nil error, want one", name)
			continue
		}
		if rat.IsCode(err, rat.EUNAVAILABLE) {
			t.Errorf("Put with a short %s reader: %v; a caller's bug must not read as an outage", name, err)
		}
		if _, err := s.Stat(context.Background(), key); !rat.IsCode(err, rat.ENOTFOUND) {
			t.Errorf("Stat after a failed Put (%s): %v, want ENOTFOUND", name, err)
		}
	}
}

func testLarge(t *testing.T, s objstore.Store) {
	want := payload(20<<20+17, 3)
	ctx := context.Background()
	// Known size, then unknown size (a streaming upload).
	for _, size := range []int64{int64(len(want)), -1} {
		if err := s.Put(ctx, "big/obj.parquet", bytes.NewReader(want), size); err != nil {
			t.Fatalf("Put(20 MB, size %d): %v", size, err)
		}
		f, err := s.Open(ctx, "big/obj.parquet")
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil || n != int64(len(want)) || !bytes.Equal(h.Sum(nil), sum(want)) {
			t.Errorf("size %d: read back %d bytes, %v; content matches: %v", size, n, err, bytes.Equal(h.Sum(nil), sum(want)))
		}
		buf := make([]byte, 4096)
		off := int64(len(want) - 5000)
		if _, err := f.ReadAt(buf, off); err != nil || !bytes.Equal(buf, want[off:off+4096]) {
			t.Errorf("size %d: ReadAt near the end: %v", size, err)
		}
		f.Close()
	}
}

func sum(b []byte) []byte { h := sha256.Sum256(b); return h[:] }

func testPutFile(t *testing.T, s objstore.Store) {
	want := payload(300_000, 4)
	p := filepath.Join(t.TempDir(), "local.parquet")
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.PutFile(context.Background(), "silver/x/data/f.parquet", p); err != nil {
		t.Fatalf("PutFile: %v", err)
	}
	// The store holds its own copy.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if got := Get(t, s, "silver/x/data/f.parquet"); !bytes.Equal(got, want) {
		t.Errorf("PutFile round trip: %d bytes, want %d identical bytes", len(got), len(want))
	}
	err := s.PutFile(context.Background(), "silver/x/data/g.parquet", p)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("PutFile of a missing file: %v, want an error naming %s", err, p)
	}
}

func testEmpty(t *testing.T, s objstore.Store) {
	put(t, s, "empty/obj", nil)
	info, err := s.Stat(context.Background(), "empty/obj")
	if err != nil || info.Size != 0 {
		t.Fatalf("Stat(empty) = %+v, %v; want size 0", info, err)
	}
	f, err := s.Open(context.Background(), "empty/obj")
	if err != nil {
		t.Fatalf("Open(empty): %v", err)
	}
	defer f.Close()
	if f.Size() != 0 {
		t.Errorf("Size() = %d, want 0", f.Size())
	}
	if n, err := f.ReadAt(make([]byte, 8), 0); n != 0 || err != io.EOF {
		t.Errorf("ReadAt(empty) = %d, %v; want 0, io.EOF", n, err)
	}
	if b, err := io.ReadAll(f); err != nil || len(b) != 0 {
		t.Errorf("ReadAll(empty) = %q, %v", b, err)
	}
	if infos, _ := s.List(context.Background(), "empty/"); len(infos) != 1 || infos[0].Size != 0 {
		t.Errorf("List(empty/) = %+v, want one empty object", infos)
	}
}

func testIcebergIO(t *testing.T, s objstore.Store) {
	fsys := objstore.IcebergIO(s)
	for _, check := range []func(*testing.T, icebergio.IO, objstore.Store){checkIcebergWrite, checkIcebergReadStat, checkIcebergWalkRemove} {
		check(t, fsys, s)
	}
}

func checkIcebergWrite(t *testing.T, fsys icebergio.IO, s objstore.Store) {
	wfs := fsys.(icebergio.WriteFileIO)
	loc := s.URL("tbl/metadata/00001.metadata.json")
	w, err := wfs.Create(loc)
	if err != nil {
		t.Fatalf("Create(%s): %v", loc, err)
	}
	if _, err := w.Write([]byte(`{"format-version":`)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.(io.ReaderFrom).ReadFrom(strings.NewReader(`2}`)); err != nil {
		t.Fatal(err)
	}
	// Nothing is visible before Close.
	if _, err := s.Stat(context.Background(), "tbl/metadata/00001.metadata.json"); !rat.IsCode(err, rat.ENOTFOUND) {
		t.Errorf("before Close: Stat = %v, want ENOTFOUND", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := Get(t, s, "tbl/metadata/00001.metadata.json"); string(got) != `{"format-version":2}` {
		t.Errorf("after Close: %q", got)
	}
	if err := wfs.WriteFile(s.URL("tbl/data/f.avro"), []byte("avro bytes")); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	if infos, _ := s.List(context.Background(), ""); len(infos) != 2 {
		t.Errorf("after writes List = %+v, want exactly the two files (no temp files)", infos)
	}
	outside := "gs://other-bucket/x.json"
	if _, err := wfs.Create(outside); !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), outside) {
		t.Errorf("Create outside the store: %v, want EINVALID naming %s", err, outside)
	}
}

func checkIcebergReadStat(t *testing.T, fsys icebergio.IO, s objstore.Store) {
	loc := s.URL("tbl/metadata/00001.metadata.json")
	f, err := fsys.Open(loc)
	if err != nil {
		t.Fatalf("Open(%s): %v", loc, err)
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() != 20 || fi.Name() != "00001.metadata.json" || fi.IsDir() {
		t.Errorf("File.Stat() = %v, %v; want a 20-byte file named 00001.metadata.json", fi, err)
	}
	buf := make([]byte, 6)
	if _, err := f.ReadAt(buf, 2); err != nil || string(buf) != "format" {
		t.Errorf("ReadAt = %q, %v", buf, err)
	}
	if _, err := f.Seek(-2, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(f); string(b) != "2}" {
		t.Errorf("read after Seek = %q, want %q", b, "2}")
	}
	f.Close()

	b, err := fsys.(icebergio.ReadFileIO).ReadFile(s.URL("tbl/data/f.avro"))
	if err != nil || string(b) != "avro bytes" {
		t.Errorf("ReadFile = %q, %v", b, err)
	}
	st, err := fsys.(icebergio.StatIO).Stat(s.URL("tbl/data/f.avro"))
	if err != nil || st.Size() != 10 {
		t.Errorf("Stat = %v, %v; want size 10", st, err)
	}
	if _, err := fsys.Open(s.URL("tbl/metadata/missing.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing): %v, want fs.ErrNotExist", err)
	}
	if _, err := fsys.(icebergio.StatIO).Stat(s.URL("tbl/metadata/missing.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(missing): %v, want fs.ErrNotExist", err)
	}
}

func checkIcebergWalkRemove(t *testing.T, fsys icebergio.IO, s objstore.Store) {
	var walked []string
	root := s.URL("tbl")
	err := fsys.(icebergio.ListableIO).WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			walked = append(walked, p)
		}
		return nil
	})
	want := []string{s.URL("tbl/data/f.avro"), s.URL("tbl/metadata/00001.metadata.json")}
	if err != nil || strings.Join(walked, ",") != strings.Join(want, ",") {
		t.Errorf("WalkDir(%s) = %v, %v; want %v", root, walked, err, want)
	}
	if err := fsys.Remove(s.URL("tbl/data/f.avro")); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := fsys.Open(s.URL("tbl/data/f.avro")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after Remove: %v, want fs.ErrNotExist", err)
	}
	deleted, err := fsys.(icebergio.BulkRemovableIO).DeleteFiles(context.Background(),
		[]string{s.URL("tbl/metadata/00001.metadata.json"), s.URL("tbl/data/f.avro")})
	if err != nil || len(deleted) != 2 {
		t.Errorf("DeleteFiles = %v, %v; want both paths (a missing one counts as deleted)", deleted, err)
	}
	if infos, _ := s.List(context.Background(), ""); len(infos) != 0 {
		t.Errorf("after removals List = %+v, want empty", infos)
	}
}
