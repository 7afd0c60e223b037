package lake

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFileListsOnDisk: a new process (a new Lake) finds the data files of a
// snapshot in the list an earlier one kept, without reading the manifests;
// a damaged list is ignored.
func TestFileListsOnDisk(t *testing.T) {
	dir := t.TempDir()
	store, objects := localStore(t, dir), localObjects(t, filepath.Join(dir, "warehouse"))
	lists := filepath.Join(dir, "cache", "snapshots")
	// Each Lake is what one rat process builds.
	process := func() *Lake {
		return newTestLake(t, store, objects, dir, func(c *Config) { c.FileListDir = lists })
	}
	first := process()
	mustWrite(t, first, "main", "bronze.sales", "SELECT range AS id FROM range(10)", WriteOptions{})
	mustWrite(t, first, "main", "bronze.sales", "SELECT range AS id FROM range(10, 25)", WriteOptions{Mode: Append})
	const q = "SELECT count(*) FROM bronze.sales"
	if n := queryInt(t, first, "main", At{}, q); n != 25 {
		t.Fatalf("count %d, want 25", n)
	}
	kept, _ := filepath.Glob(filepath.Join(lists, "*.json"))
	if len(kept) != 1 {
		t.Fatalf("%d file lists kept, want 1 (the snapshot queried): %v", len(kept), kept)
	}

	// A damaged list is read from the manifests again, and rewritten.
	if err := os.WriteFile(kept[0], []byte(`{"manifest_list":"elsewhere","files":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, process(), "main", At{}, q); n != 25 {
		t.Fatalf("with a damaged list: count %d, want 25", n)
	}

	// With the manifests gone, only the list can tell the files.
	manifests, _ := filepath.Glob(filepath.Join(dir, "warehouse", "bronze", "sales", "metadata", "*.avro"))
	if len(manifests) == 0 {
		t.Fatal("no manifests found to remove")
	}
	for _, m := range manifests {
		if err := os.Remove(m); err != nil {
			t.Fatal(err)
		}
	}
	if n := queryInt(t, process(), "main", At{}, q); n != 25 {
		t.Fatalf("from the kept list: count %d, want 25", n)
	}
	for _, m := range manifests {
		if strings.Contains(m, "snap-") {
			return
		}
	}
	t.Fatalf("no manifest list among the removed files: %v", manifests)
}
