package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMaintainExpire: rat maintain expire with its defaults from
// workspace.yaml keeps what refs and the last N need, a dry run changes
// nothing, every ref reads the same after, an expired snapshot's time
// travel ends with a message, and a second expiry does nothing.
func TestMaintainExpire(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("workspace.yaml", "name: m\nmaintenance:\n  expire:\n    older_than: 0d\n    retain_last: 2\n")
		for i := 1; i <= 4; i++ {
			u.write("s.csv", fmt.Sprintf("id,v\n%d,a\n%d,b\n", i, i))
			u.ok("load", "s.csv", "--into", "bronze.s")
			if i == 2 {
				u.ok("tag", "create", "v1")
			}
		}
		u.ok("branch", "create", "dev")
		u.ok("load", "s.csv", "--into", "bronze.s", "--branch", "dev")
		snapshots := func(branch string) []int64 {
			t.Helper()
			var info struct {
				Snapshots []struct {
					ID int64 `json:"id"`
				} `json:"snapshots"`
			}
			if err := json.Unmarshal([]byte(u.ok("describe", "bronze.s", "--json", "--branch", branch)), &info); err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, s := range info.Snapshots {
				ids = append(ids, s.ID)
			}
			return ids
		}
		before := snapshots("main")
		if len(before) != 4 {
			t.Fatalf("main has snapshots %v, want 4", before)
		}
		read := func() string {
			var b strings.Builder
			for _, br := range []string{"main", "dev", "v1"} {
				b.WriteString(u.ok("query", "SELECT count(*), sum(id) FROM bronze.s", "--branch", br, "--format", "csv"))
			}
			for _, id := range before[2:] {
				b.WriteString(u.ok("query", "SELECT count(*), sum(id) FROM bronze.s", "--at", fmt.Sprint(id), "--format", "csv"))
			}
			return b.String()
		}
		want, commits := read(), u.commits()

		if out := u.ok("maintain", "expire", "--dry-run", "--retain-last", "10"); !strings.Contains(out, "no snapshot to expire") {
			t.Fatalf("--retain-last 10 should keep all four:\n%s", out)
		}
		dry := u.ok("maintain", "expire", "--dry-run")
		if !strings.Contains(dry, "WOULD EXPIRE") || !strings.Contains(dry, "would delete") || !strings.Contains(dry, ".avro") {
			t.Fatalf("dry run output:\n%s", dry)
		}
		if u.commits() != commits || len(snapshots("main")) != 4 {
			t.Fatalf("dry run changed the catalog")
		}
		out := u.ok("maintain", "expire")
		if !strings.Contains(out, "main") || !strings.Contains(out, "deleted") {
			t.Fatalf("expire output:\n%s", out)
		}
		if got := read(); got != want {
			t.Fatalf("reads changed:\n%s\nwant\n%s", got, want)
		}
		if u.commits() != commits+1 {
			t.Errorf("expiry on main is not one commit: %d -> %d", commits, u.commits())
		}
		// main keeps its last 2 and the tag's snapshot (the second).
		if got := snapshots("main"); fmt.Sprint(got) != fmt.Sprint(before[1:]) {
			t.Errorf("main keeps %v, want %v", got, before[1:])
		}
		u.fails("snapshot "+fmt.Sprint(before[0]), "query", "SELECT count(*) FROM bronze.s", "--at", fmt.Sprint(before[0]))

		again := u.ok("maintain", "expire")
		if !strings.Contains(again, "no snapshot to expire") || !strings.Contains(again, "deleted 0 files") {
			t.Fatalf("second expiry:\n%s", again)
		}
		// A backup of one ref copies what its expired history still has.
		if out := u.ok("export", filepath.Join(t.TempDir(), "b"), "--ref", "dev"); !strings.Contains(out, "export") {
			t.Errorf("export --ref dev after expiry: %s", out)
		}
		u.fails("--older-than", "maintain", "expire", "--older-than", "a-week")
		u.fails("bronze.nope is on no branch or tag", "maintain", "expire", "bronze.nope")
	})
}

// TestMaintainOrphans: after runs that succeeded, failed (its branch kept
// with the files it wrote) and were killed, rat maintain orphans keeps
// everything within the grace period; past it, a dry run lists what the
// pass then deletes — the failed run's branch and the files only it
// referenced — the killed run ends (owner lost), every ref reads the same
// and a second pass finds nothing. A grace shorter than the key or the
// run lease is refused, naming the key.
func TestMaintainOrphans(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		ownerWorkspace(t, u)
		const ws = "name: owners\nruns:\n  lease: 1s\nmaintenance:\n  orphans:\n    older_than: 10s\n"
		u.write("workspace.yaml", ws)
		boom := u.write("pipelines/silver/boom.sql", "SELECT CAST('x' || id AS INTEGER) AS n FROM {{ ref('bronze.quick') }}\n")
		if _, _, code := u.run("run", "bronze.quick", "silver.boom"); code == 0 {
			t.Fatal("the run with silver.boom succeeded")
		}
		if err := os.Remove(boom); err != nil {
			t.Fatal(err)
		}
		var failed []struct{ ID string }
		if err := json.Unmarshal([]byte(u.ok("runs", "list", "--status", "failed", "--json")), &failed); err != nil || len(failed) != 1 {
			t.Fatalf("failed runs: %v %v", failed, err)
		}
		failedBranch := "run/" + failed[0].ID
		cmd, killed := startSlowRun(t, u)
		killRun(t, cmd)
		u.ok("run", "bronze.quick")
		read := func() string {
			return u.ok("query", "SELECT count(*), sum(id) FROM bronze.quick", "--format", "csv") + u.ok("log", "--json", "-n", "0")
		}
		want := read()
		names, _ := u.branches()
		if !slices.Contains(names, failedBranch) {
			t.Fatalf("the failed run's branch %s is not kept: %v", failedBranch, names)
		}

		// Within the grace period (a longer one than the key's): nothing goes.
		if out := u.ok("maintain", "orphans", "--dry-run", "--older-than", "1h"); !strings.Contains(out, "would delete 0 branches and 0 files") {
			t.Fatalf("within the grace period:\n%s", out)
		}
		time.Sleep(11 * time.Second) // past the grace period of 10s

		type result struct {
			Branches []struct{ Name string } `json:"branches"`
			Files    []struct {
				Key   string `json:"key"`
				Bytes int64  `json:"bytes"`
				Age   int64  `json:"age_seconds"`
			} `json:"files"`
			Bytes int64 `json:"bytes"`
		}
		var dry result
		if err := json.Unmarshal([]byte(u.ok("maintain", "orphans", "--dry-run", "--json")), &dry); err != nil {
			t.Fatal(err)
		}
		if len(dry.Branches) != 1 || dry.Branches[0].Name != failedBranch || len(dry.Files) == 0 {
			t.Fatalf("dry run: %+v; want the branch %s and its files", dry, failedBranch)
		}
		text := u.ok("maintain", "orphans", "--dry-run")
		for _, f := range dry.Files {
			if !strings.HasPrefix(f.Key, "bronze/quick/") || f.Age < 10 || !strings.Contains(text, f.Key) {
				t.Errorf("would delete %+v: not bronze.quick's of the failed run, too young, or not in the text output", f)
			}
		}
		out := u.ok("maintain", "orphans")
		if !strings.Contains(out, fmt.Sprintf("deleted 1 branch and %d files", len(dry.Files))) || !strings.Contains(out, failedBranch) {
			t.Fatalf("orphans:\n%s\nwant the branch and %d files the dry run listed", out, len(dry.Files))
		}
		if got := read(); got != want {
			t.Fatalf("reads changed:\n%s\nwant\n%s", got, want)
		}
		names, _ = u.branches()
		for _, n := range names {
			if strings.HasPrefix(n, "run/") {
				t.Errorf("branch %s is left", n)
			}
		}
		if status, _ := u.runState(killed); status != "failed" {
			t.Errorf("the killed run is %s, want failed (owner lost)", status)
		}
		if again := u.ok("maintain", "orphans"); !strings.Contains(again, "deleted 0 branches and 0 files") {
			t.Fatalf("second pass:\n%s", again)
		}

		u.fails("--older-than 5s is shorter than maintenance.orphans.older_than (10s)", "maintain", "orphans", "--older-than", "5s")
		if _, errs, code := u.runEnv([]string{"RAT_RUN_LEASE=1m"}, "maintain", "orphans"); code == 0 ||
			!strings.Contains(errs, "maintenance.orphans.older_than: 10s is shorter than the run lease (runs.lease, 1m0s)") {
			t.Errorf("a lease longer than the grace: exit %d, %s", code, errs)
		}
		u.write("workspace.yaml", strings.Replace(ws, "10s", "500ms", 1))
		u.fails("workspace.yaml:6: maintenance.orphans.older_than: 500ms is shorter than the run lease (runs.lease, 1s)", "maintain", "orphans")
	})
}
