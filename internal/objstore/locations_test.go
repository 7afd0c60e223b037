package objstore_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/objstore/objstoretest"
)

func newLocations(t *testing.T, dir string) *objstore.Locations {
	t.Helper()
	s, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return objstore.NewLocations(s)
}

// Locations is a Store like the one it wraps.
func TestLocationsConformance(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Store { return newLocations(t, t.TempDir()) })
}

func TestLocationsKeyStoredResolve(t *testing.T) {
	t.Parallel()
	l := newLocations(t, t.TempDir())
	root := l.Root()
	if !strings.HasPrefix(root, "file:///") || strings.HasSuffix(root, "/") {
		t.Fatalf("Root = %q", root)
	}
	if objstore.NewLocations(l) != l {
		t.Error("NewLocations of a Locations should be itself")
	}
	for _, c := range []struct {
		loc, key string
		ok       bool
	}{
		{root + "/bronze/a/data/x.parquet", "bronze/a/data/x.parquet", true},
		{"bronze/a/metadata/00001-x.metadata.json", "", false}, // as the catalog records it: Resolve first
		{"file:///elsewhere/bronze/a/data/x.parquet", "", false},
		{"s3://bucket/bronze/a/data/x.parquet", "", false},
	} {
		key, ok := l.Key(c.loc)
		if key != c.key || ok != c.ok {
			t.Errorf("Key(%q) = %q, %v; want %q, %v", c.loc, key, ok, c.key, c.ok)
		}
	}
	full := root + "/bronze/a/metadata/00001-x.metadata.json"
	if got := l.Stored(full); got != "bronze/a/metadata/00001-x.metadata.json" {
		t.Errorf("Stored(%q) = %q", full, got)
	}
	if got := l.Resolve(l.Stored(full)); got != full {
		t.Errorf("Resolve(Stored(x)) = %q, want %q", got, full)
	}
	other := "file:///elsewhere/bronze/a/metadata/00001-x.metadata.json"
	if l.Stored(other) != other || l.Resolve(other) != other || l.Resolve("") != "" {
		t.Errorf("a location outside the root should stay as it is: %q %q", l.Stored(other), l.Resolve(other))
	}
}

// TestLocationsMoved: a warehouse directory moved or copied maps the
// locations of every root it had to its files at the new place.
func TestLocationsMoved(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := t.TempDir()
	first := newLocations(t, filepath.Join(base, "one"))
	put(t, first, "bronze/a/data/1.parquet", "one")
	if err := first.Record(ctx); err != nil {
		t.Fatal(err)
	}
	oldLoc := first.URL("bronze/a/data/1.parquet")

	if err := os.Rename(filepath.Join(base, "one"), filepath.Join(base, "two")); err != nil {
		t.Fatal(err)
	}
	second := newLocations(t, filepath.Join(base, "two"))
	if got := read(t, second, oldLoc); got != "one" {
		t.Fatalf("the file written before the move reads %q", got)
	}
	put(t, second, "bronze/a/data/2.parquet", "two")
	if err := second.Record(ctx); err != nil {
		t.Fatal(err)
	}
	midLoc := second.URL("bronze/a/data/2.parquet")

	if err := os.Rename(filepath.Join(base, "two"), filepath.Join(base, "three")); err != nil {
		t.Fatal(err)
	}
	third := newLocations(t, filepath.Join(base, "three"))
	if read(t, third, oldLoc) != "one" || read(t, third, midLoc) != "two" {
		t.Fatal("files of both former places should read at the third")
	}
	// Reading records nothing: only writers do.
	roots := rootsOf(t, filepath.Join(base, "three"))
	if len(roots) != 2 || roots[0] != first.Root() || roots[1] != second.Root() {
		t.Fatalf("roots = %v, want the first two places", roots)
	}
	if err := third.Record(ctx); err != nil {
		t.Fatal(err)
	}
	if roots := rootsOf(t, filepath.Join(base, "three")); len(roots) != 3 || roots[2] != third.Root() {
		t.Fatalf("after Record at the third place roots = %v", roots)
	}
}

// TestLocationsLearn: an older catalog names its root only in the full
// locations it recorded; Learn takes it from there, and Record keeps it.
func TestLocationsLearn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	l := newLocations(t, dir)
	put(t, l, "bronze/a/data/1.parquet", "x")
	old := "file:///gone/ws/.rat/warehouse"
	if _, ok := l.Key(old + "/bronze/a/data/1.parquet"); ok {
		t.Fatal("an unknown root should not map")
	}
	l.LearnFile(old + "/bronze/a/metadata/00003-u.metadata.json")
	if got := read(t, l, old+"/bronze/a/data/1.parquet"); got != "x" {
		t.Fatalf("after LearnFile: %q", got)
	}
	l.Learn("file:///else/bronze/b", "/bronze/b")
	if _, ok := l.Key("file:///else/bronze/a/data/1.parquet"); !ok {
		t.Fatal("after Learn the root should map")
	}
	l.Learn("file:///nope/x", "/bronze/b") // the suffix does not match: nothing learned
	if _, ok := l.Key("file:///nope/bronze/a/data/1.parquet"); ok {
		t.Fatal("a location without the suffix taught a root")
	}
	if err := l.Record(ctx); err != nil {
		t.Fatal(err)
	}
	roots := rootsOf(t, dir)
	if len(roots) != 3 || !contains(roots, old) || !contains(roots, "file:///else") || !contains(roots, l.Root()) {
		t.Fatalf("roots = %v", roots)
	}
	// A new process knows them without learning again.
	if _, ok := newLocations(t, dir).Key(old + "/bronze/a/data/1.parquet"); !ok {
		t.Fatal("a recorded root should map in a new process")
	}
}

func TestLocationsBadRootsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, objstore.RootsKey), []byte("{roots"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := newLocations(t, dir).Record(context.Background())
	if !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), objstore.RootsKey) || !strings.Contains(err.Error(), "fix its JSON") {
		t.Fatalf("err = %v, want EINVALID naming the file and the fix", err)
	}
}

func put(t *testing.T, s objstore.Store, key, content string) {
	t.Helper()
	if err := s.Put(context.Background(), key, strings.NewReader(content), int64(len(content))); err != nil {
		t.Fatal(err)
	}
}

// read reads a location through the store's Key.
func read(t *testing.T, s objstore.Store, loc string) string {
	t.Helper()
	key, ok := s.Key(loc)
	if !ok {
		t.Fatalf("Key(%q) is not in the store", loc)
	}
	f, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func rootsOf(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, objstore.RootsKey))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Roots []string }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Roots
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
