package cli

import (
	"os/exec"
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
			slow := int64(500_000_000) // seconds: well within the grace period
			if tc.handed {
				slow = 100_000_000_000 // minutes: the grace period ends first
			}
			setSlow := slowKnob(t, u, slow)
			u.env = append(u.env, "RAT_MAX_PARALLEL_PIPELINES=1")
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

			db := openQueueDB(t, u)
			owner := waitNodeRunning(t, u, db, id, "silver.slow")
			victim := workerOwning(t, workers, owner)
			time.Sleep(300 * time.Millisecond) // into the node
			if err := victim.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if state, o, _ := dagNode(t, db, id, "silver.slow"); state != "running" || o != owner {
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
			nodes := successfulRunNodes(t, u, id)
			byVictim := func(worker string) bool { return ownedBy(worker, victim.Process.Pid) }
			for _, n := range nodes {
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
			if len(nodes) != 2 {
				t.Fatalf("nodes: %+v", nodes)
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
	db := openQueueDB(t, u)
	waitNodeRunning(t, u, db, id, "silver.slow")
	time.Sleep(300 * time.Millisecond)
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if state, _, _ := dagNode(t, db, id, "silver.slow"); state != "running" {
		t.Fatalf("silver.slow ended (%s) before the signal: make it slower", state)
	}
	if err := serve.Wait(); err != nil {
		t.Fatalf("rat serve: %v", err)
	}
	if state, _, attempt := dagNode(t, db, id, "silver.slow"); state != "success" || attempt != 1 {
		t.Fatalf("silver.slow is %s in attempt %d, want success in attempt 1 (built within the grace period)", state, attempt)
	}
}
