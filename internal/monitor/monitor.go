// Package monitor judges a cluster's state for rat status: each process's
// heartbeat (memory, CPU, disk, query latency) against the thresholds of
// workspace.yaml, the queue, failed runs and stale tables, each warning
// with what to do about it; and prints it on one screen. It is pure: the
// composition root gathers the Report, the API serves it, the CLI prints
// it and exits with its status (0 ok, 1 warning, 2 critical: the
// monitoring-plugin convention).
package monitor

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/metrics"
	"github.com/ratdata/rat/internal/textout"
	"github.com/ratdata/rat/internal/trigger"
)

// Statuses of a report and of each of its warnings.
const (
	OK       = "ok"
	Warning  = "warning"
	Critical = "critical"
)

// Report is the state of a workspace's cluster at one moment.
type Report struct {
	Generated time.Time `json:"generated"`
	Status    string    `json:"status"` // ok, warning or critical: the worst warning's
	// Processes are the rat serve and rat worker processes whose
	// heartbeat is live.
	Processes []Process `json:"processes"`
	// Queue is the backlog; nil when the queue could not be read.
	Queue *Queue `json:"queue,omitempty"`
	// Running are the runs under way; Failed the runs that failed in the
	// last FailedWindow (newest first, at most MaxFailed).
	Running  int         `json:"running"`
	Failed   []FailedRun `json:"failed"`
	Stale    []Stale     `json:"stale"`
	Warnings []Finding   `json:"warnings"`
	// Thresholds are the levels the report was judged by (ratios,
	// seconds).
	Thresholds config.Thresholds `json:"thresholds"`
}

// Process is one process's last heartbeat.
type Process struct {
	ID        string           `json:"id"`
	Role      string           `json:"role"` // serve or worker
	Host      string           `json:"host"`
	PID       int64            `json:"pid"`
	Version   string           `json:"version"`
	Started   time.Time        `json:"started"`
	Seen      time.Time        `json:"seen"`
	Resources metrics.Snapshot `json:"resources"`
	Status    string           `json:"status"` // its worst finding's
}

// Queue is the run queue's backlog.
type Queue struct {
	Waiting           int     `json:"waiting"`
	OldestWaitSeconds float64 `json:"oldest_wait_seconds"`
}

// FailedRun is a run that failed recently.
type FailedRun struct {
	ID       string    `json:"id"`
	Target   string    `json:"target"`
	Finished time.Time `json:"finished"`
}

// Stale is a pipeline's table past its freshness policy.
type Stale struct {
	Table      string  `json:"table"`
	Status     string  `json:"status"`                // warn (past warn_after), error (past error_after), unknown (never built)
	AgeSeconds float64 `json:"age_seconds,omitempty"` // since it last changed
}

// Finding is one thing wrong and what to do about it.
type Finding struct {
	Status  string `json:"status"`  // warning or critical
	Subject string `json:"subject"` // what it is about: a process, a table, the queue
	Message string `json:"message"`
	Advice  string `json:"advice"`
}

// FailedWindow is how far back failed runs count.
const FailedWindow = 24 * time.Hour

// MaxFailed bounds the failed runs a report lists.
const MaxFailed = 10

// QueueWaitWarning is how long the oldest run may wait for a worker before
// the queue is a warning.
const QueueWaitWarning = 5 * time.Minute

// Evaluate judges r by th: it sets the findings, each process's status and
// the report's.
func Evaluate(r *Report, th config.Thresholds) {
	r.Thresholds, r.Warnings, r.Status = th, nil, OK
	if len(r.Processes) == 0 {
		r.add(Finding{Status: Warning, Subject: "cluster", Message: "no rat serve or rat worker process has a live heartbeat",
			Advice: "start rat serve (and rat worker on other machines); nothing runs scheduled pipelines meanwhile"})
	}
	for i := range r.Processes {
		p := &r.Processes[i]
		p.Status = OK
		for _, f := range judgeProcess(p, th) {
			p.Status = worse(p.Status, f.Status)
			r.add(f)
		}
	}
	if q := r.Queue; q != nil && q.Waiting > 0 && time.Duration(q.OldestWaitSeconds*float64(time.Second)) >= QueueWaitWarning {
		r.add(Finding{Status: Warning, Subject: "queue", Message: fmt.Sprintf("%d job(s) waiting, the oldest for %s", q.Waiting, round(q.OldestWaitSeconds)),
			Advice: "start more rat worker processes, or raise max_parallel_pipelines where memory allows"})
	}
	if n := len(r.Failed); n > 0 {
		f := r.Failed[0]
		r.add(Finding{Status: Warning, Subject: "runs", Message: fmt.Sprintf("%d run(s) failed in the last %.0fh, the newest %s (%s)", n, FailedWindow.Hours(), f.ID, f.Target),
			Advice: "rat runs show " + f.ID + " says why; fix and run it again"})
	}
	r.judgeStale()
}

// maxStaleFindings is how many stale tables get a finding each; past it,
// the tables of one state share one finding, so the screen stays one.
const maxStaleFindings = 5

// judgeStale turns the stale tables into findings.
func (r *Report) judgeStale() {
	byState := map[string][]Stale{}
	for _, s := range r.Stale {
		byState[s.Status] = append(byState[s.Status], s)
	}
	for _, state := range []string{trigger.Expired, trigger.Stale, trigger.Unknown} {
		tables := byState[state]
		st, what := Warning, "past its warn_after"
		switch state {
		case trigger.Expired:
			st, what = Critical, "past its error_after"
		case trigger.Unknown:
			what = "never built"
		}
		if len(r.Stale) > maxStaleFindings && len(tables) > 0 {
			names := make([]string, 0, 3)
			for _, t := range tables[:min(3, len(tables))] {
				names = append(names, t.Table)
			}
			more := ""
			if len(tables) > 3 {
				more = ", …"
			}
			r.add(Finding{Status: st, Subject: "freshness", Message: fmt.Sprintf("%d tables %s (%s%s)", len(tables), what, strings.Join(names, ", "), more),
				Advice: "run them (rat run), or check their schedules and last runs; rat status --json lists them all"})
			continue
		}
		for _, s := range tables {
			msg := what
			if s.AgeSeconds > 0 {
				msg += fmt.Sprintf(" (last changed %s ago)", round(s.AgeSeconds))
			}
			r.add(Finding{Status: st, Subject: s.Table, Message: "table " + s.Table + " " + msg,
				Advice: "run it (rat run " + s.Table + ") or check its schedule and its last run"})
		}
	}
}

// Add adds a finding that no threshold decides (a part that could not be
// read), after Evaluate.
func Add(r *Report, f Finding) { r.add(f) }

func (r *Report) add(f Finding) {
	r.Warnings = append(r.Warnings, f)
	r.Status = worse(r.Status, f.Status)
}

// judgeProcess compares a process's resources with the thresholds.
func judgeProcess(p *Process, th config.Thresholds) []Finding {
	name := p.Role + " " + p.Host
	res := p.Resources
	var out []Finding
	check := func(v float64, l config.Levels, what, advice string) {
		st := level(v, l)
		if st == OK {
			return
		}
		out = append(out, Finding{Status: st, Subject: name, Message: fmt.Sprintf("%s at %s", name, what), Advice: advice})
	}
	if res.MemoryLimitBytes > 0 {
		check(res.MemoryRatio(), th.Memory, fmt.Sprintf("%.0f %% memory (%s of %s)", 100*res.MemoryRatio(), textout.Bytes(res.MemoryBytes), textout.Bytes(res.MemoryLimitBytes)),
			"use a larger profile (RAT_PROFILE) or a larger memory limit, or lower duckdb_memory_mb or max_parallel_pipelines")
	}
	check(res.CPURatio, th.CPU, fmt.Sprintf("%.0f %% CPU of %g core(s)", 100*res.CPURatio, res.CPUs),
		"give it more CPUs (a larger quota), add rat worker processes, or lower max_parallel_pipelines")
	for _, d := range res.Disks {
		advice := map[string]string{
			"warehouse": "free disk space or move the warehouse to S3 (storage.warehouse); expire old snapshots",
			"spill":     "DuckDB spills there: free disk space under .rat/tmp, or raise duckdb_memory_mb so it spills less",
			"cache":     "the read cache fills it: lower cache_mb or give the state directory more disk",
		}[d.Volume]
		check(d.UsedRatio(), th.Disk, fmt.Sprintf("%.0f %% disk on its %s volume (%s free)", 100*d.UsedRatio(), d.Volume, textout.Bytes(int64(d.FreeBytes))), advice)
	}
	if res.ProfileWarning != "" {
		out = append(out, Finding{Status: Warning, Subject: name, Message: name + ": " + res.ProfileWarning,
			Advice: "set RAT_PROFILE=auto (the largest profile that fits) or give the process the memory its profile asks"})
	}
	if res.QueryP95Seconds > 0 {
		check(res.QueryP95Seconds, th.QueryLatency, fmt.Sprintf("a p95 query latency of %s", round(res.QueryP95Seconds)),
			"use a larger profile (more DuckDB memory and threads), or look at the slow queries' plans")
	}
	return out
}

// level is v's status against l.
func level(v float64, l config.Levels) string {
	switch {
	case v >= l.Critical:
		return Critical
	case v >= l.Warning:
		return Warning
	}
	return OK
}

var order = []string{OK, Warning, Critical}

// worse is the worse of two statuses.
func worse(a, b string) string {
	if slices.Index(order, b) > slices.Index(order, a) {
		return b
	}
	return a
}

// ExitCode is the status as a monitoring plugin's exit code: 0 ok, 1
// warning, 2 critical.
func (r *Report) ExitCode() int { return max(0, slices.Index(order, r.Status)) }

// round prints seconds as a short duration.
func round(s float64) time.Duration {
	d := time.Duration(s * float64(time.Second))
	if d >= time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(10 * time.Millisecond)
}
