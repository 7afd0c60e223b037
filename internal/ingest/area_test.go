package ingest_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/objstore/objstoretest"
	"github.com/ratdata/rat/internal/testenv"
)

// countingStore is a real store that counts the objects opened.
type countingStore struct {
	objstore.Store
	opens atomic.Int64
}

func (c *countingStore) Open(ctx context.Context, key string) (objstore.File, error) {
	c.opens.Add(1)
	return c.Store.Open(ctx, key)
}

// landings runs fn on a landing area on local disk and on one in MinIO.
func landings(t *testing.T, fn func(t *testing.T, l *ingest.Landing, store *countingStore)) {
	t.Run("local", func(t *testing.T) {
		t.Parallel()
		s, err := objstore.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		cs := &countingStore{Store: s}
		fn(t, &ingest.Landing{Store: cs, TmpDir: t.TempDir()}, cs)
	})
	t.Run("s3", func(t *testing.T) {
		t.Parallel()
		env := testenv.S3(t)
		s, err := objstore.NewS3(context.Background(), objstore.S3Config{
			Endpoint: env.Endpoint, Region: env.Region, AccessKey: env.AccessKey, SecretKey: env.SecretKey,
			Bucket: env.Bucket, Prefix: env.Prefix + "_landing/", PathStyle: "path",
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.EnsureBucket(context.Background()); err != nil {
			t.Fatal(err)
		}
		cs := &countingStore{Store: s}
		fn(t, &ingest.Landing{Store: cs, TmpDir: t.TempDir(), Where: s.URL("")}, cs)
	})
}

// brokenReader gives some bytes, then fails.
type brokenReader struct{ sent bool }

func (b *brokenReader) Read(p []byte) (int, error) {
	if b.sent {
		return 0, errors.New("connection reset")
	}
	b.sent = true
	return copy(p, "id\n1\n2\n"), nil
}

// TestLandingUpload: an upload streams into place whole; one over its cap
// or one whose source breaks off fails and leaves the old file (or none);
// bad zone and file names are refused.
func TestLandingUpload(t *testing.T) {
	landings(t, func(t *testing.T, l *ingest.Landing, _ *countingStore) {
		ctx := context.Background()
		n, err := l.Upload(ctx, "orders", "a.csv", strings.NewReader("id\n1\n"), 5)
		if err != nil || n != 5 {
			t.Fatalf("an upload of exactly the cap: %d, %v", n, err)
		}
		if _, err := l.Upload(ctx, "orders", "a.csv", strings.NewReader("id\n1\n2\n"), 5); !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), "larger than the landing upload limit of 5 B") {
			t.Fatalf("an upload over the cap: %v", err)
		}
		if got := string(objstoretest.Get(t, l.Store, "orders/a.csv")); got != "id\n1\n" {
			t.Fatalf("an upload over the cap replaced the file: %q", got)
		}
		if _, err := l.Upload(ctx, "orders", "b.csv", &brokenReader{}, 0); err == nil || !strings.Contains(err.Error(), "connection reset") {
			t.Fatalf("a broken source: %v", err)
		}
		if _, err := l.Store.Stat(ctx, "orders/b.csv"); !rat.IsCode(err, rat.ENOTFOUND) {
			t.Fatalf("a broken upload left orders/b.csv: %v", err)
		}
		entries, err := l.List(ctx, "")
		if err != nil || len(entries) != 1 || entries[0].Zone != "orders" || entries[0].Name != "a.csv" || entries[0].Size != 5 {
			t.Fatalf("List: %+v, %v", entries, err)
		}
		for _, c := range []struct{ zone, name, want string }{
			{"../x", "a.csv", "plain name"},
			{"orders/x", "a.csv", "plain name"},
			{"/abs", "a.csv", "plain name"},
			{"_rat", "a.csv", "reserved"},
			{".tmp-1", "a.csv", "reserved"},
			{"orders", "../a.csv", "no directories"},
			{"orders", ".a.csv", "not hidden"},
			{"orders", "a.exe", "rat reads"},
		} {
			if _, err := l.Upload(ctx, c.zone, c.name, strings.NewReader("x"), 0); !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("upload %s/%s: %v, want %q", c.zone, c.name, err, c.want)
			}
		}
		if err := l.Remove(ctx, "orders", "missing.csv"); !rat.IsCode(err, rat.ENOTFOUND) {
			t.Fatalf("removing a missing file: %v", err)
		}
		if err := l.Remove(ctx, "orders", "a.csv"); err != nil {
			t.Fatal(err)
		}
		if entries, _ := l.List(ctx, "orders"); len(entries) != 0 {
			t.Fatalf("after Remove: %+v", entries)
		}
	})
}

// TestLandingFilesRemembersHashes: listing a zone again reads no file that
// has not changed (a sensor lists every second); a changed file is read
// again and gets its new hash.
func TestLandingFilesRemembersHashes(t *testing.T) {
	landings(t, func(t *testing.T, l *ingest.Landing, store *countingStore) {
		ctx := context.Background()
		if _, err := l.Upload(ctx, "orders", "a.csv", strings.NewReader("id\n1\n"), 0); err != nil {
			t.Fatal(err)
		}
		// Reads on a local store go straight to the file, not through
		// Open: count the hashes' changes and, on S3, the downloads.
		first, err := l.Files(ctx, "orders")
		if err != nil || len(first) != 1 {
			t.Fatalf("Files: %+v, %v", first, err)
		}
		opened := store.opens.Load()
		for range 3 {
			again, err := l.Files(ctx, "orders")
			if err != nil || len(again) != 1 || again[0].Hash != first[0].Hash || again[0].Local != first[0].Local {
				t.Fatalf("Files again: %+v, %v", again, err)
			}
		}
		if got := store.opens.Load(); got != opened {
			t.Fatalf("listing an unchanged zone opened %d more object(s)", got-opened)
		}
		if _, err := l.Upload(ctx, "orders", "a.csv", strings.NewReader("id\n1\n2\n"), 0); err != nil {
			t.Fatal(err)
		}
		changed, err := l.Files(ctx, "orders")
		if err != nil || len(changed) != 1 || changed[0].Hash == first[0].Hash || changed[0].Size != 7 {
			t.Fatalf("Files after a change: %+v, %v", changed, err)
		}
	})
}
