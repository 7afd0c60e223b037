package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
)

// describeSnapshots is the number of snapshots rat describe lists for a
// table on main.
func (u *ratUser) describeSnapshots(table string) int {
	u.t.Helper()
	var info struct {
		Snapshots []json.RawMessage `json:"snapshots"`
	}
	if err := json.Unmarshal([]byte(u.ok("describe", table, "--json")), &info); err != nil {
		u.t.Fatal(err)
	}
	return len(info.Snapshots)
}

// TestMaintainAll: bare rat maintain --dry-run reports every task and
// changes nothing; bare rat maintain runs them.
func TestMaintainAll(t *testing.T) {
	u := newUser(t, false)
	u.write("workspace.yaml", "name: m\nmaintenance:\n  expire: {older_than: 0d, retain_last: 1}\n  optimize: {min_small_files: 50}\n")
	for i := 1; i <= 3; i++ {
		u.write("s.csv", fmt.Sprintf("id\n%d\n", i))
		u.ok("load", "s.csv", "--into", "bronze.s")
	}
	commits := u.commits()
	dry := u.ok("maintain", "--dry-run")
	if !regexp.MustCompile(`(?m)^expire +would expire 2 snapshots of 1 table, would delete \d+ files`).MatchString(dry) {
		t.Fatalf("rat maintain --dry-run:\n%s", dry)
	}
	if u.commits() != commits || u.describeSnapshots("bronze.s") != 3 {
		t.Fatal("rat maintain --dry-run changed the catalog")
	}
	var tasks []maintainedTask
	if err := json.Unmarshal([]byte(u.ok("maintain", "--dry-run", "--json")), &tasks); err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 4 || tasks[0].Task != "retention" || !strings.Contains(tasks[0].Summary, "no table has a retention") ||
		tasks[1].Task != "expire" || tasks[1].Error != "" || len(tasks[1].Result) == 0 ||
		tasks[2].Task != "orphans" || tasks[2].Summary != "would delete 0 branches and 0 files (0 B)" ||
		tasks[3].Task != "optimize" || tasks[3].Summary != "would compact 0 tables on branch main: 0 small files (0 B) into 0 files" {
		t.Fatalf("rat maintain --dry-run --json: %+v", tasks)
	}
	if out := u.ok("maintain"); !regexp.MustCompile(`(?m)^expire +expired 2 snapshots of 1 table, deleted \d+ files`).MatchString(out) {
		t.Fatalf("rat maintain:\n%s", out)
	}
	if n := u.describeSnapshots("bronze.s"); n != 1 {
		t.Fatalf("after rat maintain bronze.s has %d snapshots, want 1", n)
	}
	// A task that fails is reported, with its error, and the exit status
	// is its error's (the table's metadata is gone: not found).
	meta, err := filepath.Glob(filepath.Join(u.dir, ".rat", "warehouse", "bronze", "s", "metadata", "*.metadata.json"))
	if err != nil || len(meta) == 0 {
		t.Fatalf("metadata files of bronze.s: %v %v", meta, err)
	}
	for _, f := range meta {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := u.run("maintain")
	if code != 4 || !regexp.MustCompile(`(?m)^expire +failed: .*bronze\.s.*metadata`).MatchString(out) ||
		!strings.Contains(errOut, "maintenance: 3 of 4 tasks failed (expire, orphans, optimize); expire: ") {
		t.Fatalf("rat maintain with a task failing: exit %d\n%s\n%s", code, out, errOut)
	}
	u.fails("unknown command", "maintain", "nope")
}

// TestMaintenanceScheduleRefused: a bad cron, a task this rat has not and
// a misspelt key are refused naming the file, line and key.
func TestMaintenanceScheduleRefused(t *testing.T) {
	u := newUser(t, false)
	for _, c := range []struct{ yaml, want string }{
		{"maintenance:\n  expire:\n    schedule: every tuesday\n", `workspace.yaml:4: maintenance.expire.schedule: cron "every tuesday"`},
		{"maintenance:\n  expire:\n    schedule: '0 3 * *'\n", `workspace.yaml:4: maintenance.expire.schedule: cron "0 3 * *"`},
		{"maintenance:\n  expire:\n    shedule: daily\n", `workspace.yaml:4`},
	} {
		u.write("workspace.yaml", "name: m\n"+c.yaml)
		out := u.fails(c.want, "maintain", "--dry-run")
		if c.want == `workspace.yaml:4` && !strings.Contains(out, "shedule") {
			t.Errorf("a misspelt key: %s", out)
		}
	}
}

// TestScheduledMaintenance: maintenance.expire.schedule makes rat serve
// enqueue expiry runs that a separate rat worker executes: each is a run
// with trigger maintenance (rat runs list, rat runs show), it expires the
// snapshots (rat describe), runs of the task never overlap, and the
// worker's /metrics counts them by task and status.
func TestScheduledMaintenance(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("workspace.yaml", "name: m\nmaintenance:\n  expire: {older_than: 0d, retain_last: 1, schedule: '@every 1s'}\n")
		for i := 1; i <= 3; i++ {
			u.write("s.csv", fmt.Sprintf("id\n%d\n", i))
			u.ok("load", "s.csv", "--into", "bronze.s")
		}
		startServe(t, u, "--no-worker")
		metrics := startDaemon(t, u, regexp.MustCompile(`metrics on (http://127\.0\.0\.1:\d+/metrics)`), "worker", "--listen", "127.0.0.1:0")
		maintenance := func() (done []rat.RunDetail) {
			var runs []rat.RunDetail
			if err := json.Unmarshal([]byte(u.ok("runs", "list", "--json", "-n", "100")), &runs); err != nil {
				t.Fatal(err)
			}
			for _, r := range runs {
				if r.Trigger != rat.TriggerMaintenance {
					t.Fatalf("a run that is not maintenance: %+v", r)
				}
				if r.Maintenance == nil || r.Maintenance.Task != "expire" {
					t.Fatalf("a maintenance run: %+v", r)
				}
				if r.Status.Final() {
					if r.Status != rat.RunSuccess || len(r.Nodes) != 1 || r.Nodes[0].Pipeline != "expire" {
						t.Fatalf("a maintenance run that ended: %+v", r)
					}
					done = append(done, r)
				}
			}
			return done
		}
		var done []rat.RunDetail
		for len(done) < 3 {
			time.Sleep(200 * time.Millisecond)
			done = maintenance()
		}
		if n := u.describeSnapshots("bronze.s"); n != 1 {
			t.Fatalf("after scheduled expiry bronze.s has %d snapshots, want 1", n)
		}
		if n := u.count("bronze.s"); n != "3" {
			t.Fatalf("bronze.s has %s rows after expiry, want 3", n)
		}
		// The first expired the two old snapshots; the later ones found
		// nothing to do.
		first := done[len(done)-1]
		if first.Status != rat.RunSuccess || !strings.HasPrefix(first.Maintenance.Summary, "expired 2 snapshots of 1 table") {
			t.Fatalf("the first scheduled expiry: %+v", first.Maintenance)
		}
		if show := u.ok("runs", "show", first.ID); !strings.Contains(show, "trigger maintenance") || !strings.Contains(show, "maintenance task expire: expired 2 snapshots") {
			t.Fatalf("rat runs show:\n%s", show)
		}
		if list := u.ok("runs", "list"); !strings.Contains(list, "maintenance expire") {
			t.Fatalf("rat runs list:\n%s", list)
		}
		// Runs of one task never overlap: each ended before the next began.
		for i := len(done) - 1; i > 0; i-- {
			prev, next := done[i], done[i-1]
			end := prev.Started.Add(time.Duration(prev.Duration))
			if next.Nodes[0].Started.Before(end) {
				t.Fatalf("run %s started its task at %s, before run %s ended at %s", next.ID, next.Nodes[0].Started, prev.ID, end)
			}
		}
		resp, err := http.Get(metrics)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`(?m)^rat_maintenance_runs_total\{status="success",task="expire"\} (\S+)$`).FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("the worker's /metrics lacks rat_maintenance_runs_total for expire:\n%s", b)
		}
		if n, _ := strconv.ParseFloat(m[1], 64); n < 3 {
			t.Fatalf("rat_maintenance_runs_total{task=expire,status=success} = %v, want at least 3", n)
		}
		if !strings.Contains(string(b), `rat_maintenance_duration_seconds_count{task="expire"}`) {
			t.Fatalf("the worker's /metrics lacks rat_maintenance_duration_seconds:\n%s", b)
		}
	})
}

// TestScheduledRetention: maintenance.retention.schedule makes rat serve
// enqueue retention runs that a rat worker executes: a bronze table with
// 100 days of rows and retention_days: 30 keeps exactly its last 30 days,
// and time travel to before the delete still reads all 100.
func TestScheduledRetention(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("workspace.yaml", "name: r\nlayers:\n  bronze:\n    retention_days: 30\n    retention_column: ts\n"+
			"maintenance:\n  retention: {schedule: '@every 1s'}\n")
		loadDays(u, "bronze.events", 100)
		var info struct {
			Snapshots []struct {
				ID int64 `json:"id"`
			} `json:"snapshots"`
		}
		if err := json.Unmarshal([]byte(u.ok("describe", "bronze.events", "--json")), &info); err != nil || len(info.Snapshots) != 1 {
			t.Fatalf("rat describe --json: %v %+v", err, info)
		}
		startServe(t, u, "--no-worker")
		startDaemon(t, u, regexp.MustCompile(`metrics on (http://127\.0\.0\.1:\d+/metrics)`), "worker", "--listen", "127.0.0.1:0")
		var done *rat.RunDetail
		for done == nil {
			time.Sleep(200 * time.Millisecond)
			var runs []rat.RunDetail
			if err := json.Unmarshal([]byte(u.ok("runs", "list", "--json", "-n", "100")), &runs); err != nil {
				t.Fatal(err)
			}
			for i, r := range runs {
				if r.Maintenance == nil || r.Maintenance.Task != "retention" {
					t.Fatalf("a run that is not a retention run: %+v", r)
				}
				if r.Status.Final() {
					if r.Status != rat.RunSuccess {
						t.Fatalf("a retention run ended %s: %s", r.Status, r.Error)
					}
					if strings.HasPrefix(r.Maintenance.Summary, "deleted 70 rows from 1 table") {
						done = &runs[i]
					}
				}
			}
		}
		q := "SELECT count(*), min(id), max(id) FROM bronze.events"
		if got := strings.TrimSpace(u.ok("query", q, "--format", "csv")); !strings.HasSuffix(got, "\n30,0,29") {
			t.Fatalf("after scheduled retention: %s, want the 30 newest days (ids 0..29)", got)
		}
		if got := strings.TrimSpace(u.ok("query", q, "--format", "csv", "--at", fmt.Sprint(info.Snapshots[0].ID))); !strings.HasSuffix(got, "\n100,0,99") {
			t.Fatalf("time travel to before the delete: %s", got)
		}
		if log := u.ok("log", "-n", "5"); !strings.Contains(log, "retention: bronze.events") {
			t.Fatalf("rat log lacks the retention commit:\n%s", log)
		}
	})
}
