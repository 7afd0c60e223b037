package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLoadFormatsAndModes(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	u.write("a.ndjson", `{"id": 1, "tags": ["x", "y"], "meta": {"k": 1}}`+"\n"+`{"id": 2, "tags": [], "meta": {"k": 2}}`+"\n")
	u.ok("load", "a.ndjson", "--into", "bronze.events")
	if out := u.ok("query", "SELECT id, len(tags) AS n, meta.k AS k FROM bronze.events ORDER BY id", "--format", "csv"); strings.TrimSpace(out) != "id,n,k\n1,2,1\n2,0,2" {
		t.Fatalf("ndjson round trip:\n%s", out)
	}
	// Export to Parquet, then load the Parquet file elsewhere.
	u.ok("query", "SELECT * FROM bronze.events", "-o", "events.parquet")
	u.ok("load", "events.parquet", "--into", "silver.events")
	if n := u.count("silver.events"); n != "2" {
		t.Fatalf("parquet load: %s rows", n)
	}
	// A TSV and a glob.
	u.write("in/p1.tsv", "id\tname\n1\tx\n")
	u.write("in/p2.tsv", "id\tname\n2\ty\n3\tz\n")
	u.ok("load", filepath.Join(u.dir, "in", "*.tsv"), "--into", "bronze.people")
	if n := u.count("bronze.people"); n != "3" {
		t.Fatalf("tsv glob: %s rows", n)
	}
	// Replace, then evolve.
	u.write("one.csv", "id,name\n9,n\n")
	u.ok("load", "one.csv", "--into", "bronze.people", "--mode", "replace")
	if n := u.count("bronze.people"); n != "1" {
		t.Fatalf("after replace: %s rows", n)
	}
	u.write("wide.csv", "id,name,email\n10,m,m@x\n")
	if out := u.ok("load", "wide.csv", "--into", "bronze.people", "--evolve"); !strings.Contains(out, "added columns to bronze.people: email") {
		t.Fatalf("evolve output: %s", out)
	}
	if out := u.ok("query", "SELECT id, email FROM bronze.people ORDER BY id", "--format", "csv"); strings.TrimSpace(out) != "id,email\n9,\n10,m@x" {
		t.Fatalf("after evolve:\n%s", out)
	}
	u.fails("--mode", "load", "one.csv", "--into", "bronze.people", "--mode", "upsert")
	u.fails("cannot tell the format", "load", u.write("x.xml", "<a/>"), "--into", "bronze.x")
}

// TestProfileEffects checks that profile values reach DuckDB and the files
// rat writes.
func TestProfileEffects(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	settings := func(env ...string) string {
		c := u.cmd("query", "SELECT current_setting('threads') AS t, current_setting('memory_limit') AS m", "--format", "csv")
		c.Env = append(c.Env, env...)
		out, err := c.Output()
		if err != nil {
			t.Fatalf("%v: %v", env, err)
		}
		return strings.TrimSpace(string(out))
	}
	// tiny: 1 thread, 2048 MB (DuckDB prints it as 1.9 GiB).
	if got := settings(); !strings.HasPrefix(got, "t,m\n1,1.9 GiB") {
		t.Errorf("tiny profile: %q", got)
	}
	// medium: 4 threads and 32768 MB, each capped by this machine's
	// limits (fit_test.go checks the caps).
	if got, want := settings("RAT_PROFILE=medium"), "t,m\n"+strconv.Itoa(min(4, machineCPUs(t)))+","; !strings.HasPrefix(got, want) {
		t.Errorf("medium profile: %q, want %q…", got, want)
	}
	if got := settings("RAT_DUCKDB_THREADS=3", "RAT_DUCKDB_MEMORY_MB=1000"); !strings.HasPrefix(got, "t,m\n3,953.6 MiB") {
		t.Errorf("overrides: %q", got)
	}
	// chunk_size_rows is the row group size of written files.
	var b strings.Builder
	b.WriteString("id\n")
	for i := 0; i < 30000; i++ {
		b.WriteString("1\n")
	}
	u.write("rows.csv", b.String())
	c := u.cmd("load", "rows.csv", "--into", "bronze.rows")
	c.Env = append(c.Env, "RAT_CHUNK_SIZE_ROWS=10240")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	var info struct {
		Files []struct {
			Location string `json:"location"`
		} `json:"data_files"`
	}
	if err := json.Unmarshal([]byte(u.ok("describe", "bronze.rows", "--json")), &info); err != nil || len(info.Files) != 1 {
		t.Fatalf("describe: %v %+v", err, info)
	}
	path := strings.TrimPrefix(info.Files[0].Location, "file://")
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	out := u.ok("query", "SELECT count(DISTINCT row_group_id) AS g FROM parquet_metadata('"+path+"')", "--format", "csv")
	if strings.TrimSpace(out) != "g\n3" {
		t.Fatalf("row groups of 30000 rows at 10240 per group: %s", out)
	}
}
