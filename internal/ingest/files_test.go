package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratdata/rat"
)

func TestExpandFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.csv", "b.csv", ".hidden.csv"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x\n1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}

	got, err := ExpandFiles([]string{filepath.Join(dir, "*.csv")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 { // a glob matches hidden files as the shell does
		t.Fatalf("ExpandFiles(*.csv) = %v, want 3 files", got)
	}
	for _, f := range got {
		if !filepath.IsAbs(f) {
			t.Errorf("ExpandFiles returned %s, want an absolute path", f)
		}
	}
	// Directories: ExpandInputs takes their visible files; ExpandFiles refuses them.
	got, err = ExpandInputs([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || filepath.Base(got[0]) != "a.csv" || filepath.Base(got[1]) != "b.csv" {
		t.Errorf("ExpandInputs(dir) = %v, want a.csv and b.csv", got)
	}

	for _, c := range []struct {
		args []string
		code string
		want string
	}{
		{[]string{filepath.Join(dir, "nope.csv")}, rat.ENOTFOUND, "nope.csv not found (looked at "},
		{[]string{filepath.Join(dir, "*.json")}, rat.ENOTFOUND, "no file matches"},
		{[]string{filepath.Join(dir, "[")}, rat.EINVALID, "bad pattern"},
		{[]string{dir}, rat.EINVALID, "is a directory: pass files, or a pattern like '" + dir + "/*.csv'"},
	} {
		_, err := ExpandFiles(c.args)
		if !rat.IsCode(err, c.code) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ExpandFiles(%v) = %v, want %s error with %q", c.args, err, c.code, c.want)
		}
	}
	if _, err := ExpandInputs([]string{filepath.Join(dir, "empty")}); !rat.IsCode(err, rat.ENOTFOUND) || !strings.Contains(err.Error(), "holds no files") {
		t.Errorf("ExpandInputs(empty dir) = %v, want ENOTFOUND holds no files", err)
	}
}

func TestPathFiles(t *testing.T) {
	files, err := PathFiles([]string{"/d/a.csv", "/d/b.csv.gz"}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Format != "csv" || f.Local != f.Name || f.Source() != f.Name {
			t.Errorf("PathFiles: %+v, want format csv, named and read by its path", f)
		}
	}
	if files, err := PathFiles([]string{"/d/a.xml"}, "json"); err != nil || files[0].Format != "json" {
		t.Errorf("PathFiles(--format json) = %v, %v; want json", files, err)
	}
	for _, c := range []struct {
		paths  []string
		format string
		want   string
	}{
		{[]string{"/d/a.csv", "/d/b.json"}, "", "files mix formats (csv and json): load each format separately"},
		{[]string{"/d/a.xml"}, "", "cannot tell the format of /d/a.xml from its extension: add --format csv|json|parquet"},
		{[]string{"/d/a.csv"}, "xml", `--format "xml": want csv, json or parquet`},
	} {
		_, err := PathFiles(c.paths, c.format)
		if !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("PathFiles(%v, %q) = %v, want EINVALID %q", c.paths, c.format, err, c.want)
		}
	}
}

func TestPlainSQL(t *testing.T) {
	files, err := PathFiles([]string{"/d/it's.parquet", "/d/b.parquet"}, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := PlainSQL(files)
	if err != nil {
		t.Fatal(err)
	}
	if want := `SELECT * FROM read_parquet(['/d/it''s.parquet', '/d/b.parquet'], union_by_name = true)`; got != want {
		t.Errorf("PlainSQL(parquet) = %s, want %s", got, want)
	}
	if strings.Contains(got, "_source_file") {
		t.Errorf("PlainSQL adds lineage columns: %s", got)
	}
	files, _ = PathFiles([]string{"/d/a.csv", "/d/b.csv"}, "")
	if got, err = PlainSQL(files); err != nil || strings.Count(got, "read_csv(") != 2 || !strings.Contains(got, " UNION ALL BY NAME ") {
		t.Errorf("PlainSQL(csv) = %s, %v; want one strict read per file, by name", got, err)
	}
	files, _ = PathFiles([]string{"/d/a.csv", "/d/b.tsv"}, "csv")
	if _, err := PlainSQL(files); !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), "files mix CSV and TSV") {
		t.Errorf("PlainSQL(csv + tsv) = %v, want EINVALID files mix CSV and TSV", err)
	}
	if _, err := PlainSQL(nil); !rat.IsCode(err, rat.EINVALID) {
		t.Errorf("PlainSQL(nil) = %v, want EINVALID", err)
	}
}

func TestEmptySummary(t *testing.T) {
	header := File{Name: "/d/h.csv", Format: "csv", Contents: NoRows}
	array := File{Name: "/d/a.json", Format: "json", Contents: NoRecords}
	typed := File{Name: "/d/t.parquet", Format: "parquet", Contents: NoRows}
	for _, c := range []struct {
		empty []File
		want  string
		typed bool
	}{
		{[]File{header}, "h.csv holds a header line only, no rows", false},
		{[]File{array}, "a.json holds no records", false},
		{[]File{typed}, "t.parquet holds no rows", true},
		{[]File{header, typed}, "h.csv, t.parquet hold no rows", false},
	} {
		if got := EmptySummary(c.empty); got != c.want {
			t.Errorf("EmptySummary = %q, want %q", got, c.want)
		}
		if got := Typed(c.empty); got != c.typed {
			t.Errorf("Typed(%s) = %v, want %v", c.want, got, c.typed)
		}
	}
}
