package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/metrics"
	"github.com/ratdata/rat/internal/pipeline"
)

// failingTest is a test whose latest result failed.
type failingTest struct {
	pipeline.TestResult
	Run  string    `json:"run"`
	When time.Time `json:"when"`
}

// getOverview is GET /api/v1/overview: everything the UI's first page
// shows in one answer — health checks, resource gauges, recent runs, the
// tests failing now and the tables past their freshness.
func (s *Server) getOverview(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	out := struct {
		Workspace string           `json:"workspace"`
		Pipelines int              `json:"pipelines"`
		Checks    []checkJSON      `json:"checks"`
		Gauges    []gauge          `json:"gauges"`
		Runs      []rat.RunSummary `json:"runs"`
		Failing   []failingTest    `json:"failing_tests"`
		Stale     []freshnessJSON  `json:"stale_tables"`
		Queue     *queueJSON       `json:"queue,omitempty"`
		Warnings  []string         `json:"warnings,omitempty"`
	}{Checks: s.runChecks(ctx), Runs: []rat.RunSummary{}, Failing: []failingTest{}, Stale: []freshnessJSON{}}
	if s.cfg.QueueWaiting != nil {
		if n, oldest, err := s.cfg.QueueWaiting(ctx); err == nil {
			out.Queue = &queueJSON{Waiting: n, OldestWaitSeconds: oldest.Seconds()}
		}
	}

	// This process against its limits (the cgroup's in a container), as
	// its heartbeat reports it to rat status.
	res := s.meter.Snapshot()
	measured := s.meter.Err() == nil
	mem, memOK := res.MemoryRatio(), measured && res.MemoryLimitBytes > 0
	cpu, cpuOK := res.CPURatio, measured
	disk := 0.0
	if s.cfg.StateDir != "" {
		disk = metrics.DiskUsed(s.cfg.StateDir)
	}
	p95, p95OK := s.metrics.QueryLatency(0.95)
	th := s.cfg.Thresholds
	if th == (config.Thresholds{}) {
		th = config.DefaultThresholds
	}
	out.Gauges = []gauge{
		newGauge("memory", "ratio", mem, memOK, th.Memory),
		newGauge("cpu", "ratio", cpu, cpuOK, th.CPU),
		newGauge("disk", "ratio", disk, disk > 0, th.Disk),
		newGauge("query_latency_p95", "seconds", p95, p95OK, th.QueryLatency),
	}

	if s.cfg.LoadWorkspace != nil {
		ws, err := s.cfg.LoadWorkspace(ctx)
		if err != nil {
			// A broken workspace file must not hide the rest of the page.
			out.Warnings = append(out.Warnings, "workspace: "+rat.ErrorMessage(err))
		} else {
			out.Pipelines = len(ws.Pipelines())
			if ws.Config != nil {
				out.Workspace = ws.Config.Name
			}
			fr, err := s.freshnessOf(ctx, ws)
			if err != nil {
				out.Warnings = append(out.Warnings, "freshness: "+rat.ErrorMessage(err))
			}
			for _, f := range fr {
				if f.Status != "ok" {
					out.Stale = append(out.Stale, f)
				}
			}
		}
	}
	{
		runs, err := s.cfg.Store.Runs(ctx, rat.RunFilter{Limit: 30})
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for i, run := range runs {
			if i < 10 {
				out.Runs = append(out.Runs, run.Summary())
			}
			if run.Finished.IsZero() {
				continue
			}
			// The newest result of each test decides whether it fails now.
			for _, t := range run.Detail.Tests {
				key := t.Pipeline + "\x00" + t.Name
				if seen[key] {
					continue
				}
				seen[key] = true
				if t.Status == pipeline.TestFail || t.Status == pipeline.TestError {
					out.Failing = append(out.Failing, failingTest{TestResult: t, Run: run.ID, When: run.Started.UTC()})
				}
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// queueJSON is the run queue's backlog: runs waiting for a worker and how
// long the oldest has waited.
type queueJSON struct {
	Waiting           int     `json:"waiting"`
	OldestWaitSeconds float64 `json:"oldest_wait_seconds"`
}

// checkJSON is one readiness check's state; the error stays in the log.
type checkJSON struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok or unavailable
}

func (s *Server) runChecks(ctx context.Context) []checkJSON {
	out := make([]checkJSON, len(s.cfg.Checks))
	var wg sync.WaitGroup
	for i, c := range s.cfg.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			out[i] = checkJSON{Name: c.Name, Status: "ok"}
			if err := c.Fn(ctx); err != nil {
				s.log.Warn("overview check failed", "check", c.Name, "err", err)
				out[i].Status = "unavailable"
			}
		}()
	}
	wg.Wait()
	return out
}

// pipelineStatus is a pipeline's latest node result.
type pipelineStatus struct {
	Status string    `json:"status"`
	Run    string    `json:"run"`
	At     time.Time `json:"at"`
}

// statusScan is how many of the newest runs GET /lineage/status reads.
const statusScan = 200

// getPipelineStatus is GET /api/v1/lineage/status: each pipeline's status
// in the newest run that included it (among the newest statusScan runs),
// for colouring the lineage graph: failed when it failed to build or
// failed an error-severity test.
func (s *Server) getPipelineStatus(w http.ResponseWriter, r *http.Request) error {
	rl, err := s.runLog()
	if err != nil {
		return err
	}
	runs, err := rl.Runs(r.Context(), rat.RunFilter{Limit: statusScan})
	if err != nil {
		return err
	}
	out := map[string]pipelineStatus{}
	for _, run := range runs {
		d := run.Detail
		// A node that built but failed an error-severity test did not
		// publish: it shows as failed.
		failedTests := map[string]bool{}
		for _, t := range d.Tests {
			if t.Severity != "warn" && (t.Status == pipeline.TestFail || t.Status == pipeline.TestError) {
				failedTests[t.Pipeline] = true
			}
		}
		for _, n := range d.Nodes {
			if _, ok := out[n.Pipeline]; !ok && n.Status != pipeline.StatusPlanned {
				st := n.Status
				if st == pipeline.StatusSuccess && failedTests[n.Pipeline] {
					st = pipeline.StatusFailed
				}
				out[n.Pipeline] = pipelineStatus{Status: string(st), Run: run.ID, At: run.Started.UTC()}
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"pipelines": out})
	return nil
}
