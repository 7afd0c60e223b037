package cli

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ratdata/rat/internal/proc"
)

// startServe starts `rat serve` with args and returns its base URL; the
// process is stopped with SIGTERM when the test ends.
func startServe(t *testing.T, u *ratUser, args ...string) string {
	t.Helper()
	return startDaemon(t, u, regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`), append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
}

// startDaemon starts a long-running rat command and waits for a log line
// matching ready; it returns the line's first submatch.
func startDaemon(t *testing.T, u *ratUser, ready *regexp.Regexp, args ...string) string {
	t.Helper()
	v, _ := startProcess(t, u, ready, args...)
	return v
}

// startProcess is startDaemon that also returns the process.
func startProcess(t *testing.T, u *ratUser, ready *regexp.Regexp, args ...string) (string, *exec.Cmd) {
	t.Helper()
	cmd := u.cmd(args...)
	v, err := proc.StartAndWait(cmd, ready, 30*time.Second)
	if cmd.Process != nil {
		t.Cleanup(func() { stopDaemon(cmd) })
	}
	if err != nil {
		t.Fatal(err)
	}
	return v, cmd
}

func stopDaemon(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	proc.WaitOrKill(cmd, 30*time.Second)
}

// TestServeAndWorkerRoles: rat serve --no-worker only enqueues; a separate
// rat worker process executes the run.
func TestServeAndWorkerRoles(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("workspace.yaml", "name: roles\n")
		u.write("pipelines/silver/numbers.sql", "SELECT range AS n FROM range(10)\n")
		base := startServe(t, u, "--no-worker")
		status := func(id string) string {
			resp, err := http.Get(base + "/api/v1/runs/" + id)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Status string `json:"status"`
			}
			b, _ := io.ReadAll(resp.Body)
			_ = json.Unmarshal(b, &body)
			return body.Status
		}
		id := postRun(t, base, `{}`)
		time.Sleep(time.Second)
		if s := status(id); s != "queued" {
			t.Fatalf("without a worker the run should wait as queued, is %q", s)
		}
		depth := func() (string, float64) {
			resp, err := http.Get(base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			d := regexp.MustCompile(`(?m)^rat_queue_depth (\S+)$`).FindStringSubmatch(string(b))
			w := regexp.MustCompile(`(?m)^rat_queue_oldest_wait_seconds (\S+)$`).FindStringSubmatch(string(b))
			if d == nil || w == nil {
				t.Fatalf("/metrics lacks the queue gauges:\n%s", b)
			}
			wait, _ := strconv.ParseFloat(w[1], 64)
			return d[1], wait
		}
		if d, wait := depth(); d != "1" || wait < 0.5 {
			t.Fatalf("one run waiting for a second: rat_queue_depth %s, oldest wait %.3fs", d, wait)
		}
		metrics := startDaemon(t, u, regexp.MustCompile(`metrics on (http://127\.0\.0\.1:\d+/metrics)`), "worker", "--listen", "127.0.0.1:0")
		deadline := time.Now().Add(60 * time.Second)
		for status(id) != "success" {
			if time.Now().After(deadline) {
				t.Fatalf("the worker did not finish the run: status %q", status(id))
			}
			time.Sleep(200 * time.Millisecond)
		}
		if out := u.ok("query", "SELECT count(*) AS n FROM silver.numbers", "--format", "csv"); strings.TrimSpace(out) != "n\n10" {
			t.Fatalf("the run's table: %s", out)
		}
		if d, wait := depth(); d != "0" || wait != 0 {
			t.Fatalf("after the run: rat_queue_depth %s, oldest wait %.3fs", d, wait)
		}
		// The worker counts what it executed, on its own /metrics.
		resp, err := http.Get(metrics)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// and its memory, CPU and volumes against the machine's limits.
		for _, want := range []string{`rat_runs_total{status="success"} 1`, `rat_nodes_total{status="success"} 1`, "process_resident_memory_bytes",
			"\nrat_memory_used_ratio ", "\nrat_cpu_used_ratio ", `rat_disk_used_ratio{volume="spill"}`, "rat_build_info{"} {
			if !strings.Contains(string(b), want) {
				t.Fatalf("the worker's /metrics lacks %s:\n%s", want, b)
			}
		}
	})
}

// TestLandingUploadStartsSensor: a file uploaded through the API lands in
// the zone, the sensor starts the pipeline, and the data is queryable.
func TestLandingUploadStartsSensor(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	u.write("workspace.yaml", "name: sensor\n")
	u.write("pipelines/bronze/orders.sql", "-- @materialized: incremental\nSELECT * FROM {{ landing('orders') }}\n")
	u.write("pipelines/bronze/orders.yaml", "triggers:\n  - {type: landing}\n")
	base := startServe(t, u)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", "day1.csv")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(fw, "id,amount\n1,10\n2,20\n")
	mw.Close()
	resp, err := http.Post(base+"/api/v1/landing/orders", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _, code := u.run("query", "SELECT count(*) AS n FROM bronze.orders", "--format", "csv")
		if code == 0 && strings.TrimSpace(out) == "n\n2" {
			break
		}
		if time.Now().After(deadline) {
			runs, _, _ := u.run("runs", "list")
			t.Fatalf("the sensor's run did not publish the upload within 60s:\n%s", runs)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if out := u.ok("runs", "list"); !strings.Contains(out, "landing") {
		t.Fatalf("the run's trigger should be landing:\n%s", out)
	}
}

// TestRemoteCommands: rat run / runs list / runs show / runs cancel
// --server drive a rat serve over its API, with the same output and errors a
// local run gives.
func TestRemoteCommands(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("workspace.yaml", "name: remote\n")
		u.write("pipelines/silver/numbers.sql", "SELECT range AS n FROM range(7)\n")
		u.write("pipelines/silver/bad/pipeline.sql", "SELECT NULL::INT AS n\n")
		u.write("pipelines/silver/bad/config.yaml", "columns:\n  - name: n\n    tests: [not_null]\n")
		base := startServe(t, u)

		out := u.ok("run", "silver.numbers", "--server", base)
		if !strings.Contains(out, "silver.numbers") || !strings.Contains(out, "success") {
			t.Fatalf("rat run --server printed:\n%s", out)
		}
		if got := u.count("silver.numbers"); got != "7" {
			t.Fatalf("silver.numbers has %s rows after the remote run, want 7", got)
		}
		// Progress goes to stderr as with a local run; the last line is the error.
		_, errs, code := u.run("run", "silver.bad", "--server", base)
		lines := strings.Split(strings.TrimSpace(errs), "\n")
		if last := lines[len(lines)-1]; code == 0 || !strings.HasPrefix(last, "rat: ") || !strings.Contains(last, "not_null") || !strings.Contains(last, "main was not changed") {
			t.Fatalf("failed remote run: exit %d\n%s", code, errs)
		}
		u.fails(`no pipeline "silver.nope"`, "run", "silver.nope", "--server", base)
		u.fails("--dry-run", "run", "--dry-run", "--server", base)

		list := u.ok("runs", "list", "--server", base, "--json")
		var runs []struct {
			ID, Status string
		}
		if err := json.Unmarshal([]byte(list), &runs); err != nil || len(runs) != 2 {
			t.Fatalf("runs list --server --json: %v\n%s", err, list)
		}
		if runs[0].Status != "failed" || runs[1].Status != "success" {
			t.Fatalf("runs newest first: %+v", runs)
		}
		if out := u.ok("runs", "show", runs[1].ID, "--server", base); !strings.Contains(out, "silver.numbers") {
			t.Fatalf("runs show --server:\n%s", out)
		}
		u.fails("not found", "runs", "show", "no-such-run", "--server", base)
		// Run logs: the same lines from the catalog and through the API.
		local := u.ok("runs", "logs", runs[1].ID)
		for _, want := range []string{"silver.numbers", "build started", "built (table): 7 rows", "run success", "published to main"} {
			if !strings.Contains(local, want) {
				t.Fatalf("runs logs lacks %q:\n%s", want, local)
			}
		}
		remote := u.ok("runs", "logs", runs[1].ID, "--server", base, "--follow")
		if remote != local {
			t.Fatalf("runs logs --server differs:\n%s\nvs local:\n%s", remote, local)
		}
		failed := u.ok("runs", "logs", runs[0].ID, "--json")
		if !strings.Contains(failed, `"level":"error"`) || !strings.Contains(failed, "not_null") {
			t.Fatalf("failed run's log:\n%s", failed)
		}
		u.fails("not found", "runs", "logs", "no-such-run", "--server", base)
		u.fails("already finished (failed): there is nothing to cancel", "runs", "cancel", runs[0].ID)
		u.fails("cannot reach", "runs", "list", "--server", "http://127.0.0.1:1")
	})
}

// TestBenchServe: rat bench serve starts its own serve (and workers), runs
// both measurements and prints the figures.
func TestBenchServe(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		for _, workers := range []string{"0", "1"} {
			out := u.ok("bench", "serve", "--runs", "3", "--nodes", "4", "--workers", workers)
			for _, want := range []string{"rat serve API", "new 'rat run' process", "ratio p50", "4 nodes in", workers + " worker process(es)"} {
				if !strings.Contains(out, want) {
					t.Fatalf("bench serve --workers %s output lacks %q:\n%s", workers, want, out)
				}
			}
		}
		u.fails("--runs", "bench", "serve", "--runs", "0")
	})
}

// TestAfterTrigger: a run that builds silver.a starts gold.b, whose after
// trigger lists it, into the same branch.
func TestAfterTrigger(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("workspace.yaml", "name: after\n")
		u.write("pipelines/silver/a.sql", "SELECT range AS n FROM range(5)\n")
		u.write("pipelines/gold/b/pipeline.sql", "SELECT count(*) AS n FROM {{ ref('silver.a') }}\n")
		u.write("pipelines/gold/b/config.yaml", "triggers:\n  - {type: after, pipelines: [silver.a]}\n")
		base := startServe(t, u)
		u.ok("run", "silver.a", "--server", base)
		deadline := time.Now().Add(60 * time.Second)
		for {
			var runs []struct {
				Status, Trigger string
				Nodes           []struct{ Pipeline string }
			}
			if err := json.Unmarshal([]byte(u.ok("runs", "list", "--json")), &runs); err != nil {
				t.Fatal(err)
			}
			if len(runs) == 2 && runs[0].Status == "success" {
				if runs[0].Trigger != "after" || len(runs[0].Nodes) != 1 || runs[0].Nodes[0].Pipeline != "gold.b" {
					t.Fatalf("the follower run: %+v", runs[0])
				}
				break
			}
			if len(runs) > 2 || time.Now().After(deadline) {
				t.Fatalf("runs after silver.a: %+v", runs)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if out := u.ok("query", "SELECT n FROM gold.b", "--format", "csv"); strings.TrimSpace(out) != "n\n5" {
			t.Fatalf("gold.b: %s", out)
		}
	})
}

// TestCancelAcrossProcesses: rat runs cancel, sent to a rat serve replica
// that did not start the run, stops it in the separate rat worker executing
// it; the target stays untouched. A queued run is cancelled before it starts.
func TestCancelAcrossProcesses(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("workspace.yaml", "name: cancel\n")
		// Minutes of work: only a cancellation ends it within the test.
		u.write("pipelines/silver/slow.sql", "SELECT sum(hash(range)) AS s FROM range(100000000000)\n")
		u.env = append(u.env, "RAT_MAX_PARALLEL_PIPELINES=1") // the worker takes one run at a time
		base := startServe(t, u, "--no-worker")
		startDaemon(t, u, regexp.MustCompile(`(worker started)`), "worker")
		started := postRun(t, base, `{}`)
		waitRunStatus(t, u, started, "running")
		// Through the other replica, which did not start the run.
		other := startServe(t, u, "--no-worker")
		if out := u.ok("runs", "cancel", started, "--server", other); !strings.Contains(out, "cancelling") {
			t.Fatalf("runs cancel: %s", out)
		}
		if msg := waitRunStatus(t, u, started, "failed"); !strings.Contains(msg, "cancel") {
			t.Fatalf("cancelled run's error: %q", msg)
		}
		u.fails("silver.slow", "query", "SELECT * FROM silver.slow")
		u.fails("already finished", "runs", "cancel", started, "--server", base)

		// With the worker busy on another slow run, the next waits queued.
		busy := postRun(t, base, `{}`)
		waitRunStatus(t, u, busy, "running")
		queued := postRun(t, base, `{}`)
		u.ok("runs", "cancel", queued, "--server", other)
		if st, msg := u.runState(queued); st != "failed" || msg != "cancelled before it started" {
			t.Fatalf("a queued run cancelled: %s %q", st, msg)
		}
		u.ok("runs", "cancel", busy, "--server", base)
	})
}

// TestOverlapPolicy: a run of a pipeline that another run is building into
// the same branch waits (overlap: queue, the default) or is skipped
// (overlap: skip), even with free worker slots.
func TestOverlapPolicy(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("workspace.yaml", "name: overlap\n")
		slow := "SELECT sum(hash(range)) AS s FROM range(100000000000)\n"
		u.write("pipelines/silver/queued.sql", slow)
		u.write("pipelines/silver/skipped/pipeline.sql", slow)
		u.write("pipelines/silver/skipped/config.yaml", "overlap: skip\n")
		u.env = append(u.env, "RAT_MAX_PARALLEL_PIPELINES=2")
		base := startServe(t, u)
		post := func(sel string) string { return postRun(t, base, `{"selectors":["`+sel+`"]}`) }
		waitFor := func(id, want string) string { t.Helper(); return waitRunStatus(t, u, id, want) }
		first := post("silver.queued")
		waitFor(first, "running")
		second := post("silver.queued")
		time.Sleep(3 * time.Second) // a free slot, but the pipeline is taken
		if s, _ := u.runState(second); s != "queued" {
			t.Fatalf("the second run of silver.queued is %s while the first runs, want queued", s)
		}
		u.ok("runs", "cancel", first, "--server", base)
		waitFor(second, "running")
		u.ok("runs", "cancel", second, "--server", base)
		waitFor(second, "failed")

		third := post("silver.skipped")
		waitFor(third, "running")
		if msg := waitFor(post("silver.skipped"), "skipped"); !strings.Contains(msg, "overlap: skip") || !strings.Contains(msg, third) {
			t.Fatalf("the skipped run says %q", msg)
		}
		// rat run --server ends on a skipped run too, with the reason.
		_, errs, code := u.run("run", "silver.skipped", "--server", base)
		if lines := strings.Split(strings.TrimSpace(errs), "\n"); code == 0 || !strings.Contains(lines[len(lines)-1], "was skipped") {
			t.Fatalf("rat run --server of a skipped run: exit %d\n%s", code, errs)
		}
		u.ok("runs", "cancel", third, "--server", base)
		waitFor(third, "failed")
	})
}

// TestScheduleOnTime: in real time, a schedule fires every interval, each
// tick enqueued within 2 seconds of its due time (rat_scheduler_lag_seconds),
// and its runs succeed.
func TestScheduleOnTime(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("workspace.yaml", "name: ontime\n")
		u.write("pipelines/silver/tick/pipeline.sql", "SELECT 1 AS x\n")
		u.write("pipelines/silver/tick/config.yaml", "triggers:\n  - {type: schedule, cron: '@every 3s'}\n")
		base := startServe(t, u)
		deadline := time.Now().Add(60 * time.Second)
		for {
			resp, err := http.Get(base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			count := regexp.MustCompile(`(?m)^rat_scheduler_lag_seconds_count (\d+)$`).FindStringSubmatch(string(b))
			onTime := regexp.MustCompile(`(?m)^rat_scheduler_lag_seconds_bucket\{le="2"\} (\d+)$`).FindStringSubmatch(string(b))
			if count == nil || onTime == nil {
				t.Fatalf("/metrics lacks the scheduler lag:\n%s", b)
			}
			if count[1] != onTime[1] {
				t.Fatalf("%s of %s schedule ticks were enqueued more than 2s late", count[1], onTime[1])
			}
			if n, _ := strconv.Atoi(count[1]); n >= 4 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %s ticks fired in a minute of a 3s schedule", count[1])
			}
			time.Sleep(time.Second)
		}
		var runs []struct{ Status, Trigger string }
		if err := json.Unmarshal([]byte(u.ok("runs", "list", "--json", "--status", "success")), &runs); err != nil || len(runs) < 2 || runs[0].Trigger != "schedule" {
			t.Fatalf("scheduled runs: %v %+v", err, runs)
		}
	})
}

// TestScheduleSurvivesReplica: two rat serve replicas share one catalog and
// queue; each schedule tick fires once, and when the leader is killed
// (kill -9) the other replica keeps the schedule firing.
func TestScheduleSurvivesReplica(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("workspace.yaml", "name: replicas\n")
		u.write("pipelines/silver/tick/pipeline.sql", "SELECT 1 AS x\n")
		u.write("pipelines/silver/tick/config.yaml", "triggers:\n  - {type: schedule, cron: '@every 3s'}\n")
		listening := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
		begin := time.Now()
		_, first := startProcess(t, u, listening, "serve", "--listen", "127.0.0.1:0")
		scheduled := func() []time.Time {
			var runs []struct {
				Trigger string
				Started time.Time
			}
			if err := json.Unmarshal([]byte(u.ok("runs", "list", "--json", "-n", "1000")), &runs); err != nil {
				t.Fatal(err)
			}
			var out []time.Time
			for _, r := range runs {
				if r.Trigger == "schedule" {
					out = append(out, r.Started)
				}
			}
			return out
		}
		waitRuns := func(n int) {
			t.Helper()
			deadline := time.Now().Add(90 * time.Second)
			for len(scheduled()) < n {
				if time.Now().After(deadline) {
					t.Fatalf("%d scheduled runs, want %d", len(scheduled()), n)
				}
				time.Sleep(500 * time.Millisecond)
			}
		}
		waitRuns(3) // the first replica alone: it is the leader that schedules
		startProcess(t, u, listening, "serve", "--listen", "127.0.0.1:0")
		waitRuns(len(scheduled()) + 2)
		if err := first.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = first.Wait()
		killed := len(scheduled())
		waitRuns(killed + 3)
		// One run per tick: no more runs than 3s ticks in the time elapsed.
		if n, max := len(scheduled()), int(time.Since(begin)/(3*time.Second))+1; n > max {
			t.Fatalf("%d scheduled runs in %s of a 3s schedule: some tick fired twice", n, time.Since(begin))
		}
	})
}

// postRun starts a run through the API with the JSON body and returns its id.
func postRun(t *testing.T, base, body string) string {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/runs", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct{ ID string }
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(b, &r) != nil || r.ID == "" {
		t.Fatalf("POST /runs %s: %d %s", body, resp.StatusCode, b)
	}
	return r.ID
}

// runState reads a run's status and error from the catalog.
func (u *ratUser) runState(id string) (status, msg string) {
	var r struct{ Status, Error string }
	_ = json.Unmarshal([]byte(u.ok("runs", "show", id, "--json")), &r)
	return r.Status, r.Error
}

// waitRunStatus waits up to a minute for a run to reach a status and
// returns its error message.
func waitRunStatus(t *testing.T, u *ratUser, id, want string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, msg := u.runState(id)
		if s == want {
			return msg
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s is %s (%s), want %s", id, s, msg, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runNode is a node of a run as rat runs show --json prints it.
type runNode struct {
	Pipeline, Status, Worker string
	Attempts                 int
}

// successfulRunNodes waits for run id to succeed and returns its nodes.
func successfulRunNodes(t *testing.T, u *ratUser, id string) []runNode {
	t.Helper()
	if msg := waitRunStatus(t, u, id, "success"); msg != "" {
		t.Fatalf("run %s: %s", id, msg)
	}
	var res struct{ Nodes []runNode }
	if err := json.Unmarshal([]byte(u.ok("runs", "show", id, "--json")), &res); err != nil {
		t.Fatal(err)
	}
	return res.Nodes
}

// slowKnob makes the work of u's pipelines adjustable while they run: the
// file SLOW_FILE names (env_var in their SQL) holds a number n, as a CSV
// column n, to count up to. It starts at first; set changes it.
func slowKnob(t *testing.T, u *ratUser, first int64) (set func(n int64)) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "slow.csv")
	set = func(n int64) {
		t.Helper()
		if err := os.WriteFile(file, []byte(fmt.Sprintf("n\n%d\n", n)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set(first)
	u.env = append(u.env, "SLOW_FILE="+file)
	return set
}

// openQueueDB opens the database of u's queue: its Postgres catalog
// (RAT_CATALOG_URL) or, read-only, the workspace's .rat/queue.db. It is
// closed when the test ends.
func openQueueDB(t *testing.T, u *ratUser) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", "file:"+filepath.Join(u.dir, ".rat", "queue.db")+"?mode=ro&_pragma=busy_timeout(10000)"
	for _, kv := range u.env {
		if v, ok := strings.CutPrefix(kv, "RAT_CATALOG_URL="); ok {
			driver, dsn = "pgx", v
		}
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dagNode reads the node of a pipeline in run id from the queue's
// rat_dag_nodes: its state, the worker that owns it and its attempt (all
// zero before the node exists).
func dagNode(t *testing.T, db *sql.DB, id, pipeline string) (state, owner string, attempt int) {
	t.Helper()
	err := db.QueryRow(`SELECT state, owner, attempt FROM rat_dag_nodes WHERE run_id = $1 AND pipeline = $2`, id, pipeline).Scan(&state, &owner, &attempt)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		t.Fatal(err)
	}
	return state, owner, attempt
}

// waitNodeRunning waits, up to two minutes, for the node of a pipeline in
// run id to be running, and returns the worker that owns it.
func waitNodeRunning(t *testing.T, u *ratUser, db *sql.DB, id, pipeline string) (owner string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if state, owner, _ := dagNode(t, db, id, pipeline); state == "running" {
			return owner
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never started: %s", pipeline, u.ok("runs", "show", id))
		}
	}
}

// ownedBy reports whether a worker id (host-PID-...) names process pid.
func ownedBy(worker string, pid int) bool {
	return strings.Contains(worker, fmt.Sprintf("-%d-", pid))
}

// workerOwning returns the worker process that owner, a node's worker id,
// names.
func workerOwning(t *testing.T, workers map[int]*exec.Cmd, owner string) *exec.Cmd {
	t.Helper()
	for pid, w := range workers {
		if ownedBy(owner, pid) {
			return w
		}
	}
	t.Fatalf("no worker process owns the node (owner %q)", owner)
	return nil
}

// TestWorkerLogsNodesAsJSON: with RAT_LOG_FORMAT=json a worker writes one
// JSON object per node it built, with the run and the node as fields, for
// a log collector.
func TestWorkerLogsNodesAsJSON(t *testing.T) {
	u := newUser(t, false)
	u.write("workspace.yaml", "name: jsonlogs\n")
	u.write("pipelines/silver/numbers.sql", "SELECT range AS n FROM range(10)\n")
	base := startServe(t, u, "--no-worker")
	logFile := filepath.Join(t.TempDir(), "worker.log")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	worker := u.cmd("worker")
	worker.Env = append(worker.Env, "RAT_LOG_FORMAT=json")
	worker.Stderr = f
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopDaemon(worker) })
	id := postRun(t, base, `{}`)
	waitRunStatus(t, u, id, "success")
	type line struct {
		Msg, Run, Node, Status string
		Attempt                int
	}
	var built []line
	deadline := time.Now().Add(30 * time.Second)
	for len(built) == 0 {
		b, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var v line
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("a worker log line is not JSON: %q: %v", l, err)
			}
			if v.Msg == "node built" {
				built = append(built, v)
			}
		}
		if len(built) == 0 && time.Now().After(deadline) {
			t.Fatalf("no node built line in the worker's log:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(built) != 1 || built[0] != (line{Msg: "node built", Run: id, Node: "silver.numbers", Status: "success", Attempt: 1}) {
		t.Fatalf("node lines %+v, want one for run %s node silver.numbers", built, id)
	}
}
