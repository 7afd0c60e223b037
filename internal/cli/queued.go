package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/queue"
	"github.com/ratdata/rat/internal/server"
)

// queuedExec executes the parts of queued runs for this process's workers:
// prepare (overlap policy, run branch), one node at a time, and the tests
// and publishing of a run whose nodes are built.
type queuedExec struct {
	a       *app
	log     *slog.Logger
	metrics *server.ExecMetrics // nil: not counted
	q       func() *queue.Queue // for the after triggers a finished run fires

	mu      sync.Mutex
	runners map[string]*pipeline.Runner // by run id: a run reads the workspace once per process
	order   []string
}

// keepRunners is how many runs' workspaces a process keeps loaded.
const keepRunners = 8

// runner returns the runner of a run, loading the workspace on first use.
func (e *queuedExec) runner(ctx context.Context, runID string) (*pipeline.Runner, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r, ok := e.runners[runID]; ok {
		return r, nil
	}
	ws, err := e.a.loadWorkspace(ctx)
	if err != nil {
		return nil, err
	}
	r, err := e.a.runner(ctx, ws)
	if err != nil {
		return nil, err
	}
	if e.runners == nil {
		e.runners = map[string]*pipeline.Runner{}
	}
	e.runners[runID] = r
	e.order = append(e.order, runID)
	if len(e.order) > keepRunners {
		delete(e.runners, e.order[0])
		e.order = e.order[1:]
	}
	return r, nil
}

// Prepare applies the overlap policy and forks the run branch. Mistakes in
// the request or the workspace (a bad selector, an invalid pipeline) end
// the run as failed, with the message, instead of being retried.
func (e *queuedExec) Prepare(ctx context.Context, opts pipeline.Options) (*pipeline.Result, []pipeline.PlannedNode, error) {
	if opts.Target == "" {
		opts.Target = e.a.cfg.Branch
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
	now := time.Now().UTC()
	res := &pipeline.Result{ID: opts.ID, Target: opts.Target, Selectors: opts.Selectors, Trigger: opts.Trigger,
		RunBranch: "run/" + opts.ID, Status: pipeline.StatusFailed, Started: now,
		Nodes: []pipeline.NodeResult{}, Tests: []pipeline.TestResult{}, Error: rat.ErrorMessage(err)}
	e.observe(res)
	return res, nil, e.save(ctx, res)
}

// observe counts a finished run.
func (e *queuedExec) observe(res *pipeline.Result) {
	if e.metrics != nil && res != nil {
		e.metrics.ObserveRun(res)
	}
}

// save records a run that ended before it started.
func (e *queuedExec) save(ctx context.Context, res *pipeline.Result) error {
	rl, ok := e.a.store.(pipeline.RunLog)
	if !ok {
		return nil
	}
	detail, _ := json.Marshal(res)
	return rl.SaveRun(ctx, rat.Run{ID: res.ID, Target: res.Target, Status: string(res.Status), Trigger: res.Trigger,
		Started: res.Started, Finished: res.Started, Detail: detail})
}

func (e *queuedExec) unlock(ctx context.Context, runID string) {
	if lk, ok := e.a.store.(pipelineLocker); ok {
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
	progress, closeLog := e.a.runLogger(run.ID, nil)
	defer closeLog()
	rr := *r
	rr.Progress = progress
	return rr.Build(ctx, run, name, attempt)
}

// Progress puts started and finished nodes into the run's record, so the
// run shows them while it goes on.
func (e *queuedExec) Progress(ctx context.Context, run *pipeline.Result, nodes []pipeline.NodeResult) {
	st, ok := e.a.store.(interface {
		UpdateRun(ctx context.Context, id string, fn func(*rat.Run) error) error
	})
	if e.metrics != nil {
		for _, n := range nodes {
			if n.Status != pipeline.StatusRunning {
				e.metrics.ObserveNode(n)
			}
		}
	}
	if !ok {
		return
	}
	err := st.UpdateRun(ctx, run.ID, func(rec *rat.Run) error {
		var res pipeline.Result
		if err := json.Unmarshal(rec.Detail, &res); err != nil {
			return err
		}
		for _, n := range nodes {
			for i := range res.Nodes {
				if res.Nodes[i].Pipeline == n.Pipeline {
					res.Nodes[i] = n
				}
			}
		}
		var err error
		rec.Detail, err = json.Marshal(res)
		return err
	})
	if err != nil {
		e.log.Warn("record node progress", "run", run.ID, "err", err)
	}
}

// Complete tests and publishes a run, releases its pipelines, and starts
// the pipelines whose after triggers it satisfied.
func (e *queuedExec) Complete(ctx context.Context, run *pipeline.Result, cancelled bool) *pipeline.Result {
	r, err := e.runner(ctx, run.ID)
	if err != nil {
		run.Status, run.Error = pipeline.StatusFailed, rat.ErrorMessage(err)
		_ = e.save(ctx, run)
		e.unlock(ctx, run.ID)
		return run
	}
	progress, closeLog := e.a.runLogger(run.ID, nil)
	rr := *r
	rr.Progress = progress
	res := rr.Complete(ctx, run, cancelled)
	closeLog()
	e.observe(res)
	e.unlock(ctx, run.ID)
	e.mu.Lock()
	delete(e.runners, run.ID)
	e.mu.Unlock()
	if res.Status == pipeline.StatusSuccess && e.q != nil {
		e.a.startFollowers(ctx, e.q(), res, e.log)
	}
	return res
}

var _ queue.Exec = (*queuedExec)(nil)
