package migrate

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/testenv"
)

// sourceWarehouse fills a local store with files shaped like a warehouse's:
// a few small metadata files, a data file of several MiB, the roots list.
func sourceWarehouse(t *testing.T) *objstore.Local {
	t.Helper()
	src, err := objstore.NewLocal(filepath.Join(t.TempDir(), "src"))
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 5<<20+123)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"bronze/sales/data/00000-big.parquet":                big,
		"bronze/sales/metadata/00001-a.metadata.json":        []byte(`{"format-version":2}`),
		"bronze/sales/metadata/snap-1-manifest-list.bin":     []byte("avro list"),
		"gold/v/views/0001.view.json":                        []byte(`{"sql":"SELECT 1"}`),
		objstore.RootsKey:                                    []byte(`{"roots":["file:///old"]}`),
		"bronze/sales/data/00001-empty.parquet":              {},
		"silver/orders/metadata/00002-b-m0.bin":              bytes.Repeat([]byte("m"), 70000),
		"silver/orders/data/00000-deletes-position.parquet":  []byte("deletes"),
		"silver/orders/metadata/00003-c.metadata.json":       []byte(`{"format-version":2,"v":3}`),
		"_landing/orders/2030-01-01.csv":                     []byte("id\n1\n"),
		"silver/orders/data/00002-another-data-file.parquet": bytes.Repeat([]byte{1, 2, 3}, 40000),
		"silver/orders/metadata/00004-d.metadata.json":       []byte(`{}`),
		"silver/orders/metadata/snap-9-1-manifest-list.bin":  []byte("list 9"),
		"silver/orders/metadata/snap-10-1-manifest-list.bin": []byte("list 10"),
	}
	for k, v := range files {
		if err := src.Put(context.Background(), k, bytes.NewReader(v), int64(len(v))); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// sums maps every key of a store to its SHA-256.
func sums(t *testing.T, s objstore.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	infos, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, i := range infos {
		f, err := s.Open(ctx, i.Key)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		out[i.Key] = hex.EncodeToString(h.Sum(nil))
	}
	return out
}

// migrateFiles runs the files phase alone.
func migrateFiles(t *testing.T, src, dst objstore.Store) (*Report, error) {
	t.Helper()
	return Run(context.Background(), Options{
		Source: Side{Warehouse: src}, Target: Side{Warehouse: dst}, Files: true, Workers: 3, DryRun: false,
	})
}

func sameFiles(t *testing.T, src, dst objstore.Store) {
	t.Helper()
	want, got := sums(t, src), sums(t, dst)
	delete(want, MarkerKey)
	if got[MarkerKey] == "" {
		t.Errorf("the target has no %s", MarkerKey)
	}
	delete(got, MarkerKey)
	for k := range got {
		if strings.HasPrefix(k, JournalPrefix) {
			delete(got, k)
		}
	}
	if len(got) != len(want) {
		t.Errorf("the target holds %d files, the source %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: target SHA-256 %q, source %q", k, got[k], w)
		}
	}
}

// TestCopyFilesResumes: every file is copied with the same bytes; a rerun
// copies nothing; a target file with other bytes (same size or not) is
// replaced; the source never changes.
func TestCopyFilesResumes(t *testing.T) {
	ctx := context.Background()
	src := sourceWarehouse(t)
	before := sums(t, src)
	dst, err := objstore.NewLocal(filepath.Join(t.TempDir(), "dst"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := migrateFiles(t, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files.Copied != int64(len(before)) || rep.Files.Skipped != 0 || rep.Files.Resumed {
		t.Fatalf("first run: %+v, want %d copied", rep.Files, len(before))
	}
	sameFiles(t, src, dst)

	rep, err = migrateFiles(t, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files.Copied != 0 || rep.Files.Skipped != int64(len(before)) || rep.Files.Trusted != int64(len(before)) || !rep.Files.Resumed {
		t.Fatalf("rerun: %+v, want every file skipped unread (the journal records them)", rep.Files)
	}
	// Without the journal every file is read on both sides and compared.
	for _, i := range mustListPrefix(t, dst, JournalPrefix) {
		if err := dst.Delete(ctx, i.Key); err != nil {
			t.Fatal(err)
		}
	}
	rep, err = migrateFiles(t, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files.Copied != 0 || rep.Files.Skipped != int64(len(before)) || rep.Files.Trusted != 0 {
		t.Fatalf("rerun without the journal: %+v, want every file compared and skipped", rep.Files)
	}

	// A file with other bytes of the same size, a truncated one, a missing one.
	bad := []byte(`{"format-version":9}`)
	if err := dst.Put(ctx, "bronze/sales/metadata/00001-a.metadata.json", bytes.NewReader(bad), int64(len(bad))); err != nil {
		t.Fatal(err)
	}
	if err := dst.Put(ctx, "bronze/sales/data/00000-big.parquet", strings.NewReader("short"), 5); err != nil {
		t.Fatal(err)
	}
	if err := dst.Delete(ctx, objstore.RootsKey); err != nil {
		t.Fatal(err)
	}
	rep, err = migrateFiles(t, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files.Copied != 3 || rep.Files.CopiedBytes != 20+5<<20+123+int64(len(`{"roots":["file:///old"]}`)) {
		t.Fatalf("after damage: %+v, want the 3 damaged files copied", rep.Files)
	}
	sameFiles(t, src, dst)
	after := sums(t, src)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("the source's %s changed", k)
		}
	}
	if len(after) != len(before) {
		t.Errorf("the source holds %d files, had %d", len(after), len(before))
	}
}

// TestCheckTarget: the source itself, a place inside it or holding it, a
// non-empty place, or a partial copy of another source is refused, each
// with its own message; nothing is written at a refused target.
func TestCheckTarget(t *testing.T) {
	ctx := context.Background()
	src := sourceWarehouse(t)
	local := func(dir string) *objstore.Local {
		s, err := objstore.NewLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	other := local(filepath.Join(t.TempDir(), "other"))
	if err := other.Put(ctx, "notes.txt", strings.NewReader("hi"), 2); err != nil {
		t.Fatal(err)
	}
	foreign := local(filepath.Join(t.TempDir(), "foreign"))
	if err := writeMarker(ctx, foreign, marker{Format: markerFormat, Source: root(other)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		dst  objstore.Store
		code string
		want string
	}{
		{"same", local(src.Root()), rat.EINVALID, "is the source warehouse"},
		{"inside", local(filepath.Join(src.Root(), "sub")), rat.EINVALID, "lies inside the source warehouse"},
		{"holds", local(filepath.Dir(src.Root())), rat.EINVALID, "holds the source warehouse"},
		{"not empty", other, rat.ECONFLICT, "is not empty (1 objects, such as notes.txt)"},
		{"another migration", foreign, rat.ECONFLICT, "holds a migration from " + other.URL("")[:len(other.URL(""))-1]},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := sums(t, c.dst)
			_, err := migrateFiles(t, src, c.dst)
			if err == nil || rat.ErrorCode(err) != c.code || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v (%s), want %s mentioning %q", err, rat.ErrorCode(err), c.code, c.want)
			}
			if c.name != "holds" && c.name != "inside" {
				if after := sums(t, c.dst); len(after) != len(before) {
					t.Fatalf("the refused target went from %d to %d files", len(before), len(after))
				}
			}
		})
	}
}

// TestDryRunWritesNothing: a dry run counts the files and bytes and leaves
// the target empty.
func TestDryRunWritesNothing(t *testing.T) {
	src := sourceWarehouse(t)
	dst, err := objstore.NewLocal(filepath.Join(t.TempDir(), "dst"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Options{Source: Side{Warehouse: src}, Target: Side{Warehouse: dst}, Files: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, i := range mustList(t, src) {
		total += i.Size
	}
	if rep.Files.Files != int64(len(mustList(t, src))) || rep.Files.Bytes != total || rep.EstimateSeconds <= 0 {
		t.Fatalf("dry run: %+v estimate %v, want %d bytes", rep.Files, rep.EstimateSeconds, total)
	}
	if n := len(mustList(t, dst)); n != 0 {
		t.Fatalf("a dry run wrote %d objects", n)
	}
}

func mustList(t *testing.T, s objstore.Store) []objstore.Info {
	t.Helper()
	l, err := s.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestCopyFilesToS3: local → MinIO, then a rerun skips every file, and an
// object with other bytes at the target is replaced.
func TestCopyFilesToS3(t *testing.T) {
	env := testenv.S3(t)
	ctx := context.Background()
	dst, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: env.Endpoint, Region: env.Region,
		AccessKey: env.AccessKey, SecretKey: env.SecretKey, Bucket: env.Bucket, Prefix: env.Prefix, PathStyle: "path"})
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	src := sourceWarehouse(t)
	if _, err := migrateFiles(t, src, dst); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, src, dst)
	if err := dst.Put(ctx, "silver/orders/metadata/00004-d.metadata.json", strings.NewReader("{!"), 2); err != nil {
		t.Fatal(err)
	}
	rep, err := migrateFiles(t, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files.Copied != 1 || rep.Files.Skipped != int64(len(mustList(t, src))-1) {
		t.Fatalf("rerun: %+v, want 1 copied and the rest skipped", rep.Files)
	}
	sameFiles(t, src, dst)
}

// TestCatchUp: a catch-up pass copies what the source gained since the
// finished pass and skips the rest unread (the journal records them
// unchanged on both sides); a file changed in place at the source
// (rat-warehouse.json) is read and copied again, and then recorded too;
// without a finished pass
// it is refused.
func TestCatchUp(t *testing.T) {
	ctx := context.Background()
	src := sourceWarehouse(t)
	dst, err := objstore.NewLocal(filepath.Join(t.TempDir(), "dst"))
	if err != nil {
		t.Fatal(err)
	}
	catchUp := func() (*Report, error) {
		return Run(ctx, Options{Source: Side{Warehouse: src}, Target: Side{Warehouse: dst}, Files: true, CatchUp: true})
	}
	if _, err := catchUp(); !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), "no finished pass") {
		t.Fatalf("catch-up before any pass: %v", err)
	}
	if _, err := migrateFiles(t, src, dst); err != nil {
		t.Fatal(err)
	}
	if err := src.Put(ctx, "gold/new/data/0001.parquet", strings.NewReader("new rows"), 8); err != nil {
		t.Fatal(err)
	}
	roots := `{"roots":["file:///old","file:///older"]}`
	if err := src.Put(ctx, objstore.RootsKey, strings.NewReader(roots), int64(len(roots))); err != nil {
		t.Fatal(err)
	}
	rep, err := catchUp()
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(mustList(t, src)))
	// The new file and rat-warehouse.json are copied; the 3 metadata JSON
	// files are rewritten again (the roots changed) and compared with the
	// journal's sums; the rest is trusted.
	if rep.Files.Copied != 2 || rep.Files.Trusted != n-5 || rep.Files.Skipped != n-2 {
		t.Fatalf("catch-up: %+v, want 2 copied, %d trusted", rep.Files, n-5)
	}
	rep, err = catchUp()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files.Copied != 0 || rep.Files.Trusted != n {
		t.Fatalf("second catch-up: %+v, want all %d trusted", rep.Files, n)
	}
	sameFiles(t, src, dst)
}

// TestJournal: records written object by object are read back by a rerun,
// merged into one object when a pass leaves too many, later records win;
// a journal object this version cannot read is refused, naming what to
// remove.
func TestJournal(t *testing.T) {
	ctx := context.Background()
	dst, err := objstore.NewLocal(filepath.Join(t.TempDir(), "dst"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := loadJournal(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	n := journalCompactAt + 3
	for i := range n {
		j.put("x"+strings.Repeat("x", i), FileSum{Size: int64(i), SHA256: "old"})
		j.put("k", FileSum{Size: int64(i), SHA256: "v" + string(rune('a'+i))})
		if err := j.flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(mustListPrefix(t, dst, JournalPrefix)); got != n {
		t.Fatalf("%d journal objects after %d flushes", got, n)
	}
	if err := j.compact(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(mustListPrefix(t, dst, JournalPrefix)); got != 1 {
		t.Fatalf("%d journal objects after compact, want 1", got)
	}
	again, err := loadJournal(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := again.get("k"); !ok || s.SHA256 != "v"+string(rune('a'+n-1)) || len(again.sums()) != n+1 {
		t.Fatalf("reloaded: %v %v, %d records, want the last of %d", s, ok, len(again.sums()), n+1)
	}
	if err := dst.Put(ctx, journalKey(99), strings.NewReader("{"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := loadJournal(ctx, dst); !rat.IsCode(err, rat.ECONFLICT) || !strings.Contains(err.Error(), "remove "+JournalPrefix) {
		t.Fatalf("a damaged journal: %v", err)
	}
}

func mustListPrefix(t *testing.T, s objstore.Store, prefix string) []objstore.Info {
	t.Helper()
	l, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
