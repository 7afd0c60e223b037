package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/metrics"
	"github.com/ratdata/rat/internal/trigger"
	"github.com/ratdata/rat/internal/workspace"
)

// RunStore is what queued runs keep in the catalog database: their records,
// the pipeline locks of the overlap policy, and the triggers switched off.
type RunStore interface {
	SaveRun(ctx context.Context, r rat.Run) error
	UpdateRun(ctx context.Context, id string, fn func(*rat.Run) error) error
	LockPipelines(ctx context.Context, target, runID string, pipelines []string) (map[string]string, error)
	UnlockPipelines(ctx context.Context, runID string) error
	DisabledTriggers(ctx context.Context) (map[string]time.Time, error)
}

// Engine executes the parts of one run: internal/pipeline's Runner does
// (internal/cli/worker.go adapts it, runnerEngine), so the orchestrator
// links no DuckDB.
type Engine interface {
	// Prepare forks the run branch and records the run as running.
	Prepare(ctx context.Context, args RunArgs) (*rat.RunDetail, []rat.PlannedNode, error)
	// Build builds one node, once.
	Build(ctx context.Context, run *rat.RunDetail, pipeline string, attempt int) rat.NodeRun
	// Complete tests and publishes a run whose nodes are built, and
	// records it; after a cancel it publishes nothing.
	Complete(ctx context.Context, run *rat.RunDetail, cancelled bool) *rat.RunDetail
}

// Runs records, enqueues and waits for queued runs, and executes their
// parts for this process's workers (it is the queue's Exec): prepare with
// the overlap policy, one node at a time, and the tests and publishing of
// a run whose nodes are built, after which the after triggers it satisfied
// fire.
type Runs struct {
	Store  RunStore
	Branch string // the default target
	// Workspaces loads the workspace a run reads (once per process and
	// run); LoadWorkspace loads it as its files are now (after triggers;
	// a worker gives Workspaces.Get, which parses the files again only when
	// one changed, not after every run).
	Workspaces    *Workspaces
	LoadWorkspace func(ctx context.Context) (*workspace.Workspace, error)
	// NewEngine builds the engine of one run on the workspace loaded for
	// it; closeLog writes the rest of the run's log.
	NewEngine func(ctx context.Context, runID string, ws *workspace.Workspace) (e Engine, closeLog func(), err error)
	Metrics   *metrics.Metrics // nil: not counted
	Log       *slog.Logger
	// Queue is the queue followers of a finished run are enqueued into.
	Queue func() *Queue
	// Maintain runs a maintenance task (maintain.go); nil: this process
	// fails maintenance runs.
	Maintain MaintainFunc

	mu      sync.Mutex
	runners map[string]*runState // by run id: a run reads the workspace once per process
	order   []string
	pending map[string]map[string]rat.NodeRun // node progress not yet in the run records
	sizes   map[string]int                    // nodes in a run's record, as its last flush saw
}

var _ Exec = (*Runs)(nil)

// keepRunners is how many runs' workspaces a process keeps loaded.
const keepRunners = 8

// runState is what a process keeps of a run it works on: the runner, with
// the workspace as it was loaded for the run, and the run's log writer.
type runState struct {
	engine   Engine
	ws       *workspace.Workspace
	closeLog func()
}

// runner returns what this process keeps of a run, loading the workspace
// on first use.
func (e *Runs) runner(ctx context.Context, runID string) (*runState, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r, ok := e.runners[runID]; ok {
		return r, nil
	}
	ws, err := e.Workspaces.Get(ctx)
	if err != nil {
		return nil, err
	}
	eng, closeLog, err := e.NewEngine(ctx, runID, ws)
	if err != nil {
		return nil, err
	}
	st := &runState{engine: eng, ws: ws, closeLog: closeLog}
	if e.runners == nil {
		e.runners = map[string]*runState{}
	}
	e.runners[runID] = st
	e.order = append(e.order, runID)
	if len(e.order) > keepRunners {
		e.forget(e.order[0])
	}
	return st, nil
}

// forget drops a run's state, writing its last log lines; e.mu is held.
func (e *Runs) forget(runID string) {
	if st, ok := e.runners[runID]; ok {
		st.closeLog()
		delete(e.runners, runID)
	}
	delete(e.sizes, runID)
	e.order = slices.DeleteFunc(e.order, func(id string) bool { return id == runID })
}

// Prepare applies the overlap policy and forks the run branch. Mistakes in
// the request or the workspace (a bad selector, an invalid pipeline) end
// the run as failed, with the message, instead of being retried.
func (e *Runs) Prepare(ctx context.Context, opts RunArgs) (*rat.RunDetail, []rat.PlannedNode, error) {
	if opts.Task != "" {
		return e.prepareMaintenance(ctx, opts)
	}
	if opts.Target == "" {
		opts.Target = e.Branch
	}
	r, err := e.runner(ctx, opts.ID)
	if err == nil {
		var res *rat.RunDetail
		if res, err = e.lockPipelines(ctx, r.ws, opts); res != nil || err != nil {
			e.observe(res) // skipped by the overlap policy
			return res, nil, err
		}
		var nodes []rat.PlannedNode
		if res, nodes, err = r.engine.Prepare(ctx, opts); err == nil {
			return res, nodes, nil
		}
	}
	if !rat.IsCode(err, rat.EINVALID) && !rat.IsCode(err, rat.ENOTFOUND) {
		return nil, nil, err // the machinery: River tries again
	}
	e.unlock(ctx, opts.ID)
	res, serr := e.recordEnded(ctx, opts, rat.RunFailed, rat.ErrorMessage(err))
	e.observe(res)
	return res, nil, serr
}

// observe counts a finished run.
func (e *Runs) observe(res *rat.RunDetail) {
	if e.Metrics != nil && res != nil {
		e.Metrics.RunFinished(string(res.Status), time.Duration(res.Duration))
	}
}

func (e *Runs) unlock(ctx context.Context, runID string) {
	if err := e.Store.UnlockPipelines(context.WithoutCancel(ctx), runID); err != nil {
		e.Log.Warn("unlock pipelines", "run", runID, "err", err)
	}
}

// Build builds one node, logging its events into the run's log.
func (e *Runs) Build(ctx context.Context, run *rat.RunDetail, name string, attempt int) rat.NodeRun {
	if run.Maintenance != nil {
		return e.buildMaintenance(ctx, run, attempt)
	}
	r, err := e.runner(ctx, run.ID)
	if err != nil {
		return rat.NodeRun{Pipeline: name, Status: rat.RunFailed, Error: rat.ErrorMessage(err)}
	}
	n := r.engine.Build(ctx, run, name, attempt)
	e.logBuilt(run.ID, n, attempt)
	return n
}

// logBuilt writes one line per node built to the process log, with the
// run and node as attributes (RAT_LOG_FORMAT=json gives them to a log
// collector as fields).
func (e *Runs) logBuilt(run string, n rat.NodeRun, attempt int) {
	if e.Log == nil {
		return
	}
	attrs := []any{"run", run, "node", n.Pipeline, "attempt", attempt, "status", string(n.Status), "duration", time.Duration(n.Duration)}
	if n.Error != "" {
		e.Log.Warn("node built", append(attrs, "error", n.Error)...)
		return
	}
	e.Log.Info("node built", attrs...)
}

// progressFlush is how often node progress reaches the record of a small
// run: one update of the record per run and flush, whatever the number of
// nodes that changed.
const progressFlush = 250 * time.Millisecond

// flushEvery is how often node progress reaches the record of a run whose
// record holds nodes nodes. A flush rewrites the whole record, so a big
// run's flushes come less often (1 ms more per node, at most
// maxProgressFlush apart): their cost per node built stays bounded.
func flushEvery(nodes int) time.Duration {
	return min(progressFlush+time.Duration(nodes)*time.Millisecond, maxProgressFlush)
}

// maxProgressFlush is the longest a node's start or end waits to show in
// its run's record.
const maxProgressFlush = 2 * time.Second

// Progress puts started and finished nodes into the run's record, so the
// run shows them while it goes on; updates are batched per run.
func (e *Runs) Progress(ctx context.Context, run *rat.RunDetail, nodes []rat.NodeRun) {
	if e.Metrics != nil && run.Maintenance == nil {
		for _, n := range nodes {
			if n.Status != rat.RunRunning {
				e.Metrics.NodeSettled(string(n.Status), time.Duration(n.Duration))
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pending == nil {
		e.pending = map[string]map[string]rat.NodeRun{}
	}
	p, scheduled := e.pending[run.ID]
	if !scheduled {
		p = map[string]rat.NodeRun{}
		e.pending[run.ID] = p
		time.AfterFunc(flushEvery(e.sizes[run.ID]), func() { e.flush(run.ID) })
	}
	for _, n := range nodes {
		p[n.Pipeline] = n
	}
}

// flush writes a run's pending node progress into its record, unless the
// run has ended meanwhile (its final record has every node).
func (e *Runs) flush(runID string) {
	e.mu.Lock()
	nodes := e.pending[runID]
	delete(e.pending, runID)
	e.mu.Unlock()
	if len(nodes) == 0 {
		return
	}
	size := 0
	err := e.Store.UpdateRun(context.Background(), runID, func(rec *rat.Run) error {
		size = len(rec.Detail.Nodes)
		if rec.Status != rat.RunRunning {
			return nil
		}
		for i, n := range rec.Detail.Nodes {
			if u, ok := nodes[n.Pipeline]; ok {
				rec.Detail.Nodes[i] = u
			}
		}
		return nil
	})
	if err != nil {
		e.Log.Warn("record node progress", "run", runID, "err", err)
	}
	e.mu.Lock()
	if _, working := e.runners[runID]; working {
		if e.sizes == nil {
			e.sizes = map[string]int{}
		}
		e.sizes[runID] = size
	}
	e.mu.Unlock()
}

// Complete tests and publishes a run, releases its pipelines, and starts
// the pipelines whose after triggers it satisfied.
func (e *Runs) Complete(ctx context.Context, run *rat.RunDetail, cancelled bool) *rat.RunDetail {
	if run.Maintenance != nil {
		return e.completeMaintenance(ctx, run, cancelled)
	}
	r, err := e.runner(ctx, run.ID)
	if err != nil {
		run.Status, run.Error = rat.RunFailed, rat.ErrorMessage(err)
		if _, err := e.FailUnfinished(ctx, run.ID, run.Error); err != nil {
			e.Log.Error("record run", "run", run.ID, "err", err)
		}
		e.unlock(ctx, run.ID)
		e.observe(run)
		return run
	}
	res := r.engine.Complete(ctx, run, cancelled)
	e.mu.Lock()
	e.forget(run.ID)
	e.mu.Unlock()
	e.observe(res)
	e.unlock(ctx, run.ID)
	if res.Status == rat.RunSuccess && e.Queue != nil {
		e.startFollowers(ctx, e.Queue(), res)
	}
	return res
}

// startFollowers enqueues the pipelines whose after triggers list one the
// finished run built, into the same branch. Trigger mistakes are logged, as
// the scheduler logs a bad schedule: the run itself succeeded.
func (e *Runs) startFollowers(ctx context.Context, q *Queue, res *rat.RunDetail) {
	log := e.Log
	ws, err := e.LoadWorkspace(ctx)
	if err != nil {
		log.Error("after triggers: load the workspace", "err", err)
		return
	}
	var names []string
	for _, p := range ws.Pipelines() {
		names = append(names, p.ID.String())
	}
	disabled, err := e.Store.DisabledTriggers(ctx)
	if err != nil {
		log.Error("after triggers: read their states", "err", err)
		return
	}
	after := map[string][]string{}
	for _, p := range ws.Pipelines() {
		for _, tr := range p.Config.Triggers {
			if _, off := disabled[trigger.Key(p.ID.String(), tr.Name)]; tr.Type != "after" || off {
				continue
			}
			where := fmt.Sprintf("%s:%d", p.ConfigFile, tr.Line)
			ups, err := trigger.ParseAfter(tr.Raw, where)
			if err != nil {
				log.Error("after trigger", "pipeline", p.ID.String(), "err", err)
				continue
			}
			for _, u := range ups {
				if !slices.Contains(names, u) {
					hint := ""
					if c := rat.Closest(u, names); c != "" {
						hint = fmt.Sprintf(" (did you mean %s?)", c)
					}
					log.Error("after trigger", "pipeline", p.ID.String(), "err", fmt.Sprintf("%s: no pipeline %s%s", where, u, hint))
				}
			}
			after[p.ID.String()] = append(after[p.ID.String()], ups...)
		}
	}
	if len(after) == 0 {
		return
	}
	var built []string
	for _, n := range res.Nodes {
		if n.Status == rat.RunSuccess {
			built = append(built, n.Pipeline)
		}
	}
	start, cyclic := trigger.Followers(after, built)
	for _, f := range cyclic {
		log.Error("after trigger: not started, its after triggers form a cycle", "pipeline", f)
	}
	for _, f := range start {
		opts := RunArgs{Target: res.Target, Selectors: []string{f}, Trigger: "after"}
		if _, opts, err := e.Enqueue(context.WithoutCancel(ctx), q, opts); err != nil {
			log.Error("after trigger: enqueue", "pipeline", f, "err", err)
		} else {
			log.Info("after trigger fired", "pipeline", f, "after_run", res.ID, "run", opts.ID)
		}
	}
}

// overlapRetry is how soon a run that waits for another one is tried again.
const overlapRetry = 2 * time.Second

// lockPipelines applies the overlap policy: a run may start only when no
// other run is building one of its pipelines into the same branch. When one
// is, the run waits (Busy) or, if a blocked pipeline says overlap:
// skip, is recorded as skipped and its result returned.
func (e *Runs) lockPipelines(ctx context.Context, ws *workspace.Workspace, opts RunArgs) (*rat.RunDetail, error) {
	lk := e.Store
	selected, err := ws.Select(opts.Selectors, nil)
	if err != nil {
		return nil, nil // the runner reports bad selectors in the run record
	}
	names := make([]string, len(selected))
	policy := map[string]string{}
	for i, p := range selected {
		names[i] = p.ID.String()
		policy[names[i]] = p.Config.Overlap
	}
	held, err := lk.LockPipelines(ctx, opts.Target, opts.ID, names)
	if err != nil || len(held) == 0 {
		return nil, err
	}
	blocked := slices.Sorted(maps.Keys(held))
	reason := fmt.Sprintf("%s is being built into %s by run %s", blocked[0], opts.Target, held[blocked[0]])
	skip := false
	for _, p := range blocked {
		skip = skip || policy[p] == workspace.OverlapSkip
	}
	if !skip {
		return nil, &Busy{Wait: overlapRetry, Reason: reason + "; waiting (overlap: queue)"}
	}
	return e.recordEnded(ctx, opts, rat.RunSkipped, reason+" (overlap: skip)")
}

// recordEnded records a run that ended before it started (skipped by the
// overlap policy, or a mistake in its request) and returns its result.
func (e *Runs) recordEnded(ctx context.Context, opts RunArgs, status rat.RunStatus, reason string) (*rat.RunDetail, error) {
	now := time.Now().UTC()
	res := &rat.RunDetail{ID: opts.ID, Target: opts.Target, Selectors: opts.Selectors, Trigger: opts.Trigger,
		RunBranch: runBranch(opts), Status: status, Started: now,
		Nodes: []rat.NodeRun{}, Tests: []rat.TestRun{}, Error: reason, Maintenance: maintenanceOf(opts)}
	rec := res.Record()
	rec.Finished = now
	return res, e.Store.SaveRun(ctx, rec)
}

// Cancel cancels a run through the queue, wherever it waits or runs.
// A run cancelled before any worker took it is recorded as failed here; a
// running one records itself when its worker stops it.
func (e *Runs) Cancel(ctx context.Context, q *Queue, id string) (bool, error) {
	state, err := q.CancelRun(ctx, id)
	if err != nil || state == "" {
		return false, err
	}
	if state == rivertype.JobStateRunning {
		return true, nil
	}
	_, err = e.FailUnfinished(ctx, id, cancelledQueued)
	return true, err
}

// FailUnfinished records a run that is still queued or running as failed,
// for reason, in one transaction; it returns the run's result as recorded.
func (e *Runs) FailUnfinished(ctx context.Context, id, reason string) (*rat.RunDetail, error) {
	var res rat.RunDetail
	err := e.Store.UpdateRun(context.WithoutCancel(ctx), id, func(rec *rat.Run) error {
		res = rec.Detail
		if !res.Status.Active() {
			return nil // ended meanwhile
		}
		res.Status, res.Error = rat.RunFailed, reason
		rec.Status, rec.Finished, rec.Detail = res.Status, time.Now().UTC(), res
		return nil
	})
	return &res, err
}

// cancelledQueued is the error of a run cancelled while it waited.
const cancelledQueued = "cancelled before it started"

// RunAndWait enqueues a run, waits for a worker (this process's or
// another's) to finish it, and reads its result from the run records.
func (e *Runs) RunAndWait(ctx context.Context, q *Queue, opts RunArgs) (*rat.RunDetail, error) {
	// A record at once, so the run is visible while it waits for a worker.
	job, opts, err := e.Enqueue(ctx, q, opts)
	if err != nil {
		return nil, err
	}
	row, err := q.WaitRun(ctx, opts.ID, job)
	if errors.Is(err, ErrStopped) {
		return nil, rat.Errorf(rat.EUNAVAILABLE, "stopped waiting for run %s: this process is shutting down; the run goes on in the queue ('rat runs show %s')", opts.ID, opts.ID)
	}
	if err != nil {
		return nil, err
	}
	// A run whose job gave up (or was cancelled) before the runner
	// finished is recorded so, with the last error.
	reason := fmt.Sprintf("the run's job ended %s", row.State)
	if n := len(row.Errors); n > 0 {
		reason += ": " + row.Errors[n-1].Error
	} else if row.State == rivertype.JobStateCancelled {
		reason = cancelledQueued
	}
	return e.FailUnfinished(ctx, opts.ID, reason)
}

// Enqueue records a run as queued and puts it in the queue; it returns
// the job and the run's arguments with its id.
func (e *Runs) Enqueue(ctx context.Context, q *Queue, opts RunArgs) (int64, RunArgs, error) {
	opts, err := e.RecordQueued(ctx, opts)
	if err != nil {
		return 0, opts, err
	}
	_, job, err := q.Enqueue(ctx, opts)
	return job, opts, err
}

// RecordQueued records a run as queued, so it is visible before a worker
// takes it.
func (e *Runs) RecordQueued(ctx context.Context, opts RunArgs) (RunArgs, error) {
	if opts.ID == "" {
		opts.ID = rat.NewRunID(time.Now())
	}
	queued := rat.RunDetail{ID: opts.ID, Target: opts.Target, Selectors: opts.Selectors, Trigger: opts.Trigger, RunBranch: runBranch(opts), Status: rat.RunQueued,
		Started: time.Now().UTC(), Nodes: []rat.NodeRun{}, Tests: []rat.TestRun{}, Maintenance: maintenanceOf(opts)}
	err := e.Store.SaveRun(ctx, queued.Record())
	return opts, err
}

// runBranch is the branch a run builds on; a maintenance run has none.
func runBranch(opts RunArgs) string {
	if opts.Task != "" {
		return ""
	}
	return rat.RunBranch(opts.ID)
}

// maintenanceOf is the maintenance part of a run's record: its task.
func maintenanceOf(opts RunArgs) *rat.MaintenanceRun {
	if opts.Task == "" {
		return nil
	}
	return &rat.MaintenanceRun{Task: opts.Task}
}
