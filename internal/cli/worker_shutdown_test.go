package cli

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWorkerShutdown stops the worker that builds a node with SIGTERM, in
// a cluster of two workers on the embedded queue. With a grace period long
// enough, the node is finished by that worker (once, attempt 1) and the
// worker claims nothing after the signal: the node it unblocks is built by
// the other worker. With a short --shutdown-timeout, the node goes back to
// the queue when the grace period ends and the other worker builds it
// (attempt 2). Either way the run publishes each row once.
func TestWorkerShutdown(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout string
		handed  bool // the node goes to the other worker
	}{
		{"finishes within the grace period", "5m", false},
		{"handed back after a short grace period", "1s", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newUser(t, false)
			slowFile := filepath.Join(t.TempDir(), "slow.csv")
			setSlow := func(n int64) {
				t.Helper()
				if err := os.WriteFile(slowFile, []byte(fmt.Sprintf("n\n%d\n", n)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.handed {
				setSlow(100_000_000_000) // minutes: the grace period ends first
			} else {
				setSlow(500_000_000) // seconds: well within the grace period
			}
			u.env = append(u.env, "SLOW_FILE="+slowFile, "RAT_MAX_PARALLEL_PIPELINES=1")
			u.write("workspace.yaml", "name: shutdown\n")
			// An incremental (append) table: a node built twice without the
			// reset of its second attempt would hold each row twice.
			u.write("pipelines/silver/slow.sql", "-- @materialized: incremental\n"+
				"SELECT range AS id FROM range(1000) WHERE (SELECT count(*) FROM range((SELECT n FROM read_csv('{{ env_var(\"SLOW_FILE\") }}'))) r "+
				"WHERE hash(r.range) >= 0) >= 0\n")
			u.write("pipelines/gold/after.sql", "SELECT count(*) AS n FROM {{ ref('silver.slow') }}\n")

			base := startServe(t, u, "--no-worker")
			workers := map[int]*exec.Cmd{}
			for range 2 {
				_, w := startProcess(t, u, regexp.MustCompile(`(worker started)`), "worker", "--shutdown-timeout", tc.timeout)
				workers[w.Process.Pid] = w
			}
			id := postRun(t, base, `{}`)

			db, err := sql.Open("sqlite", "file:"+filepath.Join(u.dir, ".rat", "queue.db")+"?mode=ro&_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			nodeState := func() (state, owner string) {
				t.Helper()
				err := db.QueryRow(`SELECT state, owner FROM rat_dag_nodes WHERE run_id = ? AND pipeline = 'silver.slow'`, id).Scan(&state, &owner)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					t.Fatal(err)
				}
				return state, owner
			}
			var owner string
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("silver.slow never started: %s", u.ok("runs", "show", id))
				}
				if state, o := nodeState(); state == "running" {
					owner = o
					break
				}
			}
			var victim *exec.Cmd
			for pid, w := range workers {
				if strings.Contains(owner, fmt.Sprintf("-%d-", pid)) {
					victim = w
				}
			}
			if victim == nil {
				t.Fatalf("no worker process owns silver.slow (owner %q)", owner)
			}
			time.Sleep(300 * time.Millisecond) // into the node
			if err := victim.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if state, o := nodeState(); state != "running" || o != owner {
				t.Fatalf("silver.slow ended before the signal (%s, %q): make it slower", state, o)
			}
			if tc.handed {
				setSlow(1000) // the next attempt is quick
			}
			waitErr := make(chan error, 1)
			go func() { waitErr <- victim.Wait() }()
			if err := <-waitErr; err != nil {
				t.Fatalf("the stopped worker: %v", err)
			}
			if msg := waitRunStatus(t, u, id, "success"); msg != "" {
				t.Fatalf("run %s: %s", id, msg)
			}
			var res struct {
				Nodes []struct {
					Pipeline, Status, Worker string
					Attempts                 int
				}
			}
			if err := json.Unmarshal([]byte(u.ok("runs", "show", id, "--json")), &res); err != nil {
				t.Fatal(err)
			}
			byVictim := func(worker string) bool { return strings.Contains(worker, fmt.Sprintf("-%d-", victim.Process.Pid)) }
			for _, n := range res.Nodes {
				switch {
				case n.Status != "success":
					t.Fatalf("node %+v", n)
				case n.Pipeline == "silver.slow" && !tc.handed && (!byVictim(n.Worker) || n.Attempts > 1):
					t.Fatalf("silver.slow should be finished by the stopped worker %d in its first attempt: %+v", victim.Process.Pid, n)
				case n.Pipeline == "silver.slow" && tc.handed && (byVictim(n.Worker) || n.Attempts != 2):
					t.Fatalf("silver.slow should be built by the other worker in attempt 2: %+v", n)
				case n.Pipeline == "gold.after" && byVictim(n.Worker):
					t.Fatalf("the stopped worker went on with gold.after: %+v", n)
				}
			}
			if len(res.Nodes) != 2 {
				t.Fatalf("nodes: %+v", res.Nodes)
			}
			if got := strings.TrimSpace(u.ok("query", "SELECT count(*) AS n, count(DISTINCT id) AS d FROM silver.slow", "--format", "csv")); got != "n,d\n1000,1000" {
				t.Fatalf("silver.slow:\n%s", got)
			}
			if got := strings.TrimSpace(u.ok("query", "SELECT n FROM gold.after", "--format", "csv")); got != "n\n1000" {
				t.Fatalf("gold.after:\n%s", got)
			}
		})
	}
}

// TestServeShutdownTimeout: rat serve builds nodes too; SIGTERM lets the
// node it builds finish within --shutdown-timeout instead of cancelling it.
func TestServeShutdownTimeout(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	u.env = append(u.env, "RAT_MAX_PARALLEL_PIPELINES=1")
	u.write("workspace.yaml", "name: shutdown\n")
	u.write("pipelines/silver/slow.sql", "SELECT count(*) AS n FROM range(400000000) r WHERE hash(r.range) >= 0\n")
	base, serve := startProcess(t, u, regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`), "serve", "--listen", "127.0.0.1:0", "--shutdown-timeout", "5m")
	id := postRun(t, base, `{}`)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(u.dir, ".rat", "queue.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	node := func() (state string, attempt int) {
		t.Helper()
		err := db.QueryRow(`SELECT state, attempt FROM rat_dag_nodes WHERE run_id = ? AND pipeline = 'silver.slow'`, id).Scan(&state, &attempt)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		return state, attempt
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("silver.slow never started: %s", u.ok("runs", "show", id))
		}
		if state, _ := node(); state == "running" {
			break
		}
	}
	time.Sleep(300 * time.Millisecond)
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if state, _ := node(); state != "running" {
		t.Fatalf("silver.slow ended (%s) before the signal: make it slower", state)
	}
	if err := serve.Wait(); err != nil {
		t.Fatalf("rat serve: %v", err)
	}
	if state, attempt := node(); state != "success" || attempt != 1 {
		t.Fatalf("silver.slow is %s in attempt %d, want success in attempt 1 (built within the grace period)", state, attempt)
	}
}
