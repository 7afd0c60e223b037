package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestOptimize: rat optimize with maintenance.optimize and a pipeline's
// @sort_by: below min_small_files nothing happens; a dry run changes
// nothing; optimize compacts four loads into one sorted file in one commit
// that rat log names, every row reads the same, and a second run is a
// no-op. A sort key naming a missing column and a bad flag are refused,
// and a COPY through rat query points to rat optimize.
func TestOptimize(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("workspace.yaml", "name: m\nmaintenance:\n  optimize:\n    min_small_files: 3\n")
		u.write("pipelines/bronze/s.sql", "-- @sort_by: id\nSELECT 1 AS id, 'x' AS v\n")
		load := func(i int) {
			u.write("s.csv", fmt.Sprintf("id,v\n%d,a\n%d,b\n%d,c\n", 10-i, 20-i, 30-i))
			u.ok("load", "s.csv", "--into", "bronze.s")
		}
		load(1)
		load(2)
		if out := u.ok("optimize"); !strings.Contains(out, "nothing to compact") {
			t.Fatalf("two small files with min_small_files 3:\n%s", out)
		}
		load(3)
		load(4)
		read := func() string {
			return u.ok("query", "SELECT count(*), sum(id), string_agg(v, '' ORDER BY id, v) FROM bronze.s", "--format", "csv") +
				u.ok("query", "SELECT * FROM bronze.s ORDER BY ALL", "--format", "csv")
		}
		want, commits := read(), u.commits()

		dry := u.ok("optimize", "--dry-run", "bronze.s")
		if !strings.Contains(dry, "WOULD REWRITE") || !strings.Contains(dry, "nothing changed") || u.commits() != commits {
			t.Fatalf("dry run:\n%s", dry)
		}
		var res struct {
			Tables []struct {
				Rewritten  int      `json:"rewritten"`
				FilesAfter int      `json:"files_after"`
				SortBy     []string `json:"sort_by"`
			} `json:"tables"`
		}
		if err := json.Unmarshal([]byte(u.ok("optimize", "--json")), &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Tables) != 1 || res.Tables[0].Rewritten != 4 || res.Tables[0].FilesAfter != 1 || fmt.Sprint(res.Tables[0].SortBy) != "[id]" {
			t.Fatalf("optimize: %+v", res)
		}
		if got := read(); got != want {
			t.Fatalf("rows changed:\n%s\nwant\n%s", got, want)
		}
		if u.commits() != commits+1 || !strings.Contains(u.ok("log", "-n", "1"), "optimize: bronze.s: 4 files → 1") {
			t.Fatalf("optimize is not one commit named in rat log:\n%s", u.ok("log", "-n", "1"))
		}
		if out := u.ok("optimize"); !strings.Contains(out, "nothing to compact") || u.commits() != commits+1 {
			t.Fatalf("second optimize:\n%s", out)
		}

		u.write("pipelines/bronze/s.sql", "-- @sort_by: id, nope\nSELECT 1 AS id, 'x' AS v\n")
		load(5)
		load(6)
		line := u.fails(`pipelines/bronze/s.sql:1: sort_by: "nope" is not a column of bronze.s`, "optimize")
		if !strings.Contains(line, "id, v") {
			t.Errorf("error does not list the columns: %s", line)
		}
		u.fails("--target-file-size-mb 0: want a size in MB", "optimize", "--target-file-size-mb", "0")
		u.fails("--sort-by: name the tables", "optimize", "--sort-by", "id")
		if u.commits() != commits+3 {
			t.Fatalf("a refused optimize committed")
		}
		// --sort-by wins over the pipeline's sort_by for the tables named.
		if err := json.Unmarshal([]byte(u.ok("optimize", "bronze.s", "--sort-by", "V,id", "--dry-run", "--json")), &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Tables) != 1 || fmt.Sprint(res.Tables[0].SortBy) != "[v id]" || res.Tables[0].Rewritten != 3 {
			t.Fatalf("--sort-by V,id: %+v", res)
		}
		u.fails("rat optimize TABLE", "query", "COPY (SELECT * FROM bronze.s ORDER BY id) TO 's.parquet' (FORMAT parquet)")
	})
}
