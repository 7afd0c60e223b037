package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/metrics"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/queue"
)

// queuedExec executes the parts of queued runs for this process's workers:
// prepare (overlap policy, run branch), one node at a time, and the tests
// and publishing of a run whose nodes are built.
type queuedExec struct {
	a       *app
	log     *slog.Logger
	metrics *metrics.Metrics    // nil: not counted
	q       func() *queue.Queue // for the after triggers a finished run fires

	mu      sync.Mutex
	runners map[string]*runState // by run id: a run reads the workspace once per process
	order   []string
	pending map[string]map[string]pipeline.NodeResult // node progress not yet in the run records
}

// keepRunners is how many runs' workspaces a process keeps loaded.
const keepRunners = 8

// runState is what a process keeps of a run it works on: the runner, with
// the workspace as it was loaded for the run, and the run's log writer.
type runState struct {
	runner   *pipeline.Runner // Progress writes the run's log
	closeLog func()
}

// runner returns the runner of a run, loading the workspace on first use.
func (e *queuedExec) runner(ctx context.Context, runID string) (*pipeline.Runner, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r, ok := e.runners[runID]; ok {
		return r.runner, nil
	}
	ws, err := e.a.cachedWorkspace(ctx)
	if err != nil {
		return nil, err
	}
	r, err := e.a.Runner(ctx, ws)
	if err != nil {
		return nil, err
	}
	st := &runState{runner: r}
	r.Progress, st.closeLog = e.a.runLogger(runID, nil)
	if e.runners == nil {
		e.runners = map[string]*runState{}
	}
	e.runners[runID] = st
	e.order = append(e.order, runID)
	if len(e.order) > keepRunners {
		e.forget(e.order[0])
	}
	return r, nil
}

// forget drops a run's state, writing its last log lines; e.mu is held.
func (e *queuedExec) forget(runID string) {
	if st, ok := e.runners[runID]; ok {
		st.closeLog()
		delete(e.runners, runID)
	}
	e.order = slices.DeleteFunc(e.order, func(id string) bool { return id == runID })
}

// Prepare applies the overlap policy and forks the run branch. Mistakes in
// the request or the workspace (a bad selector, an invalid pipeline) end
// the run as failed, with the message, instead of being retried.
func (e *queuedExec) Prepare(ctx context.Context, opts pipeline.Options) (*pipeline.Result, []pipeline.PlannedNode, error) {
	if opts.Target == "" {
		opts.Target = e.a.Config.Branch
	}
	r, err := e.runner(ctx, opts.ID)
	if err == nil {
		var res *pipeline.Result
		if res, err = e.a.lockPipelines(ctx, r.Workspace, opts); res != nil || err != nil {
			e.observe(res) // skipped by the overlap policy
			return res, nil, err
		}
		var nodes []pipeline.PlannedNode
		if res, nodes, err = r.Prepare(ctx, opts); err == nil {
			return res, nodes, nil
		}
	}
	if !rat.IsCode(err, rat.EINVALID) && !rat.IsCode(err, rat.ENOTFOUND) {
		return nil, nil, err // the machinery: River tries again
	}
	e.unlock(ctx, opts.ID)
	res, serr := e.a.recordEnded(ctx, opts, pipeline.StatusFailed, rat.ErrorMessage(err))
	e.observe(res)
	return res, nil, serr
}

// observe counts a finished run.
func (e *queuedExec) observe(res *pipeline.Result) {
	if e.metrics != nil && res != nil {
		e.metrics.RunFinished(string(res.Status), time.Duration(res.Duration))
	}
}

func (e *queuedExec) unlock(ctx context.Context, runID string) {
	if lk, ok := e.a.Store.(pipelineLocker); ok {
		if err := lk.UnlockPipelines(context.WithoutCancel(ctx), runID); err != nil {
			e.log.Warn("unlock pipelines", "run", runID, "err", err)
		}
	}
}

// Build builds one node, logging its events into the run's log.
func (e *queuedExec) Build(ctx context.Context, run *pipeline.Result, name string, attempt int) pipeline.NodeResult {
	r, err := e.runner(ctx, run.ID)
	if err != nil {
		return pipeline.NodeResult{Pipeline: name, Status: pipeline.StatusFailed, Error: rat.ErrorMessage(err)}
	}
	return r.Build(ctx, run, name, attempt)
}

// progressFlush is how often node progress reaches a run's record: one
// update of the record per run and flush, whatever the number of nodes.
const progressFlush = 250 * time.Millisecond

// Progress puts started and finished nodes into the run's record, so the
// run shows them while it goes on; updates are batched per run.
func (e *queuedExec) Progress(ctx context.Context, run *pipeline.Result, nodes []pipeline.NodeResult) {
	if e.metrics != nil {
		for _, n := range nodes {
			if n.Status != pipeline.StatusRunning {
				e.metrics.NodeSettled(string(n.Status), time.Duration(n.Duration))
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pending == nil {
		e.pending = map[string]map[string]pipeline.NodeResult{}
	}
	p, scheduled := e.pending[run.ID]
	if !scheduled {
		p = map[string]pipeline.NodeResult{}
		e.pending[run.ID] = p
		time.AfterFunc(progressFlush, func() { e.flush(run.ID) })
	}
	for _, n := range nodes {
		p[n.Pipeline] = n
	}
}

// flush writes a run's pending node progress into its record, unless the
// run has ended meanwhile (its final record has every node).
func (e *queuedExec) flush(runID string) {
	e.mu.Lock()
	nodes := e.pending[runID]
	delete(e.pending, runID)
	e.mu.Unlock()
	st, ok := e.a.Store.(interface {
		UpdateRun(ctx context.Context, id string, fn func(*rat.Run) error) error
	})
	if !ok || len(nodes) == 0 {
		return
	}
	err := st.UpdateRun(context.Background(), runID, func(rec *rat.Run) error {
		if rec.Status != string(pipeline.StatusRunning) {
			return nil
		}
		var res pipeline.Result
		if err := json.Unmarshal(rec.Detail, &res); err != nil {
			return err
		}
		for i, n := range res.Nodes {
			if u, ok := nodes[n.Pipeline]; ok {
				res.Nodes[i] = u
			}
		}
		var err error
		rec.Detail, err = json.Marshal(res)
		return err
	})
	if err != nil {
		e.log.Warn("record node progress", "run", runID, "err", err)
	}
}

// Complete tests and publishes a run, releases its pipelines, and starts
// the pipelines whose after triggers it satisfied.
func (e *queuedExec) Complete(ctx context.Context, run *pipeline.Result, cancelled bool) *pipeline.Result {
	r, err := e.runner(ctx, run.ID)
	if err != nil {
		run.Status, run.Error = pipeline.StatusFailed, rat.ErrorMessage(err)
		if _, err := e.a.failUnfinished(ctx, run.ID, run.Error); err != nil {
			e.log.Error("record run", "run", run.ID, "err", err)
		}
		e.unlock(ctx, run.ID)
		e.observe(run)
		return run
	}
	res := r.Complete(ctx, run, cancelled)
	e.mu.Lock()
	e.forget(run.ID)
	e.mu.Unlock()
	e.observe(res)
	e.unlock(ctx, run.ID)
	if res.Status == pipeline.StatusSuccess && e.q != nil {
		e.a.startFollowers(ctx, e.q(), res, e.log)
	}
	return res
}

var _ queue.Exec = (*queuedExec)(nil)
