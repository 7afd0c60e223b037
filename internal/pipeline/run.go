// Package pipeline runs a workspace's pipelines with write–audit–publish:
// every run builds its tables on a fresh branch run/<id>, tests them there,
// and merges them into the target branch in one commit only when no
// error-severity test failed (DESIGN D9).
package pipeline

import (
	"context"
	"errors"
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
	Runs RunStore
	// Progress receives events as the run goes; it may be nil. It is called
	// from several goroutines, one event at a time.
	Progress func(Event)
	// Owner, when set (NewOwner), makes the runs of Run this process's:
	// their records carry it and a heartbeat every Lease/6, a cancel
	// requested in the record stops them, and another process ends them as
	// failed (owner lost) when no heartbeat came for Lease (DefaultLease
	// when 0). Queued runs (Prepare, Build, Complete) are the queue's.
	Owner string
	Lease time.Duration
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

// Status is the outcome of a run or of one of its nodes (rat.RunStatus).
type Status = rat.RunStatus

// Statuses.
const (
	StatusSuccess = rat.RunSuccess
	StatusFailed  = rat.RunFailed  // a node failed or an error-severity test failed
	StatusSkipped = rat.RunSkipped // not run: an upstream node failed
	StatusPlanned = rat.RunPlanned // dry run
	StatusRunning = rat.RunRunning
	StatusWaiting = rat.RunWaiting // a node of a running run not built yet
)

// Result reports a run (rat.RunDetail).
type Result = rat.RunDetail

// NodeResult reports one pipeline of a run (rat.NodeRun).
type NodeResult = rat.NodeRun

// Duration marshals as seconds (rat.Seconds).
type Duration = rat.Seconds

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

// NewRunID returns a sortable, unique run id (rat.NewRunID).
func NewRunID(t time.Time) string { return rat.NewRunID(t) }

// Run executes the selected pipelines on a run branch, tests them, and
// publishes them to the target branch when every node and every
// error-severity test passed. The returned error is for failures of the run
// machinery; a failed node or test gives a Result with StatusFailed.
func (r *Runner) Run(ctx context.Context, opts Options) (*Result, error) {
	res, selected, err := r.prepare(ctx, &opts)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	if opts.DryRun {
		return r.dryRun(ctx, res, selected), nil
	}
	if r.leases() != nil {
		ctx = context.WithValue(ctx, leaseKey{}, &runLease{owner: r.Owner, lease: r.lease()})
	}
	if err := r.fork(ctx, res); err != nil {
		return nil, err
	}
	ctx, release := r.keepLease(ctx, res)
	defer release()
	res.Nodes = r.execute(ctx, &mu, selected, res)
	if cause := context.Cause(ctx); errors.Is(cause, errCancelRequested) || errors.Is(cause, errOwnerLost) {
		res.Error = cause.Error()
	}
	return r.complete(ctx, &mu, res, selected, ctx.Err() != nil), nil
}

// PlannedNode is one node of a prepared run (rat.PlannedNode).
type PlannedNode = rat.PlannedNode

// Prepare starts a run whose nodes something else executes (the queue's
// workers, one job per node): it selects the pipelines, forks the run
// branch and records the run as running. Build builds each node, Complete
// tests and publishes. Preparing a run again (a retried job) keeps the run
// branch it already forked.
func (r *Runner) Prepare(ctx context.Context, opts Options) (*Result, []PlannedNode, error) {
	if opts.DryRun {
		return nil, nil, rat.Errorf(rat.EINVALID, "a dry run builds nothing: use Run")
	}
	res, selected, err := r.prepare(ctx, &opts)
	if err != nil {
		return nil, nil, err
	}
	// The run is recorded as running once, below, with its nodes.
	if err := r.forkBranch(ctx, res); err != nil {
		return nil, nil, err
	}
	index := map[rat.TableID]bool{}
	for _, p := range selected {
		index[p.ID] = true
	}
	nodes := make([]PlannedNode, len(selected))
	for i, p := range selected {
		nodes[i] = PlannedNode{Pipeline: p.ID.String(), Retries: p.Config.Retries, RetryDelay: p.Config.RetryDelay}
		for _, dep := range p.Refs {
			if index[dep] {
				nodes[i].Deps = append(nodes[i].Deps, dep.String())
			}
		}
		// Until its node is built, a pipeline shows as waiting.
		res.Nodes = append(res.Nodes, NodeResult{Pipeline: nodes[i].Pipeline, Status: StatusWaiting, Kind: kind(p, opts.FullRefresh)})
	}
	res.Status = StatusRunning
	r.save(ctx, res, res.Trigger)
	return res, nodes, nil
}

// Build builds one node of a prepared run. Attempt counts from 1; a later
// attempt (a retry, or a node taken over from a worker that died) first
// puts the node's tables on the run branch back as they were when the run
// forked, so whatever an earlier attempt committed is not built twice.
func (r *Runner) Build(ctx context.Context, res *Result, pipeline string, attempt int) NodeResult {
	var mu sync.Mutex
	r.emit(&mu, Event{Kind: "node_started", Pipeline: pipeline})
	var n NodeResult
	if p, err := r.Workspace.Resolve(pipeline); err != nil {
		n = NodeResult{Pipeline: pipeline}
		failed(&n, err, nil, "")
	} else {
		n = r.attempt(ctx, p, res, attempt)
	}
	r.emit(&mu, Event{Kind: "node_finished", Pipeline: pipeline, Node: &n})
	return n
}

// Complete ends a prepared run whose nodes (res.Nodes) are built: it tests
// the built tables on the run branch and publishes them when everything
// passed, and records the outcome. A cancelled run runs no tests and
// publishes nothing.
func (r *Runner) Complete(ctx context.Context, res *Result, cancelled bool) *Result {
	var selected []*workspace.Pipeline
	for _, n := range res.Nodes {
		if p, err := r.Workspace.Resolve(n.Pipeline); err == nil {
			selected = append(selected, p)
		}
	}
	var mu sync.Mutex
	return r.complete(ctx, &mu, res, selected, cancelled)
}

// prepare selects a run's pipelines and starts its result; it changes
// nothing in the catalog.
func (r *Runner) prepare(ctx context.Context, opts *Options) (*Result, []*workspace.Pipeline, error) {
	if opts.Target == "" {
		opts.Target = rat.DefaultBranch
	}
	if rat.ReservedRefName(opts.Target) {
		return nil, nil, rat.ReservedTargetError(opts.Target, "run into")
	}
	target, err := r.Lake.Store().Ref(ctx, opts.Target)
	if err != nil {
		return nil, nil, err
	}
	if target.Kind != rat.Branch {
		return nil, nil, rat.Errorf(rat.EINVALID, "cannot run into tag %s: pick a branch", opts.Target)
	}
	modified, modErr := opts.Modified, error(nil)
	if modified == nil {
		// Read the last run only for a selector that asks (state:modified):
		// most runs select by name and spare the catalog two queries.
		var once sync.Once
		var since func(*workspace.Pipeline) bool
		modified = func(p *workspace.Pipeline) bool {
			once.Do(func() { since, modErr = r.ModifiedSince(ctx, opts.Target) })
			return modErr == nil && since(p)
		}
	}
	if opts.Trigger == "" {
		opts.Trigger = "manual"
	}
	selected, err := r.Workspace.Select(opts.Selectors, modified)
	if modErr != nil {
		return nil, nil, modErr
	}
	if err != nil {
		return nil, nil, err
	}
	started := r.now()
	if opts.ID == "" {
		opts.ID = NewRunID(started)
	}
	res := &Result{ID: opts.ID, Target: opts.Target, Selectors: opts.Selectors, Trigger: opts.Trigger,
		FullRefresh: opts.FullRefresh, Base: target.Head, Started: started.UTC(), Status: StatusSuccess}
	res.RunBranch = rat.RunBranch(res.ID)
	return res, selected, nil
}

// dryRun renders the selected pipelines without building them.
func (r *Runner) dryRun(ctx context.Context, res *Result, selected []*workspace.Pipeline) *Result {
	for _, p := range selected {
		n := NodeResult{Pipeline: p.ID.String(), Status: StatusPlanned, Kind: kind(p, false)}
		rc := r.renderContext(ctx, p, res.Target, false, res.Started)
		rc.Landing = func(zone string) (string, error) {
			return "landing_" + zone, nil // a dry run reads no files
		}
		sql, err := p.Render(rc)
		if err != nil {
			failed(&n, err, p, "")
			res.Status = StatusFailed
		}
		n.SQL = sql
		res.Nodes = append(res.Nodes, n)
	}
	res.Status = planned(res.Status)
	return res
}

// fork creates the run branch at the target's head (forkBranch) and
// records the run as running.
func (r *Runner) fork(ctx context.Context, res *Result) error {
	if err := r.forkBranch(ctx, res); err != nil {
		return err
	}
	res.Status = StatusRunning
	r.save(ctx, res, res.Trigger)
	res.Status = StatusSuccess
	return nil
}

// forkBranch creates the run branch at the target's head. A run branch
// that exists already (the run's job was retried) is kept, with its head
// as the run's base.
func (r *Runner) forkBranch(ctx context.Context, res *Result) error {
	store := r.Lake.Store()
	err := store.CreateRef(ctx, rat.Ref{Name: res.RunBranch, Kind: rat.Branch, Head: res.Base, Internal: true})
	if rat.IsCode(err, rat.ECONFLICT) {
		ref, rerr := store.Ref(ctx, res.RunBranch)
		if rerr != nil {
			return fmt.Errorf("create run branch: %w", err)
		}
		res.Base, err = ref.Head, nil
	}
	if err != nil {
		return fmt.Errorf("create run branch: %w", err)
	}
	return nil
}

// reset puts a pipeline's tables (its own and its quarantine table) on the
// run branch back to where they were when the run forked.
func (r *Runner) reset(ctx context.Context, res *Result, id rat.TableID) error {
	store := r.Lake.Store()
	base, err := store.TablesAt(ctx, res.Base)
	if err != nil {
		return fmt.Errorf("reset %s: %w", id, err)
	}
	was := map[rat.TableID]string{}
	for _, t := range base {
		was[t.Table] = t.Metadata
	}
	var changes []catalog.Change
	for _, t := range []rat.TableID{id, {Layer: id.Layer, Name: id.Name + "__rejected"}} {
		now := ""
		if e, err := store.Table(ctx, res.RunBranch, t); err == nil {
			now = e.Metadata
		} else if !rat.IsCode(err, rat.ENOTFOUND) {
			return fmt.Errorf("reset %s: %w", id, err)
		}
		if now != was[t] {
			changes = append(changes, catalog.Change{Table: t, Expected: now, Metadata: was[t]})
		}
	}
	if len(changes) == 0 {
		return nil
	}
	_, err = store.Commit(ctx, catalog.CommitRequest{Branch: res.RunBranch, Message: fmt.Sprintf("reset %s before building it again", id), Changes: changes})
	if err != nil {
		return fmt.Errorf("reset %s: %w", id, err)
	}
	return nil
}

// complete tests the built pipelines of a run, publishes them when
// everything passed, and records the outcome.
func (r *Runner) complete(ctx context.Context, mu *sync.Mutex, res *Result, selected []*workspace.Pipeline, cancelled bool) *Result {
	res.Status = StatusSuccess
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
	if !cancelled {
		r.emit(mu, Event{Kind: "tests_started"})
		res.Tests = r.runTests(ctx, mu, tested, res.RunBranch, res.Started)
	}
	for _, t := range res.Tests {
		if t.Status != TestPass && t.Severity == string(workspace.SeverityError) {
			res.Status = StatusFailed
		}
	}
	if cancelled || ctx.Err() != nil {
		// Cancelled: the target must stay untouched, and the record says why.
		res.Status = StatusFailed
		if res.Error == "" {
			res.Error = "cancelled before publishing"
		}
	}
	if res.Status == StatusSuccess {
		// An owner that lost its run (or was asked to stop) must not
		// publish: check once more, just before.
		if err := r.heartbeat(ctx, res); errors.Is(err, errCancelRequested) || errors.Is(err, errOwnerLost) {
			res.Status, res.Error = StatusFailed, err.Error()
		}
	}
	merged := false
	if res.Status == StatusSuccess {
		r.emit(mu, Event{Kind: "publishing"})
		merged = r.publish(ctx, res)
	}
	res.Duration = Duration(r.now().Sub(res.Started))
	if res.Status == StatusSuccess {
		// Pipelines not selected keep the hash of the run that last built them.
		res.Hashes = r.lastHashes(ctx, res.Target)
		for _, p := range selected {
			res.Hashes[p.ID.String()] = p.Hash
		}
	}
	r.save(ctx, res, res.Trigger)
	if merged {
		// The run branch goes once the record says the run published: a
		// process dying in between leaves a success and a branch that
		// 'rat run --cleanup' removes, never a run branch-less record that
		// cannot tell whether it published.
		if err := r.Lake.Store().DeleteRef(context.WithoutCancel(ctx), res.RunBranch); err != nil && !rat.IsCode(err, rat.ENOTFOUND) {
			res.Error = "delete run branch: " + rat.ErrorMessage(err)
			r.save(ctx, res, res.Trigger)
		}
	}
	r.emit(mu, Event{Kind: "run_finished", Result: res})
	return res
}

// publish merges the run branch into the target; it reports whether it
// did (the caller deletes the run branch). A run published before (its
// job was retried after a crash) is recognised by its commit on the target.
func (r *Runner) publish(ctx context.Context, res *Result) bool {
	store := r.Lake.Store()
	message := fmt.Sprintf("run %s: %d pipeline(s)", res.ID, len(res.Nodes))
	if _, err := store.Ref(ctx, res.RunBranch); rat.IsCode(err, rat.ENOTFOUND) {
		if c := r.publishedCommit(ctx, res.Target, message); c != "" {
			res.Commit = c
			return false
		}
	}
	merged, err := r.Lake.Catalog(res.Target).Merge(ctx, res.RunBranch, catalog.MergeOptions{Message: message})
	if err != nil {
		res.Status, res.Error = StatusFailed, "publish: "+rat.ErrorMessage(err)
		return false
	}
	res.Commit = merged.Commit
	return true
}

// publishedCommit finds the commit by which a run was published into a
// branch, among its recent commits; "" when there is none.
func (r *Runner) publishedCommit(ctx context.Context, branch, message string) string {
	ref, err := r.Lake.Store().Ref(ctx, branch)
	if err != nil {
		return ""
	}
	log, err := r.Lake.Store().Log(ctx, ref.Head, 200)
	if err != nil {
		return ""
	}
	for _, c := range log {
		if c.Message == message {
			return c.ID
		}
	}
	return ""
}

func planned(s Status) Status {
	if s == StatusSuccess {
		return StatusPlanned
	}
	return s
}
