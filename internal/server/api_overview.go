package server

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/pipeline"
)

// gauge is one resource against the thresholds operators are told to
// watch. Status is ok, warn, critical, or unknown when it cannot be
// measured here.
type gauge struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"` // a ratio 0–1, or seconds for latency
	Unit     string  `json:"unit"`  // ratio or seconds
	Warn     float64 `json:"warn"`
	Critical float64 `json:"critical"`
	Status   string  `json:"status"`
}

// Thresholds of the overview's gauges (the operations guide's numbers).
var gaugeLimits = map[string][2]float64{
	"memory":            {0.70, 0.90},
	"cpu":               {0.80, 0.95},
	"disk":              {0.70, 0.85},
	"query_latency_p95": {5, 30},
}

func newGauge(name, unit string, v float64, known bool) gauge {
	l := gaugeLimits[name]
	g := gauge{Name: name, Unit: unit, Value: v, Warn: l[0], Critical: l[1], Status: "ok"}
	switch {
	case !known || math.IsNaN(v):
		g.Status, g.Value = "unknown", 0
	case v >= l[1]:
		g.Status = "critical"
	case v >= l[0]:
		g.Status = "warn"
	}
	return g
}

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
		Workspace string          `json:"workspace"`
		Pipelines int             `json:"pipelines"`
		Checks    []checkJSON     `json:"checks"`
		Gauges    []gauge         `json:"gauges"`
		Runs      []runJSON       `json:"runs"`
		Failing   []failingTest   `json:"failing_tests"`
		Stale     []freshnessJSON `json:"stale_tables"`
		Warnings  []string        `json:"warnings,omitempty"`
	}{Checks: s.runChecks(ctx), Runs: []runJSON{}, Failing: []failingTest{}, Stale: []freshnessJSON{}}

	mem, memOK := memoryUsed()
	cpu, cpuOK := s.cpu.used()
	disk := 0.0
	if s.cfg.StateDir != "" {
		disk = diskUsedRatio(s.cfg.StateDir)
	}
	p95, p95OK := histogramQuantile(s.metrics.queryDuration, 0.95)
	out.Gauges = []gauge{
		newGauge("memory", "ratio", mem, memOK),
		newGauge("cpu", "ratio", cpu, cpuOK),
		newGauge("disk", "ratio", disk, disk > 0),
		newGauge("query_latency_p95", "seconds", p95, p95OK),
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
	if s.cfg.Runs != nil {
		runs, err := s.cfg.Runs.Runs(ctx, rat.RunFilter{Limit: 30})
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for i, run := range runs {
			if i < 10 {
				out.Runs = append(out.Runs, toRunJSON(run))
			}
			if run.Finished.IsZero() {
				continue
			}
			// The newest result of each test decides whether it fails now.
			var res pipeline.Result
			if json.Unmarshal(run.Detail, &res) != nil {
				continue
			}
			for _, t := range res.Tests {
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

func toRunJSON(run rat.Run) runJSON {
	j := runJSON{ID: run.ID, Target: run.Target, Status: run.Status, Trigger: run.Trigger, Started: run.Started.UTC()}
	if !run.Finished.IsZero() {
		f := run.Finished.UTC()
		j.Finished = &f
	}
	return j
}

// histogramQuantile estimates a quantile of a histogram by linear
// interpolation inside its bucket, as Prometheus' histogram_quantile does.
func histogramQuantile(h interface{ Write(*dto.Metric) error }, q float64) (float64, bool) {
	var m dto.Metric
	if err := h.Write(&m); err != nil || m.Histogram == nil || m.Histogram.GetSampleCount() == 0 {
		return 0, false
	}
	total := float64(m.Histogram.GetSampleCount())
	rank := q * total
	prevBound, prevCount := 0.0, 0.0
	for _, b := range m.Histogram.Bucket {
		c := float64(b.GetCumulativeCount())
		if c >= rank {
			if c == prevCount {
				return b.GetUpperBound(), true
			}
			return prevBound + (b.GetUpperBound()-prevBound)*(rank-prevCount)/(c-prevCount), true
		}
		prevBound, prevCount = b.GetUpperBound(), c
	}
	return prevBound, true // beyond the last bucket: at least that much
}

// memoryUsed is the used fraction of the machine's memory, or of the
// cgroup's limit when one is set (a container sees the host's meminfo).
func memoryUsed() (float64, bool) {
	if used, ok := readInt("/sys/fs/cgroup/memory.current"); ok {
		if limit, ok := readInt("/sys/fs/cgroup/memory.max"); ok && limit > 0 {
			return float64(used) / float64(limit), true
		}
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var total, avail float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "MemTotal:":
			total = v
		case "MemAvailable:":
			avail = v
		}
	}
	if total == 0 {
		return 0, false
	}
	return 1 - avail/total, true
}

func readInt(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

// cpuMeter measures the machine's CPU use between two calls (the first
// call measures since boot), from /proc/stat.
type cpuMeter struct {
	mu          sync.Mutex
	busy, total float64
	last        float64 // the last measure, answered again when calls come too close
	known       bool
}

func (c *cpuMeter) used() (float64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, false
	}
	var total, idle float64
	for i, f := range fields[1:] {
		v, _ := strconv.ParseFloat(f, 64)
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	busy := total - idle
	c.mu.Lock()
	defer c.mu.Unlock()
	db, dt := busy-c.busy, total-c.total
	if dt < 100 { // under about a second of one core's ticks: too noisy
		return c.last, c.known
	}
	c.busy, c.total = busy, total
	c.last, c.known = db/dt, true
	return c.last, true
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
		var d struct {
			Nodes []struct {
				Pipeline string `json:"pipeline"`
				Status   string `json:"status"`
			} `json:"nodes"`
			Tests []pipeline.TestResult `json:"tests"`
		}
		if json.Unmarshal(run.Detail, &d) != nil {
			continue
		}
		// A node that built but failed an error-severity test did not
		// publish: it shows as failed.
		failedTests := map[string]bool{}
		for _, t := range d.Tests {
			if t.Severity != "warn" && (t.Status == pipeline.TestFail || t.Status == pipeline.TestError) {
				failedTests[t.Pipeline] = true
			}
		}
		for _, n := range d.Nodes {
			if _, ok := out[n.Pipeline]; !ok && n.Status != string(pipeline.StatusPlanned) {
				st := n.Status
				if st == string(pipeline.StatusSuccess) && failedTests[n.Pipeline] {
					st = string(pipeline.StatusFailed)
				}
				out[n.Pipeline] = pipelineStatus{Status: st, Run: run.ID, At: run.Started.UTC()}
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"pipelines": out})
	return nil
}
