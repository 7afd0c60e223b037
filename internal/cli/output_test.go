package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// A failing rat query -o leaves an existing file byte-identical and creates
// no file (and no temporary file) at a new path, in every format; a
// successful one replaces the file.
func TestQueryOutputIsAtomic(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	// 5,000 rows: DuckDB streams the first chunks before the error.
	var csv strings.Builder
	csv.WriteString("id,name\n")
	for i := 1; i <= 5000; i++ {
		csv.WriteString(strconv.Itoa(i) + ",name" + strconv.Itoa(i) + "\n")
	}
	u.write("t.csv", csv.String())
	u.ok("load", "t.csv", "--into", "bronze.t")
	out := filepath.Join(u.dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	failing := map[string]string{
		"at run time, after some rows": "SELECT CASE WHEN id > 4000 THEN error('boom at ' || id) ELSE id END AS id, name FROM bronze.t",
		"before any row":               "SELECT * FROM bronze.nope",
	}
	for _, ext := range []string{"csv", "json", "parquet", "txt"} {
		old := filepath.Join(out, "old."+ext)
		precious := []byte("precious bytes of old." + ext + "\n")
		if err := os.WriteFile(old, precious, 0o600); err != nil {
			t.Fatal(err)
		}
		for why, q := range failing {
			u.fails("", "query", q, "-o", old)
			if got, err := os.ReadFile(old); err != nil || string(got) != string(precious) {
				t.Fatalf("%s: a query failing %s changed the existing file: %q, %v", ext, why, got, err)
			}
			fresh := filepath.Join(out, "new."+ext)
			u.fails("", "query", q, "-o", fresh)
			if _, err := os.Stat(fresh); !os.IsNotExist(err) {
				t.Fatalf("%s: a query failing %s left %s behind (%v)", ext, why, fresh, err)
			}
			if names := dirNames(t, out); !slices.Equal(names, []string{"old." + ext}) {
				t.Fatalf("%s: a query failing %s left files behind: %v", ext, why, names)
			}
		}
		u.ok("query", "SELECT count(*) AS n FROM bronze.t", "-o", old)
		got, err := os.ReadFile(old)
		if err != nil || string(got) == string(precious) || len(got) == 0 {
			t.Fatalf("%s: a successful query did not replace the file: %q, %v", ext, got, err)
		}
		if st, _ := os.Stat(old); st.Mode().Perm() != 0o600 {
			t.Errorf("%s: the replaced file's mode changed to %v", ext, st.Mode().Perm())
		}
		if names := dirNames(t, out); !slices.Equal(names, []string{"old." + ext}) {
			t.Fatalf("%s: a successful query left files behind: %v", ext, names)
		}
		os.Remove(old)
	}
	if got := u.ok("query", "SELECT count(*) AS n FROM bronze.t", "--format", "csv", "-o", filepath.Join(out, "n.csv")); got != "" {
		t.Errorf("stdout with -o: %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "n.csv")); string(b) != "n\n5000\n" {
		t.Errorf("n.csv = %q", b)
	}
}

// A failing rat docs replaces no page: every file is written first, then
// all are renamed into place.
func TestDocsWriteAllOrNothing(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	u.ok("init", "ws", "--demo")
	docs := filepath.Join(u.dir, "ws", "docs")
	if err := os.MkdirAll(docs, 0o755); err != nil {
		t.Fatal(err)
	}
	readme := filepath.Join(docs, "README.md")
	if err := os.WriteFile(readme, []byte("my own notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A regular file where the gold layer's directory must go.
	if err := os.WriteFile(filepath.Join(docs, "gold"), []byte("in the way\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u.fails("gold", "-C", "ws", "docs")
	if b, _ := os.ReadFile(readme); string(b) != "my own notes\n" {
		t.Fatalf("a failed rat docs rewrote README.md: %q", b)
	}
	var temps []string
	filepath.WalkDir(docs, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".rat-") {
			temps = append(temps, p)
		}
		return err
	})
	if len(temps) > 0 {
		t.Fatalf("a failed rat docs left temporary files: %v", temps)
	}
	os.Remove(filepath.Join(docs, "gold"))
	u.ok("-C", "ws", "docs")
	if b, _ := os.ReadFile(readme); string(b) == "my own notes\n" || !strings.Contains(string(b), "gold") {
		t.Fatalf("rat docs did not write README.md: %q", b)
	}
}
