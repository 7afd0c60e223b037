package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ownerWorkspace writes a workspace with a quick pipeline and a slow one
// (minutes of work), and runs the quick one so main has a head.
func ownerWorkspace(t *testing.T, u *ratUser) {
	t.Helper()
	u.write("workspace.yaml", "name: owners\n")
	u.write("pipelines/bronze/quick.sql", "SELECT range AS id FROM range(10)\n")
	u.write("pipelines/silver/slow.sql", "SELECT count(*) AS n FROM {{ ref('bronze.quick') }}, range(100000000000) r WHERE hash(r.range) >= 0 AND quick.id = 0\n")
	u.ok("run", "bronze.quick")
}

// branches returns the branch names and main's head.
func (u *ratUser) branches() (names []string, main string) {
	u.t.Helper()
	var refs []struct{ Name, Head string }
	if err := json.Unmarshal([]byte(u.ok("branch", "list", "--json")), &refs); err != nil {
		u.t.Fatal(err)
	}
	for _, r := range refs {
		names = append(names, r.Name)
		if r.Name == "main" {
			main = r.Head
		}
	}
	return names, main
}

// startSlowRun starts 'rat run silver.slow' and returns the process and
// the run's id once the run is recorded as running.
func startSlowRun(t *testing.T, u *ratUser) (*exec.Cmd, string) {
	t.Helper()
	cmd := u.cmd("run", "silver.slow")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the run was never recorded as running: %s", u.ok("runs", "list"))
		}
		var runs []struct{ ID, Status string }
		if err := json.Unmarshal([]byte(u.ok("runs", "list", "--status", "running", "--json")), &runs); err != nil {
			t.Fatal(err)
		}
		if len(runs) == 1 {
			return cmd, runs[0].ID
		}
	}
}

func killRun(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// checkOwnerLost checks that a killed run ended as failed (owner lost),
// its run branch is gone and main is where it was.
func checkOwnerLost(t *testing.T, u *ratUser, id, mainBefore string) {
	t.Helper()
	if status, msg := u.runState(id); status != "failed" || !strings.Contains(msg, "owner lost") || !strings.Contains(msg, "main was not changed") {
		t.Fatalf("run %s is %s (%s), want failed with owner lost", id, status, msg)
	}
	names, main := u.branches()
	for _, n := range names {
		if n == "run/"+id {
			t.Fatalf("the run branch of run %s is still there: %v", id, names)
		}
	}
	if main != mainBefore {
		t.Fatalf("main moved from %s to %s", mainBefore, main)
	}
}

// TestRunOwnerLost: a rat run process killed with kill -9 leaves its run
// running only until its lease has passed: the next rat command that lists
// runs ends it as failed (owner lost) and removes its run branch; main is
// untouched.
func TestRunOwnerLost(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	u.env = append(u.env, "RAT_RUN_LEASE=2s")
	ownerWorkspace(t, u)
	_, mainBefore := u.branches()
	cmd, id := startSlowRun(t, u)
	killRun(t, cmd)
	time.Sleep(2500 * time.Millisecond) // the lease passes without a heartbeat
	_, stderr, code := u.run("runs", "list")
	if code != 0 || !strings.Contains(stderr, "run "+id+" ended as failed: owner lost") {
		t.Fatalf("runs list: exit %d, stderr %q", code, stderr)
	}
	checkOwnerLost(t, u, id, mainBefore)
	// The workspace works on: a new run of the same pipeline is not blocked.
	u.write("pipelines/silver/slow.sql", "SELECT count(*) AS n FROM {{ ref('bronze.quick') }}\n")
	if out := u.ok("run", "silver.slow"); !strings.Contains(out, "succeeded") {
		t.Fatalf("run after the lost one:\n%s", out)
	}
}

// TestRunsCancelLocal: rat runs cancel works without a server on a run
// another rat run process executes (it stops at its next heartbeat), on one
// whose process was killed (ended at once, long before its lease), and on
// a queued run.
func TestRunsCancelLocal(t *testing.T) {
	t.Run("running in another process", func(t *testing.T) {
		t.Parallel()
		u := newUser(t, false)
		u.env = append(u.env, "RAT_RUN_LEASE=3s")
		ownerWorkspace(t, u)
		_, mainBefore := u.branches()
		cmd, id := startSlowRun(t, u)
		out := u.ok("runs", "cancel", id)
		if !strings.Contains(out, "cancelled run "+id) || !strings.Contains(out, "rat runs cancel") {
			t.Fatalf("runs cancel: %q", out)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() <= 0 {
			t.Fatalf("the cancelled rat run should exit with an error code: %v", err)
		}
		if status, msg := u.runState(id); status != "failed" || !strings.Contains(msg, "cancelled") {
			t.Fatalf("run %s is %s (%s), want failed, cancelled", id, status, msg)
		}
		if _, main := u.branches(); main != mainBefore {
			t.Fatalf("main moved from %s to %s", mainBefore, main)
		}
		u.fails("already finished (failed)", "runs", "cancel", id)
	})
	t.Run("through a server", func(t *testing.T) {
		t.Parallel()
		u := newUser(t, false)
		u.env = append(u.env, "RAT_RUN_LEASE=3s")
		ownerWorkspace(t, u)
		base := startServe(t, u, "--no-worker")
		cmd, id := startSlowRun(t, u)
		if out := u.ok("runs", "cancel", id, "--server", base); !strings.Contains(out, "cancelling run "+id) {
			t.Fatalf("runs cancel --server: %q", out)
		}
		if err := cmd.Wait(); err == nil {
			t.Fatal("the cancelled rat run exited 0")
		}
		if status, msg := u.runState(id); status != "failed" || !strings.Contains(msg, "rat runs cancel") {
			t.Fatalf("run %s is %s (%s), want failed, cancelled", id, status, msg)
		}
	})
	t.Run("process killed", func(t *testing.T) {
		t.Parallel()
		u := newUser(t, false)
		u.env = append(u.env, "RAT_RUN_LEASE=10m") // cancel does not wait for it
		ownerWorkspace(t, u)
		_, mainBefore := u.branches()
		cmd, id := startSlowRun(t, u)
		killRun(t, cmd)
		if out := u.ok("runs", "cancel", id); !strings.Contains(out, "cancelled run "+id) || !strings.Contains(out, "is gone (owner lost)") {
			t.Fatalf("runs cancel: %q", out)
		}
		checkOwnerLost(t, u, id, mainBefore)
	})
	t.Run("queued", func(t *testing.T) {
		t.Parallel()
		u := newUser(t, false)
		u.write("workspace.yaml", "name: owners\n")
		u.write("pipelines/bronze/quick.sql", "SELECT 1 AS x\n")
		base := startServe(t, u, "--no-worker")
		id := postRun(t, base, `{}`)
		if out := u.ok("runs", "cancel", id); !strings.Contains(out, "cancelled run "+id+": cancelled before it started") {
			t.Fatalf("runs cancel: %q", out)
		}
		if status, msg := u.runState(id); status != "failed" || msg != "cancelled before it started" {
			t.Fatalf("run %s is %s (%s)", id, status, msg)
		}
	})
}

// TestRunOnClosedPipe: 'rat demo 2>&1 | head -1' — rat's stdout and
// stderr are a pipe whose reader has gone after one line. rat is not
// killed by SIGPIPE half-way: the run finishes and is recorded as such.
func TestRunOnClosedPipe(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := u.cmd("demo", "demo")
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("first line: %q %v", line, err)
	}
	r.Close() // head -1 exits
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("rat demo was killed by %v after %q", ws.Signal(), line)
		}
	}
	u.dir = filepath.Join(u.dir, "demo")
	var runs []struct{ ID, Status string }
	if err := json.Unmarshal([]byte(u.ok("runs", "list", "--json")), &runs); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Status != "success" {
		t.Fatalf("runs after the closed pipe: %+v", runs)
	}
}

// TestQueryOnClosedPipe: 'rat query … | head -1' ends rat quietly when the
// reader has gone: exit 1, not killed by SIGPIPE, no message.
func TestQueryOnClosedPipe(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd := u.cmd("query", "SELECT range FROM range(10000000)", "--format", "csv")
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if line, err := bufio.NewReader(r).ReadString('\n'); err != nil || line != "range\n" {
		t.Fatalf("first line: %q %v", line, err)
	}
	r.Close()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || stderr.String() != "" {
		t.Fatalf("rat query into a closed pipe: %v, stderr %q", err, stderr.String())
	}
}
