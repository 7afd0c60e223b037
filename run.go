package rat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// RunStatus is the state of a run or of one node (pipeline) of a run.
// Runs and nodes share one state machine (CanBecome): a run is queued or
// running until it ends as success, failed or skipped; a node waits for its
// upstream nodes, is queued for a worker, runs and ends the same way.
type RunStatus string

// Run and node states.
const (
	RunQueued  RunStatus = "queued"  // waiting for a worker (a run, or a node whose job exists)
	RunWaiting RunStatus = "waiting" // a node whose upstream nodes are not built yet
	RunRunning RunStatus = "running"
	RunSuccess RunStatus = "success"
	RunFailed  RunStatus = "failed"  // a node failed, an error-severity test failed, or cancelled
	RunSkipped RunStatus = "skipped" // not run: an upstream node failed, or the overlap policy
	RunPlanned RunStatus = "planned" // a dry run's result
)

// transitions lists, per state, the states it may become. "" is a record
// not written yet. A final state (success, failed, skipped, planned) becomes
// nothing else.
var transitions = map[RunStatus][]RunStatus{
	"":         {RunQueued, RunWaiting, RunRunning, RunSuccess, RunFailed, RunSkipped, RunPlanned},
	RunQueued:  {RunRunning, RunSuccess, RunFailed, RunSkipped},
	RunWaiting: {RunQueued, RunRunning, RunFailed, RunSkipped},
	// running → queued: a node handed back (its worker stopped or died)
	// or retried after a failed attempt.
	RunRunning: {RunQueued, RunSuccess, RunFailed, RunSkipped},
}

// Final reports whether s is an end state: nothing changes it any more.
func (s RunStatus) Final() bool {
	switch s {
	case RunSuccess, RunFailed, RunSkipped, RunPlanned:
		return true
	}
	return false
}

// Active reports whether a run in state s has not ended: queued or running
// (what 'rat runs cancel' may stop).
func (s RunStatus) Active() bool { return s == RunQueued || s == RunRunning || s == RunWaiting }

// CanBecome reports whether a run or node in state s may move to next.
// Staying in a state is allowed (a record saved again while it runs).
func (s RunStatus) CanBecome(next RunStatus) bool {
	if s == next {
		return !s.Final() || s == ""
	}
	for _, t := range transitions[s] {
		if t == next {
			return true
		}
	}
	return false
}

// To checks a transition and returns next, or an EINTERNAL error naming
// both states: a transition the state machine has not is a bug in rat.
func (s RunStatus) To(next RunStatus) (RunStatus, error) {
	if !s.CanBecome(next) {
		return s, Errorf(EINTERNAL, "a run or node cannot go from %q to %q", s, next)
	}
	return next, nil
}

// NewRunID returns a sortable, unique run id: 20060102-150405-abcd.
func NewRunID(t time.Time) string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// PlannedNode is one node of a prepared run: a pipeline and the selected
// pipelines it reads (those it waits for).
type PlannedNode struct {
	Pipeline   string        `json:"pipeline"`
	Deps       []string      `json:"deps,omitempty"`
	Retries    int           `json:"retries,omitempty"`     // the pipeline's retries setting
	RetryDelay time.Duration `json:"retry_delay,omitempty"` // and its retry_delay
}

// Run is the record of one pipeline run.
type Run struct {
	ID       string
	Target   string    // the branch it publishes into
	Status   RunStatus // queued, running, success, failed, skipped
	Trigger  string    // manual, schedule, …
	Started  time.Time
	Finished time.Time // zero while running
	// Detail is what the run did: its nodes, tests and pipeline hashes.
	// The stores keep it as JSON (MarshalJSON of RunDetail).
	Detail RunDetail

	// Owner is the process that executes a run in itself (rat run, rat
	// demo), as host-pid-random; "" for a queued run, which the queue's
	// workers execute (its nodes have owners of their own). An owner writes
	// a heartbeat; when it has written none for Lease, the run is ended as
	// failed (owner lost) by whichever rat process looks next.
	Owner     string
	Heartbeat time.Time
	Lease     time.Duration
	// CancelRequested asks the owner to stop the run (rat runs cancel); it
	// sees the request at its next heartbeat.
	CancelRequested bool
}

// Heartbeat runs an owner's heartbeat: it calls beat every interval, in a
// goroutine, until beat returns false, ctx ends or stop is called. stop
// returns once the goroutine has ended; call it once.
func Heartbeat(ctx context.Context, every time.Duration, beat func() (again bool)) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if !beat() {
				return
			}
		}
	}()
	return func() { close(done); <-finished }
}

// RunSummary is a run as the API lists it (GET /api/v1/runs, the
// overview): the record without its detail.
type RunSummary struct {
	ID       string     `json:"id"`
	Target   string     `json:"target"`
	Status   RunStatus  `json:"status"`
	Trigger  string     `json:"trigger"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"` // nil while running
	// Pipelines are the pipelines the run built, as far as recorded (GET
	// /runs only).
	Pipelines []string `json:"pipelines,omitempty"`
}

// Summary returns r as the API lists it, its times in UTC.
func (r Run) Summary() RunSummary {
	s := RunSummary{ID: r.ID, Target: r.Target, Status: r.Status, Trigger: r.Trigger, Started: r.Started.UTC()}
	if !r.Finished.IsZero() {
		f := r.Finished.UTC()
		s.Finished = &f
	}
	return s
}

// Record returns the run record s summarises, without its detail.
func (s RunSummary) Record() Run {
	r := Run{ID: s.ID, Target: s.Target, Status: s.Status, Trigger: s.Trigger, Started: s.Started}
	if s.Finished != nil {
		r.Finished = *s.Finished
	}
	return r
}

// RunDetail reports a run: what rat run prints with --json, the API's run
// document and the detail of a run record.
type RunDetail struct {
	ID        string   `json:"id"`
	Target    string   `json:"target"`
	Selectors []string `json:"selectors,omitempty"`
	Trigger   string   `json:"trigger,omitempty"` // manual, api, schedule, landing, webhook, after
	// FullRefresh rebuilds incremental tables from scratch.
	FullRefresh bool `json:"full_refresh,omitempty"`
	// Base is the target's head the run branch forked from.
	Base      string    `json:"base,omitempty"`
	RunBranch string    `json:"run_branch"`
	Status    RunStatus `json:"status"`
	Started   time.Time `json:"started"`
	Duration  Seconds   `json:"duration"`
	Nodes     []NodeRun `json:"nodes"`
	Tests     []TestRun `json:"tests"`
	Commit    string    `json:"commit,omitempty"` // the target's head after publishing
	Error     string    `json:"error,omitempty"`
	// Hashes are the file hashes of the pipelines built, for state:modified.
	Hashes map[string]string `json:"hashes,omitempty"`
	// Maintenance is set on a maintenance run (trigger TriggerMaintenance):
	// the task it ran and what the task did. Such a run builds no pipeline.
	Maintenance *MaintenanceRun `json:"maintenance,omitempty"`
}

// TriggerMaintenance is the trigger of a run of a maintenance task
// (maintenance.<task>.schedule in workspace.yaml).
const TriggerMaintenance = "maintenance"

// A maintenance run has no target (Target ""): it is no branch's last
// successful run.
//
// MaintenanceRun is what a maintenance run did: its task (retention,
// expire, orphans, optimize), a one-line summary and the task's own
// result as JSON (lake.ExpireResult for expire, …).
type MaintenanceRun struct {
	Task    string          `json:"task"`
	Summary string          `json:"summary,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
}

// Record returns the run record of d (without owner).
func (d *RunDetail) Record() Run {
	r := Run{ID: d.ID, Target: d.Target, Status: d.Status, Trigger: d.Trigger, Started: d.Started, Detail: *d}
	if d.Status.Final() {
		r.Finished = d.Started.Add(time.Duration(d.Duration))
	}
	return r
}

// MarshalDetail encodes a run's detail as the stores keep it.
func MarshalDetail(d RunDetail) ([]byte, error) { return json.Marshal(&d) }

// UnmarshalDetail decodes a run's detail as the stores keep it; an empty
// text is an empty detail.
func UnmarshalDetail(b []byte) (RunDetail, error) {
	var d RunDetail
	if len(b) == 0 {
		return d, nil
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("decode run detail: %w", err)
	}
	return d, nil
}

// NodeRun reports one node (pipeline) of a run.
type NodeRun struct {
	Pipeline string    `json:"pipeline"`
	Status   RunStatus `json:"status"`
	Kind     string    `json:"kind"` // table, view, incremental/<strategy>
	Rows     int64     `json:"rows"`
	Files    int       `json:"files"`
	Bytes    int64     `json:"bytes"`
	Started  time.Time `json:"started,omitzero"`   // when the node began building
	Attempts int       `json:"attempts,omitempty"` // builds tried, when the pipeline sets retries
	Worker   string    `json:"worker,omitempty"`   // the process that built it, in a queued run (host-pid-id)
	Duration Seconds   `json:"duration"`
	Error    string    `json:"error,omitempty"`
	// Where a failure points: its error code (invalid, not_found, …), the
	// pipeline's file, the line in it (0 when unknown) and the SQL around
	// that line, the line marked with '>'.
	Code    string `json:"code,omitempty"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Excerpt string `json:"excerpt,omitempty"`
	SQL     string `json:"sql,omitempty"` // rendered, for dry runs
}

// IsView reports whether the node built a view: it stores SQL, no rows.
func (n NodeRun) IsView() bool { return n.Kind == "view" }

// TestRun reports one test of a run.
type TestRun struct {
	Pipeline   string   `json:"pipeline"`
	Name       string   `json:"name"`
	Kind       string   `json:"kind"` // quality, column or custom
	Severity   string   `json:"severity"`
	Status     string   `json:"status"`
	Violations int64    `json:"violations"`
	Sample     []string `json:"sample,omitempty"` // up to 5 violating rows
	Error      string   `json:"error,omitempty"`
	File       string   `json:"file,omitempty"`
	Duration   Seconds  `json:"duration"`
}

// Seconds is a duration that marshals as seconds.
type Seconds time.Duration

// MarshalJSON writes seconds with millisecond precision.
func (d Seconds) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%.3f", time.Duration(d).Seconds())), nil
}

// UnmarshalJSON reads seconds.
func (d *Seconds) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*d = Seconds(s * float64(time.Second))
	return nil
}

// RunLogLine is one line of a run's log: what happened, when, to which
// pipeline. Seq orders a run's lines: the writer's clock in microseconds,
// unique within the run.
type RunLogLine struct {
	Seq      int64     `json:"seq"`
	At       time.Time `json:"at"`
	Level    string    `json:"level"` // info, warn or error
	Pipeline string    `json:"pipeline,omitempty"`
	Message  string    `json:"message"`
}

// RunFilter selects run records, newest first.
type RunFilter struct {
	Target string    // "" = any
	Status RunStatus // "" = any
	Limit  int       // 0 = 50
}

// Failure is the one error line of a run that did not succeed: its first
// failure, with its location, and where to look. Its code is the failed
// pipeline's (a SQL mistake is bad input), ETESTFAILED when only tests
// failed.
func (r *RunDetail) Failure() error {
	cause, code := r.Error, EINTERNAL
	for _, n := range r.Nodes {
		if n.Status == RunFailed && cause == "" {
			cause = n.Error
			if n.Code != "" {
				code = n.Code
			}
		}
	}
	if cause == "" {
		for _, t := range r.Tests {
			if t.Status != "pass" && t.Severity != "warn" {
				cause, code = fmt.Sprintf("test %s of %s failed (%d violating rows)", t.Name, t.Pipeline, t.Violations), ETESTFAILED
				if t.Error != "" {
					cause = fmt.Sprintf("test %s of %s: %s", t.Name, t.Pipeline, t.Error)
				}
				break
			}
		}
	}
	return Errorf(code, "run %s failed: %s; %s was not changed; inspect the run branch %s", r.ID, cause, r.Target, r.RunBranch)
}
