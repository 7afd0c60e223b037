package objstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/objstore/objstoretest"
)

func newLocal(t *testing.T) *objstore.Local {
	t.Helper()
	l, err := objstore.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLocal(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Store { return newLocal(t) })
}

func TestLocalURLKeyAndPath(t *testing.T) {
	l := newLocal(t)
	ctx := context.Background()
	if err := l.Put(ctx, "bronze/x.parquet", strings.NewReader("data"), 4); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(l.Root(), "bronze", "x.parquet")
	if got, want := l.URL("bronze/x.parquet"), "file://"+abs; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	for _, loc := range []string{"file://" + abs, abs, "file://localhost" + abs} {
		if key, ok := l.Key(loc); !ok || key != "bronze/x.parquet" {
			t.Errorf("Key(%q) = %q, %v; want bronze/x.parquet", loc, key, ok)
		}
	}
	p, ok := l.LocalPath("bronze/x.parquet")
	if !ok || p != abs {
		t.Fatalf("LocalPath = %q, %v; want %q", p, ok, abs)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "data" {
		t.Errorf("file at LocalPath holds %q, %v", b, err)
	}
	if _, ok := l.LocalPath("../escape"); ok {
		t.Error("LocalPath(../escape) ok, want false")
	}
}

func TestLocalLeavesNoTempFilesAndListSkipsThem(t *testing.T) {
	l := newLocal(t)
	ctx := context.Background()
	for range 3 {
		if err := l.Put(ctx, "d/obj", strings.NewReader("abc"), 3); err != nil {
			t.Fatal(err)
		}
	}
	// A failed put (short reader) must clean up too.
	if err := l.Put(ctx, "d/short", strings.NewReader("ab"), 3); err == nil {
		t.Fatal("short put: nil error")
	}
	des, err := os.ReadDir(filepath.Join(l.Root(), "d"))
	if err != nil {
		t.Fatal(err)
	}
	if len(des) != 1 || des[0].Name() != "obj" {
		var names []string
		for _, de := range des {
			names = append(names, de.Name())
		}
		t.Errorf("directory holds %v, want only obj", names)
	}
	// A write in progress (or left by a crash) is invisible to List.
	if err := os.WriteFile(filepath.Join(l.Root(), "d", ".tmp-123"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	infos, err := l.List(ctx, "")
	if err != nil || len(infos) != 1 || infos[0].Key != "d/obj" {
		t.Errorf("List = %+v, %v; want only d/obj", infos, err)
	}
}

func TestLocalErrors(t *testing.T) {
	if _, err := objstore.NewLocal(""); !rat.IsCode(err, rat.EINVALID) {
		t.Errorf("NewLocal(\"\"): %v, want EINVALID", err)
	}
	l := newLocal(t)
	ctx := context.Background()
	if err := l.Put(ctx, "a", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	// "a" is an object, so "a/b" cannot be created under it.
	err := l.Put(ctx, "a/b", strings.NewReader("x"), 1)
	if !rat.IsCode(err, rat.ECONFLICT) || !strings.Contains(err.Error(), "a/b") {
		t.Errorf("Put(a/b) under object a: %v, want ECONFLICT naming a/b", err)
	}
	if _, err := l.Stat(ctx, "a/b"); !rat.IsCode(err, rat.ENOTFOUND) {
		t.Errorf("Stat(a/b) under object a: %v, want ENOTFOUND", err)
	}
}

func TestLocalMoveFile(t *testing.T) {
	ctx := context.Background()
	l, err := objstore.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "x.parquet")
	if err := os.WriteFile(src, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.MoveFile(ctx, "a/b/x.parquet", src); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Errorf("source still exists after MoveFile: %v", err)
	}
	p, _ := l.LocalPath("a/b/x.parquet")
	if got, err := os.ReadFile(p); err != nil || string(got) != "data" {
		t.Fatalf("moved file = %q, %v", got, err)
	}
	if err := l.MoveFile(ctx, "../escape", src); err == nil {
		t.Error("MoveFile accepted a key outside the store")
	}
}
