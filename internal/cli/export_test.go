package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratdata/rat/internal/testenv"
)

// exportReport is what rat export --json prints (the parts tests read).
type exportReport struct {
	Verified bool `json:"verified"`
	Export   struct {
		Format  int `json:"format"`
		Tables  int `json:"tables"`
		Files   int64
		Bytes   int64
		Commits int64
		Refs    []struct{ Name, Kind string }
	} `json:"export"`
}

// exportWorkspace builds the portable workspace (branches main and dev, tag
// v1, runs, a failed one), moves it, and exports it into a new directory
// with rat export killed with SIGKILL at 5 random points before the run
// that finishes. It returns the user, the queries, their outputs before
// the export, the export directory and the source warehouse's first root.
func exportWorkspace(t *testing.T) (u *ratUser, queries [][]string, before map[string]string, dir, root string) {
	t.Helper()
	u, first := portableWorkspace(t)
	queries = portableQueries(first)
	before = outputs(u, queries)
	root = "file://" + filepath.Join(u.dir, ".rat", "warehouse") // the locations rat describe shows
	u.move(t, "moved")                                           // an export of a moved workspace works
	sameOutputs(t, "the moved workspace", before, outputs(u, queries))
	dir = filepath.Join(t.TempDir(), "backup")
	killMigrations(t, u, []string{"export", dir, "--workers", "1"}, 3, 2, localStage(t, filepath.Join(dir, "warehouse"), filepath.Join(dir, "catalog.db")))
	var rep exportReport
	if out := u.ok("backup", dir, "--json"); json.Unmarshal([]byte(out), &rep) != nil || !rep.Verified {
		t.Fatalf("export not verified after the kills:\n%s", out)
	}
	e := rep.Export
	if e.Format != 1 || e.Tables < 5 || e.Files == 0 || e.Bytes == 0 || e.Commits < 5 || len(e.Refs) < 3 {
		t.Fatalf("export summary: %+v", e)
	}
	return u, queries, before, dir, root
}

// freshUser is a new, empty workspace (rat init) with the environment env
// added.
func freshUser(t *testing.T, env ...string) *ratUser {
	t.Helper()
	r := newUser(t, false)
	r.env = append(r.env, env...)
	r.ok("init", "restored")
	r.dir = filepath.Join(r.dir, "restored")
	return r
}

// copyTree copies the directory from into to (a new directory).
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// aDataFile returns the key (under warehouse/) of a Parquet data file of
// the export in dir.
func aDataFile(t *testing.T, dir string) string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "warehouse", "silver", "orders*", "data", "*.parquet"))
	if err != nil || len(matches) == 0 {
		matches, _ = filepath.Glob(filepath.Join(dir, "warehouse", "*", "*", "data", "*.parquet"))
	}
	if len(matches) == 0 {
		t.Fatalf("no data file in the export %s", dir)
	}
	rel, _ := filepath.Rel(dir, matches[0])
	return filepath.ToSlash(rel)
}

// TestExportImport: a workspace with two branches, a tag and runs,
// exported (kill -9 during the export, then a rerun) and moved, restores
// into a fresh workspace with the same answers to every query; a non-empty
// target, a non-empty export directory and damaged exports are refused
// with one clear error and nothing written.
func TestExportImport(t *testing.T) {
	u, queries, before, dir, source := exportWorkspace(t)
	moved := filepath.Join(t.TempDir(), "moved-backup")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}

	// Damaged exports are refused before anything is written.
	empty := freshUser(t)
	check := func(what, want string, damage func(d string)) {
		t.Helper()
		d := filepath.Join(t.TempDir(), what)
		copyTree(t, moved, d)
		damage(d)
		empty.fails(want, "import", d)
		if wh := filepath.Join(empty.dir, ".rat", "warehouse"); exists(wh) {
			if n := treeSums(t, wh); len(n) != 0 {
				t.Fatalf("%s: the refused import wrote %d files", what, len(n))
			}
		}
	}
	data := aDataFile(t, moved)
	check("removed", data+" is missing", func(d string) {
		if err := os.Remove(filepath.Join(d, data)); err != nil {
			t.Fatal(err)
		}
	})
	check("truncated", data+" has 10 bytes", func(d string) {
		if err := os.Truncate(filepath.Join(d, data), 10); err != nil {
			t.Fatal(err)
		}
	})
	check("no-catalog", "catalog.db is missing", func(d string) {
		if err := os.Remove(filepath.Join(d, "catalog.db")); err != nil {
			t.Fatal(err)
		}
	})
	check("no-manifest", "holds no rat-export.json", func(d string) {
		if err := os.Remove(filepath.Join(d, "rat-export.json")); err != nil {
			t.Fatal(err)
		}
	})
	check("future", "an export of format 99", func(d string) {
		p := filepath.Join(d, "rat-export.json")
		data, _ := os.ReadFile(p)
		if err := os.WriteFile(p, []byte(strings.Replace(string(data), `"format": 1`, `"format": 99`, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	})

	// A data file damaged in place (the same size) fails the import as it
	// is copied, and is not stored at the target.
	flipped := filepath.Join(t.TempDir(), "flipped")
	copyTree(t, moved, flipped)
	b, err := os.ReadFile(filepath.Join(flipped, data))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(filepath.Join(flipped, data), b, 0o644); err != nil {
		t.Fatal(err)
	}
	damagedTarget := freshUser(t)
	damagedTarget.fails(data+" has SHA-256", "import", flipped)
	if p := filepath.Join(damagedTarget.dir, ".rat", filepath.FromSlash(data)); exists(p) {
		t.Fatalf("the damaged %s was stored at the target", data)
	}

	// The restore answers as the source did.
	r := freshUser(t)
	var rep migrateReport
	if out := r.ok("import", moved, "--json"); json.Unmarshal([]byte(out), &rep) != nil || !rep.Verified || len(rep.Refs) < 3 {
		t.Fatalf("import: %s", out)
	}
	awaySource(t, u, func() {
		sameOutputs(t, "the restored workspace", before,
			rebase(outputs(r, queries), "file://"+filepath.Join(r.dir, ".rat", "warehouse"), source))
	})
	r.write("more.csv", "id\n1\n2\n3\n")
	r.ok("load", "more.csv", "--into", "bronze.more")
	if n := r.count("bronze.more"); n != "3" {
		t.Fatalf("a load into the restored workspace: %s rows, want 3", n)
	}

	// A target that is not empty is refused, and left as it was.
	busy := freshUser(t)
	busy.write("a.csv", "id\n1\n")
	busy.ok("load", "a.csv", "--into", "bronze.a")
	log := busy.ok("log", "-n", "0")
	busy.fails("is not empty", "import", moved)
	if got := busy.ok("log", "-n", "0"); got != log {
		t.Fatalf("the refused import changed the target's log:\n%s\nwas:\n%s", got, log)
	}
	// A target whose catalog alone holds something is refused before any
	// file is copied.
	branched := freshUser(t)
	branched.ok("branch", "create", "x")
	branched.fails("is not empty: it holds", "import", moved)
	if wh := filepath.Join(branched.dir, ".rat", "warehouse"); exists(wh) {
		if n := treeSums(t, wh); len(n) != 0 {
			t.Fatalf("the import refused for its catalog wrote %d files first", len(n))
		}
	}
	// An export into a directory that holds something else is refused.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	u.fails("is not empty (it holds notes.txt)", "export", other)
}

// TestExportImportPostgresMinIO: an export restored into a workspace
// configured with Postgres and MinIO answers as the source did.
func TestExportImportPostgresMinIO(t *testing.T) {
	pg := testenv.Postgres(t)
	s3 := testenv.S3(t)
	s3Bucket(t, s3)
	u, queries, before, dir, source := exportWorkspace(t)
	warehouse := "s3://" + s3.Bucket + "/" + s3.Prefix
	r := freshUser(t, "RAT_CATALOG_URL="+pg, "ICEBERG_WAREHOUSE="+warehouse, "S3_ENDPOINT="+s3.Endpoint,
		"S3_ACCESS_KEY="+s3.AccessKey, "S3_SECRET_KEY="+s3.SecretKey, "S3_REGION="+s3.Region, "S3_PATH_STYLE=path")
	var rep migrateReport
	if out := r.ok("import", dir, "--json"); json.Unmarshal([]byte(out), &rep) != nil || !rep.Verified || len(rep.Refs) < 3 {
		t.Fatalf("import: %s", out)
	}
	awaySource(t, u, func() {
		sameOutputs(t, "restored to Postgres + MinIO", before, rebase(outputs(r, queries),
			strings.TrimSuffix(warehouse, "/"), source))
	})
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
