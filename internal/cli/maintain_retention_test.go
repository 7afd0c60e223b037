package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestMaintainRetention: layers.bronze.retention_days and a pipeline's
// retention_days delete the old rows as commits shown in rat log; a dry
// run changes nothing, time travel reads the rows from before, a second
// run commits nothing, and wrong settings are refused naming their key.
func TestMaintainRetention(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("workspace.yaml", "name: r\nlayers:\n  bronze:\n    retention_days: 30\n    retention_column: ts\n")
		loadDays(u, "bronze.events", 100)
		u.write("pipelines/silver/recent/pipeline.sql", "SELECT id, ts FROM {{ ref('bronze.events') }}\n")
		u.write("pipelines/silver/recent/config.yaml", "retention_days: 10\nretention_column: ts\n")
		u.ok("run")
		count := func(tbl string, extra ...string) string {
			return strings.TrimSpace(u.ok(append([]string{"query", "SELECT count(*) FROM " + tbl, "--format", "csv"}, extra...)...))
		}
		if !strings.HasSuffix(count("bronze.events"), "\n100") {
			t.Fatalf("bronze.events before: %s", count("bronze.events"))
		}
		var info struct {
			Snapshots []struct {
				ID int64 `json:"id"`
			} `json:"snapshots"`
		}
		if err := json.Unmarshal([]byte(u.ok("describe", "bronze.events", "--json")), &info); err != nil {
			t.Fatal(err)
		}
		first := info.Snapshots[len(info.Snapshots)-1].ID
		commits := u.commits()

		dry := u.ok("maintain", "retention", "--dry-run")
		for _, want := range []string{"bronze.events", "silver.recent", "CUTOFF", "FILES DROPPED", "FILES REWRITTEN", "would delete 160 rows from 2 tables"} {
			if !strings.Contains(dry, want) {
				t.Fatalf("dry run lacks %q:\n%s", want, dry)
			}
		}
		if u.commits() != commits || !strings.HasSuffix(count("bronze.events"), "100") {
			t.Fatal("a dry run changed the catalog")
		}
		var res struct {
			Tables []struct {
				Table          struct{ Layer, Name string } `json:"table"`
				Rows           int64                        `json:"rows"`
				FilesRewritten int                          `json:"files_rewritten"`
			} `json:"tables"`
		}
		if err := json.Unmarshal([]byte(u.ok("maintain", "retention", "--json")), &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Tables) != 2 || res.Tables[0].Table.Name != "events" || res.Tables[0].Rows != 70 || res.Tables[1].Rows != 90 || res.Tables[0].FilesRewritten != 1 {
			t.Fatalf("retention: %+v", res)
		}
		if !strings.HasSuffix(count("bronze.events"), "\n30") || !strings.HasSuffix(count("silver.recent"), "\n10") {
			t.Fatalf("after retention: bronze %s, silver %s; want 30 and 10", count("bronze.events"), count("silver.recent"))
		}
		if !strings.HasSuffix(count("bronze.events", "--at", fmt.Sprint(first)), "\n100") {
			t.Fatalf("time travel to before retention: %s", count("bronze.events", "--at", fmt.Sprint(first)))
		}
		if u.commits() != commits+2 {
			t.Errorf("retention made %d commits, want 2", u.commits()-commits)
		}
		if log := u.ok("log"); !strings.Contains(log, "retention: bronze.events: delete rows with ts <") {
			t.Errorf("rat log lacks the retention commit:\n%s", log)
		}
		if out := u.ok("maintain", "retention"); !strings.Contains(out, "nothing to delete on branch main: 2 tables checked") || u.commits() != commits+2 {
			t.Fatalf("second run:\n%s", out)
		}
		if out := u.ok("maintain", "retention", "silver.recent", "--dry-run"); !strings.Contains(out, "1 table checked") {
			t.Fatalf("one table:\n%s", out)
		}

		// Wrong settings, each refused naming its key.
		u.write("pipelines/silver/recent/config.yaml", "retention_days: 10\nretention_column: nope\n")
		u.fails("pipelines/silver/recent/config.yaml:2: retention_column: \"nope\" is not a column of silver.recent", "maintain", "retention")
		u.write("pipelines/silver/recent/config.yaml", "retention_days: -3\n")
		u.fails("retention_days", "maintain", "retention")
		u.write("pipelines/silver/recent/config.yaml", "retention_days: 10\nretention_column: id\n")
		u.fails("retention_column: column id of silver.recent is long: want a date or timestamp column", "maintain", "retention", "--dry-run")
		u.write("pipelines/silver/recent/config.yaml", "retention_days: 10\n")
		u.fails("pipelines/silver/recent/config.yaml:1: retention_days: retention on a table without a usable time column", "maintain", "retention")
		u.write("pipelines/silver/recent/config.yaml", "retention_column: ts\n")
		u.write("workspace.yaml", "name: r\nlayers:\n  bronze:\n    retention_days: -1\n")
		u.fails("workspace.yaml:4: layers.bronze.retention_days: want 0 or more days", "maintain", "retention")
		u.write("workspace.yaml", "name: r\nlayers:\n  bronze:\n    retention_days: 30\n")
		u.fails("workspace.yaml:4: layers.bronze.retention_days: retention on a table without a usable time column", "maintain", "retention")
		if u.commits() != commits+2 {
			t.Errorf("a refused retention committed")
		}
	})
}

// loadDays loads days rows into table: id i has ts now − i days − 1 hour,
// one row a day, an hour off each day boundary.
func loadDays(u *ratUser, table string, days int) {
	u.t.Helper()
	var csv strings.Builder
	csv.WriteString("id,ts\n")
	now := time.Now().UTC()
	for i := range days {
		fmt.Fprintf(&csv, "%d,%s\n", i, now.Add(-time.Duration(i)*24*time.Hour-time.Hour).Format("2006-01-02 15:04:05"))
	}
	u.write("events.csv", csv.String())
	u.ok("load", "events.csv", "--into", table)
}
