package monitor_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/metrics"
	"github.com/ratdata/rat/internal/monitor"
	"github.com/ratdata/rat/internal/trigger"
)

func TestEvaluate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	gib := int64(1 << 30)
	proc := func(role, host string, mem float64, cpu float64, disk uint64) monitor.Process {
		return monitor.Process{Role: role, Host: host, Version: "v1", Started: now.Add(-time.Hour), Seen: now,
			Resources: metrics.Snapshot{MemoryBytes: int64(mem * float64(2*gib)), MemoryLimitBytes: 2 * gib, CPURatio: cpu, CPUs: 2,
				Disks: []metrics.Disk{{Volume: "spill", UsedBytes: disk, FreeBytes: 100 - disk}}}}
	}
	for _, tc := range []struct {
		name   string
		r      monitor.Report
		th     config.Thresholds
		status string
		exit   int
		want   []string // in the printed screen
	}{
		{"all well", monitor.Report{Processes: []monitor.Process{proc("serve", "a", 0.2, 0.1, 10)}, Queue: &monitor.Queue{}},
			config.DefaultThresholds, monitor.OK, 0, []string{"rat status: OK", "no warnings", "queue: 0 waiting"}},
		// The example: a worker at 93 % memory.
		{"memory critical", monitor.Report{Processes: []monitor.Process{proc("serve", "a", 0.2, 0.1, 10), proc("worker", "w-2", 0.93, 0.1, 10)}},
			config.DefaultThresholds, monitor.Critical, 2, []string{"worker w-2 at 93 % memory (1.9 GiB of 2.0 GiB)", "use a larger profile", "lower duckdb_memory_mb", "critical"}},
		// Exactly at a threshold is that level; just below is not.
		{"cpu at warning", monitor.Report{Processes: []monitor.Process{proc("worker", "b", 0.1, 0.80, 10)}},
			config.DefaultThresholds, monitor.Warning, 1, []string{"worker b at 80 % CPU of 2 core(s)", "add rat worker processes"}},
		{"cpu below warning", monitor.Report{Processes: []monitor.Process{proc("worker", "b", 0.1, 0.7999, 10)}},
			config.DefaultThresholds, monitor.OK, 0, nil},
		// Lowered thresholds turn the same numbers into warnings.
		{"lowered thresholds", monitor.Report{Processes: []monitor.Process{proc("worker", "b", 0.2, 0.1, 30)}},
			config.Thresholds{Memory: config.Levels{Warning: 0.1, Critical: 0.5}, CPU: config.DefaultThresholds.CPU, Disk: config.Levels{Warning: 0.2, Critical: 0.25}, QueryLatency: config.DefaultThresholds.QueryLatency},
			monitor.Critical, 2, []string{"20 % memory", "30 % disk on its spill volume", "DuckDB spills there"}},
		// A profile too large for the process's memory limit (issue 13).
		{"profile does not fit", monitor.Report{Processes: []monitor.Process{func() monitor.Process {
			p := proc("worker", "w-1", 0.2, 0.1, 10)
			p.Resources.ProfileWarning = "profile large (env RAT_PROFILE) asks 98304 MB for DuckDB, more than 75% of the 4.0 GiB memory limit"
			return p
		}()}}, config.DefaultThresholds, monitor.Warning, 1, []string{"worker w-1: profile large (env RAT_PROFILE) asks 98304 MB", "RAT_PROFILE=auto"}},
		{"nobody home", monitor.Report{}, config.DefaultThresholds, monitor.Warning, 1, []string{"no rat serve or rat worker process has a live heartbeat", "start rat serve"}},
		{"runs, queue and tables", monitor.Report{Processes: []monitor.Process{proc("serve", "a", 0.2, 0.1, 10)},
			Queue:  &monitor.Queue{Waiting: 3, OldestWaitSeconds: 600},
			Failed: []monitor.FailedRun{{ID: "r-9", Target: "main", Finished: now}},
			Stale:  []monitor.Stale{{Table: "silver.orders", Status: trigger.Stale, AgeSeconds: 7200}, {Table: "gold.kpis", Status: trigger.Expired, AgeSeconds: 90000}}},
			config.DefaultThresholds, monitor.Critical, 2, []string{"3 job(s) waiting, the oldest for 10m0s", "start more rat worker", "1 run(s) failed", "rat runs show r-9",
				"table silver.orders past its warn_after (last changed 2h0m0s ago)", "table gold.kpis past its error_after", "rat run gold.kpis"}},
		// Many stale tables share one finding per state.
		{"many stale tables", monitor.Report{Processes: []monitor.Process{proc("serve", "a", 0.2, 0.1, 10)}, Stale: manyStale(8)},
			config.DefaultThresholds, monitor.Warning, 1, []string{"8 tables never built (silver.t0, silver.t1, silver.t2, …)", "rat status --json lists them all"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			r.Generated = now
			monitor.Evaluate(&r, tc.th)
			if r.Status != tc.status || r.ExitCode() != tc.exit {
				t.Fatalf("status %s exit %d, want %s %d: %+v", r.Status, r.ExitCode(), tc.status, tc.exit, r.Warnings)
			}
			var b strings.Builder
			monitor.Render(&b, &r)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("the screen lacks %q:\n%s", w, b.String())
				}
			}
			if tc.name == "many stale tables" && len(r.Warnings) != 1 {
				t.Errorf("8 tables never built: %d findings, want one", len(r.Warnings))
			}
			if tc.status == monitor.OK && len(r.Warnings) != 0 {
				t.Errorf("ok with warnings: %+v", r.Warnings)
			}
		})
	}
}

func manyStale(n int) []monitor.Stale {
	out := make([]monitor.Stale, n)
	for i := range out {
		out[i] = monitor.Stale{Table: fmt.Sprintf("silver.t%d", i), Status: trigger.Unknown}
	}
	return out
}
