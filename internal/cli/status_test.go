package cli

import (
	"encoding/json"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ratdata/rat/internal/monitor"
)

// TestStatus: rat status lists rat serve and rat worker from their
// heartbeats, locally and through --server; thresholds lowered in
// workspace.yaml turn the status to warning (exit 1) then critical (exit
// 2) with the advice; a killed worker leaves the list after its lease.
func TestStatus(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		// Memory in use is far above 0.001 %; CPU and disk can only reach
		// their levels on a machine at 99.98 %, so the machine's load
		// does not decide the exit codes.
		thresholds := func(memory string) string {
			return "name: st\nmonitoring:\n  heartbeat_interval: 1s\n  thresholds:\n    memory: " + memory +
				"\n    cpu: {warning: 99.98, critical: 99.99}\n    disk: {warning: 99.98, critical: 99.99}\n"
		}
		u.write("workspace.yaml", thresholds("{warning: 0.001, critical: 99.99}"))
		u.write("pipelines/silver/one.sql", "SELECT 1 AS n\n")
		status := func(args ...string) (monitor.Report, string, int) {
			t.Helper()
			out, errs, code := u.run(append([]string{"status"}, args...)...)
			var rep monitor.Report
			if strings.Contains(strings.Join(args, " "), "--json") {
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatalf("rat status %v: %v\n%s%s", args, err, out, errs)
				}
			}
			return rep, out, code
		}
		// Nothing runs yet: a warning that says to start rat serve.
		if _, out, code := status(); code != 1 || !strings.Contains(out, "start rat serve") {
			t.Fatalf("before any process: exit %d\n%s", code, out)
		}
		base := startServe(t, u)
		// The worker logs JSON objects for a log collector.
		u.env = append(u.env, "RAT_LOG_FORMAT=json")
		_, worker := startProcess(t, u, regexp.MustCompile(`^\{"time":"[^"]+","level":"INFO","msg":"(worker started)`), "worker")
		roles := func(rep monitor.Report) string {
			var rs []string
			for _, p := range rep.Processes {
				rs = append(rs, p.Role)
			}
			return strings.Join(rs, ",")
		}
		deadline := time.Now().Add(60 * time.Second)
		var rep monitor.Report
		for rep, _, _ = status("--json"); roles(rep) != "serve,worker"; rep, _, _ = status("--json") {
			if time.Now().After(deadline) {
				t.Fatalf("serve and worker never both appeared: %+v", rep)
			}
			time.Sleep(200 * time.Millisecond)
		}
		for _, p := range rep.Processes {
			if p.Host == "" || p.Version == "" || p.PID == 0 || p.Resources.MemoryBytes <= 0 || p.Resources.MemoryLimitBytes <= 0 || len(p.Resources.Disks) == 0 || p.Status != monitor.Warning {
				t.Errorf("process %+v", p)
			}
		}
		_, out, code := status()
		if code != 1 || !strings.Contains(out, "rat status: WARNING") || !regexp.MustCompile(`worker \S+ at \d+ % memory`).MatchString(out) || !strings.Contains(out, "use a larger profile") {
			t.Fatalf("memory over the lowered warning level: exit %d\n%s", code, out)
		}
		// The server answers for the cluster by its own workspace's
		// thresholds, the same.
		remote, _, code := status("--json", "--server", base)
		if code != 1 || roles(remote) != "serve,worker" || remote.Status != monitor.Warning || remote.Thresholds.Memory.Warning != 0.00001 {
			t.Fatalf("--server: exit %d %+v", code, remote)
		}
		// Critical when the critical level is lowered too.
		u.write("workspace.yaml", thresholds("{warning: 0.001, critical: 0.002}"))
		if _, out, code := status(); code != 2 || !strings.Contains(out, "rat status: CRITICAL") || !strings.Contains(out, "critical") {
			t.Fatalf("memory over the lowered critical level: exit %d\n%s", code, out)
		}
		// A worker killed outright stops beating: it is listed until its
		// lease (3 × 1s) ends, then not.
		if err := worker.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = worker.Wait()
		killed := time.Now()
		for rep, _, _ = status("--json"); roles(rep) != "serve"; rep, _, _ = status("--json") {
			if time.Now().After(deadline.Add(30 * time.Second)) {
				t.Fatalf("the killed worker is still listed: %+v", rep)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if gone := time.Since(killed); gone < time.Second {
			t.Errorf("the killed worker left after %s, before its lease could end", gone)
		}
		// Usage errors.
		u.fails("--watch and --json do not go together", "status", "--watch", "--json")
		u.fails("--interval 1ms: want 500ms or more", "status", "--interval", "1ms")
		if _, errs, code := u.runEnv([]string{"RAT_LOG_FORMAT=xml"}, "status"); code != 2 || !strings.Contains(errs, "RAT_LOG_FORMAT=\"xml\": want text (the default) or json") {
			t.Errorf("RAT_LOG_FORMAT=xml: exit %d %s", code, errs)
		}
	})
}
