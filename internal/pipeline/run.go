// Package pipeline runs a workspace's pipelines with write–audit–publish:
// every run builds its tables on a fresh branch run/<id>, tests them there,
// and merges them into the target branch in one commit only when no
// error-severity test failed (DESIGN D9).
package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/workspace"
)

// Runner executes runs. It holds no state between runs.
type Runner struct {
	Lake      *lake.Lake
	Workspace *workspace.Workspace
	Parallel  int              // nodes at once (max_parallel_pipelines)
	Now       func() time.Time // the clock; time.Now when nil
	Env       func(string) (string, bool)
	Vars      map[string]any
	// Landing is the landing area landing('zone') reads; nil when the
	// workspace has none.
	Landing *ingest.Landing
	// TmpDir holds files converted for DuckDB (Excel sheets).
	TmpDir string
	// Runs records runs; nil keeps no records (and state:modified then
	// treats every pipeline as modified).
	Runs RunLog
	// Progress receives events as the run goes; it may be nil. It is called
	// from several goroutines, one event at a time.
	Progress func(Event)
}

// Options select what a run does.
type Options struct {
	Target      string   // branch to publish into
	Selectors   []string // empty = every pipeline
	FullRefresh bool     // rebuild incremental tables from scratch, resetting watermarks
	DryRun      bool     // render and plan, build nothing
	Trigger     string   // what started the run: manual (default), schedule, …
	// ID is the run's id when the caller needs it before the run ends (an
	// API answering 202 with it); "" means a new NewRunID.
	ID string
	// Modified tells state:modified which pipelines changed since the last
	// successful run; nil treats every pipeline as modified.
	Modified func(*workspace.Pipeline) bool
}

// Status is the outcome of a run or of one of its nodes.
type Status string

// Statuses.
const (
	StatusSuccess Status = "success"
	StatusFailed  Status = "failed"  // a node failed or an error-severity test failed
	StatusSkipped Status = "skipped" // not run: an upstream node failed
	StatusPlanned Status = "planned" // dry run
	StatusRunning Status = "running"
)

// Result reports a run.
type Result struct {
	ID        string       `json:"id"`
	Target    string       `json:"target"`
	Selectors []string     `json:"selectors,omitempty"`
	Trigger   string       `json:"trigger,omitempty"` // manual, api, schedule, landing, webhook, after
	RunBranch string       `json:"run_branch"`
	Status    Status       `json:"status"`
	Started   time.Time    `json:"started"`
	Duration  Duration     `json:"duration"`
	Nodes     []NodeResult `json:"nodes"`
	Tests     []TestResult `json:"tests"`
	Commit    string       `json:"commit,omitempty"` // the target's head after publishing
	Error     string       `json:"error,omitempty"`
	// Hashes are the file hashes of the pipelines built, for state:modified.
	Hashes map[string]string `json:"hashes,omitempty"`
}

// NodeResult reports one pipeline of a run.
type NodeResult struct {
	Pipeline string    `json:"pipeline"`
	Status   Status    `json:"status"`
	Kind     string    `json:"kind"` // table, view, incremental/<strategy>
	Rows     int64     `json:"rows"`
	Files    int       `json:"files"`
	Bytes    int64     `json:"bytes"`
	Started  time.Time `json:"started,omitzero"`   // when the node began building
	Attempts int       `json:"attempts,omitempty"` // builds tried, when the pipeline sets retries
	Duration Duration  `json:"duration"`
	Error    string    `json:"error,omitempty"`
	SQL      string    `json:"sql,omitempty"` // rendered, for dry runs

	retryable bool // failed before it committed anything: safe to build again
}

// Duration marshals as seconds.
type Duration time.Duration

// MarshalJSON writes seconds with millisecond precision.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%.3f", time.Duration(d).Seconds())), nil
}

// UnmarshalJSON reads seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*d = Duration(s * float64(time.Second))
	return nil
}

// Event is one step of a run, for progress output.
type Event struct {
	Kind     string // node_started, node_finished, tests_started, test_finished, publishing, run_finished
	Pipeline string
	Node     *NodeResult
	Test     *TestResult
	Result   *Result
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) emit(mu *sync.Mutex, e Event) {
	if r.Progress == nil {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	r.Progress(e)
}

// NewRunID returns a sortable, unique run id: 20060102-150405-abcd.
func NewRunID(t time.Time) string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// Run executes the selected pipelines on a run branch, tests them, and
// publishes them to the target branch when every node and every
// error-severity test passed. The returned error is for failures of the run
// machinery; a failed node or test gives a Result with StatusFailed.
func (r *Runner) Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Target == "" {
		opts.Target = rat.DefaultBranch
	}
	store := r.Lake.Store()
	target, err := store.Ref(ctx, opts.Target)
	if err != nil {
		return nil, err
	}
	if target.Kind != rat.Branch {
		return nil, rat.Errorf(rat.EINVALID, "cannot run into tag %s: pick a branch", opts.Target)
	}
	if opts.Modified == nil {
		if opts.Modified, err = r.ModifiedSince(ctx, opts.Target); err != nil {
			return nil, err
		}
	}
	if opts.Trigger == "" {
		opts.Trigger = "manual"
	}
	selected, err := r.Workspace.Select(opts.Selectors, opts.Modified)
	if err != nil {
		return nil, err
	}
	started := r.now()
	if opts.ID == "" {
		opts.ID = NewRunID(started)
	}
	res := &Result{ID: opts.ID, Target: opts.Target, Selectors: opts.Selectors, Trigger: opts.Trigger, Started: started.UTC(), Status: StatusSuccess}
	res.RunBranch = "run/" + res.ID
	var mu sync.Mutex
	if opts.DryRun {
		for _, p := range selected {
			n := NodeResult{Pipeline: p.ID.String(), Status: StatusPlanned, Kind: kind(p, false)}
			rc := r.renderContext(ctx, p, opts.Target, false, started)
			rc.Landing = func(zone string) (string, error) {
				return "landing_" + zone, nil // a dry run reads no files
			}
			sql, err := p.Render(rc)
			if err != nil {
				n.Status, n.Error = StatusFailed, rat.ErrorMessage(err)
				res.Status = StatusFailed
			}
			n.SQL = sql
			res.Nodes = append(res.Nodes, n)
		}
		res.Status = planned(res.Status)
		return res, nil
	}
	if err := store.CreateRef(ctx, rat.Ref{Name: res.RunBranch, Kind: rat.Branch, Head: target.Head}); err != nil {
		return nil, fmt.Errorf("create run branch: %w", err)
	}
	res.Status = StatusRunning
	r.save(ctx, res, opts.Trigger)
	res.Status = StatusSuccess
	res.Nodes = r.execute(ctx, &mu, selected, res.RunBranch, res.ID, opts, started)
	built := map[string]bool{}
	for _, n := range res.Nodes {
		if n.Status != StatusSuccess {
			res.Status = StatusFailed
		} else {
			built[n.Pipeline] = true
		}
	}
	var tested []*workspace.Pipeline
	for _, p := range selected {
		if built[p.ID.String()] {
			tested = append(tested, p)
		}
	}
	r.emit(&mu, Event{Kind: "tests_started"})
	res.Tests = r.runTests(ctx, &mu, tested, res.RunBranch, started)
	for _, t := range res.Tests {
		if t.Status != TestPass && t.Severity == string(workspace.SeverityError) {
			res.Status = StatusFailed
		}
	}
	if ctx.Err() != nil && res.Error == "" {
		// Cancelled: the target must stay untouched, and the record says why.
		res.Status, res.Error = StatusFailed, "cancelled before publishing"
	}
	if res.Status == StatusSuccess {
		r.emit(&mu, Event{Kind: "publishing"})
		merged, err := r.Lake.Catalog(opts.Target).Merge(ctx, res.RunBranch, catalog.MergeOptions{
			Message: fmt.Sprintf("run %s: %d pipeline(s)", res.ID, len(res.Nodes)),
		})
		if err != nil {
			res.Status, res.Error = StatusFailed, "publish: "+rat.ErrorMessage(err)
		} else {
			res.Commit = merged.Commit
			if err := store.DeleteRef(ctx, res.RunBranch); err != nil {
				res.Error = "delete run branch: " + rat.ErrorMessage(err)
			}
		}
	}
	res.Duration = Duration(r.now().Sub(started))
	if res.Status == StatusSuccess {
		// Pipelines not selected keep the hash of the run that last built them.
		res.Hashes = r.lastHashes(ctx, opts.Target)
		for _, p := range selected {
			res.Hashes[p.ID.String()] = p.Hash
		}
	}
	r.save(ctx, res, opts.Trigger)
	r.emit(&mu, Event{Kind: "run_finished", Result: res})
	return res, nil
}

func planned(s Status) Status {
	if s == StatusSuccess {
		return StatusPlanned
	}
	return s
}
