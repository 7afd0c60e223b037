package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/metrics"
	"github.com/ratdata/rat/internal/orchestrator"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/trigger"
	"github.com/ratdata/rat/internal/workspace"
)

// This file is the glue between the run queue (internal/orchestrator) and
// the pipeline runner (internal/pipeline): the queue's Engine is the
// runner, the queue's Runs are built from the app's objects. rat run, rat
// serve and rat worker get them here.

// LoadWorkspace loads the workspace the configuration found.
// Tables that pipelines read but do not build must exist on the branch.
func (a *App) LoadWorkspace(ctx context.Context) (*workspace.Workspace, error) {
	return a.LoadWorkspaceRefs(ctx, false)
}

// LoadWorkspaceRefs loads the workspace; with anyRef, refs to tables the
// catalog lacks are accepted (unit tests read mocks, not the catalog).
func (a *App) LoadWorkspaceRefs(ctx context.Context, anyRef bool) (*workspace.Workspace, error) {
	if a.Config.WorkspaceDir == "" {
		return nil, rat.Errorf(rat.ENOTFOUND, "no workspace.yaml here or above: create one with 'rat init DIR' (or 'rat init DIR --demo'), or pass -C DIR")
	}
	// Known is called when a pipeline is rendered, which for a workspace
	// long-running processes share (Workspaces) is long after this call's
	// context (an API request, a job) may have ended: it must not end with
	// it, or every later render finds no catalog table.
	known := context.WithoutCancel(ctx)
	ws, err := workspace.Load(a.Config.WorkspaceDir, workspace.LoadOptions{
		Env: os.LookupEnv,
		Known: func(id rat.TableID) bool {
			if anyRef {
				return true
			}
			return a.knownTable(known, id)
		},
	})
	if err != nil {
		return nil, err
	}
	return ws, a.adoptTriggerKeys(ctx, ws)
}

// knownTable reports whether the catalog has table id on the configured
// branch or, failing that, on any other branch: a workspace that rat serve
// and rat worker share serves runs into every branch, and a run into dev
// may read a table that only dev has (a run into a branch without it then
// fails when it reads the table, naming it).
func (a *App) knownTable(ctx context.Context, id rat.TableID) bool {
	if _, err := a.Store.Table(ctx, a.Config.Branch, id); err == nil {
		return true
	}
	refs, err := a.Store.Refs(ctx)
	if err != nil {
		return false
	}
	for _, r := range refs {
		if r.Kind != rat.Branch || r.Internal || r.Name == a.Config.Branch {
			continue
		}
		if _, err := a.Store.Table(ctx, r.Name, id); err == nil {
			return true
		}
	}
	return false
}

// adoptTriggerKeys moves trigger state that an older rat kept by the
// trigger's place in its pipeline's list (layer.name#index) to the
// trigger's name, as the workspace lists them now, the first time a
// workspace is loaded after the upgrade: a schedule keeps its last tick
// (no catch-up fires again) and a switched-off trigger stays off. State
// under an index that names no trigger any more is dropped, so no later
// trigger can inherit it.
func (a *App) adoptTriggerKeys(ctx context.Context, ws *workspace.Workspace) error {
	keys, err := a.Store.TriggerKeys(ctx)
	if err != nil {
		return err
	}
	renames := map[string]string{}
	for _, k := range keys {
		if trigger.IsLegacyKey(k) {
			renames[k] = ""
		}
	}
	if len(renames) == 0 {
		return nil
	}
	for _, p := range ws.Pipelines() {
		for i, tr := range p.Config.Triggers {
			old := trigger.LegacyKey(p.ID.String(), i)
			if _, legacy := renames[old]; legacy {
				renames[old] = trigger.Key(p.ID.String(), tr.Name)
			}
		}
	}
	if err := a.Store.RenameTriggerKeys(ctx, renames); err != nil {
		return fmt.Errorf("move trigger state to trigger names: %w", err)
	}
	return nil
}

// Workspaces returns the process's workspace loader, which loads the
// workspace again only when its files changed.
func (a *App) Workspaces() *orchestrator.Workspaces {
	a.orchMu.Lock()
	defer a.orchMu.Unlock()
	if a.ws == nil {
		a.ws = &orchestrator.Workspaces{Dir: a.Config.WorkspaceDir, Load: a.LoadWorkspace}
	}
	return a.ws
}

// CachedWorkspace is LoadWorkspace for a long-running process: the
// workspace as its files are now, loaded again only when one changed.
func (a *App) CachedWorkspace(ctx context.Context) (*workspace.Workspace, error) {
	return a.Workspaces().Get(ctx)
}

// Scheduler returns the process's scheduler (rat serve's ticks).
func (a *App) Scheduler() *orchestrator.Scheduler {
	ws := a.Workspaces()
	a.orchMu.Lock()
	defer a.orchMu.Unlock()
	if a.sched == nil {
		a.sched = &orchestrator.Scheduler{
			Store: a.Store, Branch: a.Config.Branch, RetentionDays: a.Config.RunRetentionDays,
			Landing: a.Landing, Maintenance: a.maintenance,
			Consumed: func(ctx context.Context, branch, p string) (map[string]time.Time, error) {
				return pipeline.Consumed(ctx, a.Lake, branch, p)
			},
			OnFire: func(lag time.Duration) {
				if a.OnScheduleFire != nil {
					a.OnScheduleFire(lag)
				}
			},
			Log: slog.Default(),
		}
		if a.Config.WorkspaceDir != "" {
			a.sched.Workspaces = ws
		}
	}
	return a.sched
}

// ScheduleTick works one scheduler tick (orchestrator.Scheduler.Tick):
// schedules, landing sensors, maintenance schedules, pruning; runs are
// given to enqueue.
func (a *App) ScheduleTick(ctx context.Context, now time.Time, enqueue func(context.Context, orchestrator.RunArgs) error, log *slog.Logger) error {
	s := a.Scheduler()
	s.Log = log
	return s.Tick(ctx, now, enqueue)
}

// NextTick says when the scheduler's tick after the one due at t is due.
func (a *App) NextTick(t time.Time) time.Time { return a.Scheduler().NextTick(t) }

// OpenQueue opens the run queue: .rat/queue.db, or the catalog's Postgres
// database (QueueDatabase). With workers > 0 this process executes runs
// too; with tick set it works the scheduler's ticks (rat serve).
func (a *App) OpenQueue(ctx context.Context, workers int, tick func(context.Context, time.Time) error, log *slog.Logger, metrics *metrics.Metrics) (*orchestrator.Queue, error) {
	var q *orchestrator.Queue
	// Processes without workers use the Exec too: cancelling a run records
	// the nodes it settles.
	runs := a.Runs(log, metrics)
	runs.Queue = func() *orchestrator.Queue { return q }
	cfg := orchestrator.Config{Workers: workers, Tick: tick, Exec: runs}
	if tick != nil {
		cfg.NextTick = a.NextTick
	}
	cfg.SQLitePath, cfg.PostgresURL = a.QueueDatabase()
	var err error
	q, err = orchestrator.Open(ctx, cfg)
	return q, err
}

// Runs returns the queued runs of this process (orchestrator.Runs), their
// engines built with pipeline.Runner.
func (a *App) Runs(log *slog.Logger, m *metrics.Metrics) *orchestrator.Runs {
	if log == nil {
		log = slog.Default()
	}
	return &orchestrator.Runs{
		Store: a.Store, Branch: a.Config.Branch, Workspaces: a.Workspaces(), LoadWorkspace: a.CachedWorkspace,
		Metrics: m, Log: log,
		Maintain: func(ctx context.Context, task string) (rat.MaintenanceRun, error) {
			return a.Maintain(ctx, task, false)
		},
		NewEngine: func(ctx context.Context, runID string, ws *workspace.Workspace) (orchestrator.Engine, func(), error) {
			r, err := a.Runner(ctx, ws)
			if err != nil {
				return nil, nil, err
			}
			var closeLog func()
			r.Progress, closeLog = a.RunLogger(runID, nil)
			return runnerEngine{r}, closeLog, nil
		},
	}
}

// runnerEngine is pipeline.Runner as the orchestrator's Engine.
type runnerEngine struct{ r *pipeline.Runner }

func (e runnerEngine) Prepare(ctx context.Context, a orchestrator.RunArgs) (*rat.RunDetail, []rat.PlannedNode, error) {
	return e.r.Prepare(ctx, optionsOf(a))
}

func (e runnerEngine) Build(ctx context.Context, run *rat.RunDetail, name string, attempt int) rat.NodeRun {
	return e.r.Build(ctx, run, name, attempt)
}

func (e runnerEngine) Complete(ctx context.Context, run *rat.RunDetail, cancelled bool) *rat.RunDetail {
	return e.r.Complete(ctx, run, cancelled)
}

func optionsOf(a orchestrator.RunArgs) pipeline.Options {
	return pipeline.Options{ID: a.ID, Target: a.Target, Selectors: a.Selectors, FullRefresh: a.FullRefresh, Trigger: a.Trigger}
}

func argsOf(o pipeline.Options) orchestrator.RunArgs {
	return orchestrator.RunArgs{ID: o.ID, Target: o.Target, Selectors: o.Selectors, FullRefresh: o.FullRefresh, Trigger: o.Trigger}
}

// EnqueueRun records a run as queued and puts it in the queue.
func (a *App) EnqueueRun(ctx context.Context, q *orchestrator.Queue, opts pipeline.Options) (int64, pipeline.Options, error) {
	job, args, err := a.Runs(nil, nil).Enqueue(ctx, q, argsOf(opts))
	return job, optionsOf(args), err
}

// RecordQueued records a run as queued, so it is visible before a worker
// takes it.
func (a *App) RecordQueued(ctx context.Context, opts pipeline.Options) (pipeline.Options, error) {
	args, err := a.Runs(nil, nil).RecordQueued(ctx, argsOf(opts))
	return optionsOf(args), err
}

// CancelQueued cancels a run through the queue, wherever it waits or runs.
func (a *App) CancelQueued(ctx context.Context, q *orchestrator.Queue, id string) (bool, error) {
	return a.Runs(nil, nil).Cancel(ctx, q, id)
}

// FailUnfinished records a run that is still queued or running as failed.
func (a *App) FailUnfinished(ctx context.Context, id, reason string) (*pipeline.Result, error) {
	return a.Runs(nil, nil).FailUnfinished(ctx, id, reason)
}

// RunQueued enqueues a run, waits for a worker (this process's or
// another's) to finish it, and reads its result from the run records.
func (a *App) RunQueued(ctx context.Context, q *orchestrator.Queue, opts pipeline.Options) (*pipeline.Result, error) {
	return a.Runs(nil, nil).RunAndWait(ctx, q, argsOf(opts))
}

// RunLogger returns a progress function that records a run's events as log
// lines in the catalog (orchestrator.StartRunLog), and a function that
// writes what is left and stops. next, if set, sees every event too.
func (a *App) RunLogger(runID string, next func(pipeline.Event)) (func(pipeline.Event), func()) {
	add, stop := orchestrator.StartRunLog(a.Store, runID)
	progress := func(e pipeline.Event) {
		if next != nil {
			next(e)
		}
		line, ok := pipeline.EventLine(e, time.Now())
		if !ok {
			return
		}
		line.Seq = pipeline.LogSeq(line.At)
		add(line)
	}
	return progress, stop
}

// CancelRun cancels a run that is queued or running, and says what it did.
// A queued run (no owner) is cancelled through the queue that openQueue
// opens; a run another process executes in itself is asked to stop (with
// wait, until it has), or ended as owner lost when that process is gone.
func (a *App) CancelRun(ctx context.Context, id string, wait bool, openQueue func() (*orchestrator.Queue, func(), error)) (string, error) {
	rl := a.Store
	rec, err := rl.Run(ctx, id)
	if err != nil {
		return "", err
	}
	if !rec.Status.Active() {
		return "", rat.Errorf(rat.ECONFLICT, "run %s already finished (%s): there is nothing to cancel", id, rec.Status)
	}
	if rec.Owner != "" {
		return a.CancelOwned(ctx, rec, wait)
	}
	q, closeQueue, err := openQueue()
	if err != nil {
		return "", err
	}
	defer closeQueue()
	found, err := a.CancelQueued(ctx, q, id)
	if err != nil {
		return "", err
	}
	if !found {
		// Recorded as waiting or running, but the queue holds nothing of
		// it (its job was lost): nothing can run it any more.
		if _, err := a.FailUnfinished(ctx, id, "cancelled; the queue held no job for it"); err != nil {
			return "", err
		}
	}
	if rec, err = rl.Run(ctx, id); err == nil && !rec.Finished.IsZero() {
		return fmt.Sprintf("cancelled run %s: %s", id, runError(rec)), nil
	}
	return fmt.Sprintf("cancelling run %s: the workers building its nodes stop them and record it as failed", id), err
}

// CancelOwned asks the process running a run in itself to stop it; a run
// whose process is gone is ended at once (owner lost).
func (a *App) CancelOwned(ctx context.Context, rec rat.Run, wait bool) (string, error) {
	leases := a.Store
	if _, err := leases.RequestRunCancel(ctx, rec.ID); err != nil {
		return "", err
	}
	if pipeline.OwnerGone(rec.Owner) {
		return a.endOwnerLost(ctx, leases, rec, fmt.Sprintf("cancelled: its process %s is gone (owner lost)", rec.Owner))
	}
	if !wait {
		return fmt.Sprintf("cancelling run %s: its process %s stops it at its next heartbeat", rec.ID, rec.Owner), nil
	}
	rl := a.Store
	for deadline := time.Now().Add(2 * max(rec.Lease, time.Second)); ; {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		now, err := rl.Run(ctx, rec.ID)
		if err != nil {
			return "", err
		}
		if now.Status != pipeline.StatusRunning {
			return fmt.Sprintf("cancelled run %s: %s", rec.ID, runError(now)), nil
		}
		if pipeline.OwnerGone(now.Owner) || now.Heartbeat.Add(now.Lease).Before(time.Now()) {
			return a.endOwnerLost(ctx, leases, now, fmt.Sprintf("cancelled: its process %s stopped writing heartbeats (owner lost)", now.Owner))
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("cancelling run %s: its process %s has not stopped it yet ('rat runs show %s' tells when it has)", rec.ID, rec.Owner, rec.ID), nil
		}
	}
}

func (a *App) endOwnerLost(ctx context.Context, leases pipeline.RunLeases, rec rat.Run, reason string) (string, error) {
	res, err := pipeline.EndOwnerLost(ctx, a.Store, leases, rec.ID, reason, time.Now(), true)
	if err != nil {
		return "", err
	}
	if res == nil {
		now, err := a.Store.Run(ctx, rec.ID)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("run %s ended meanwhile (%s): %s", rec.ID, now.Status, runError(now)), nil
	}
	return fmt.Sprintf("cancelled run %s: %s", rec.ID, res.Error), nil
}

// runError is the error a run record holds, or its status.
func runError(rec rat.Run) string {
	if rec.Detail.Error != "" {
		return rec.Detail.Error
	}
	return string(rec.Status)
}

// ReapRuns ends the runs whose process has written no heartbeat for its
// lease (owner lost), reporting each to w or log. One indexed read when
// there are none: commands that run or list runs call it.
func (a *App) ReapRuns(ctx context.Context, w io.Writer, log *slog.Logger) {
	ended, err := pipeline.ReapRuns(ctx, a.Store, a.Store, time.Now())
	for _, res := range ended {
		if log != nil {
			log.Warn("run ended: its owner is gone", "run", res.ID, "status", res.Status, "error", res.Error)
		} else {
			fmt.Fprintf(w, "warning: run %s ended as %s: %s\n", res.ID, res.Status, res.Error)
		}
	}
	if err != nil {
		if log != nil {
			log.Error("end runs whose owner is gone", "err", err)
		} else {
			fmt.Fprintf(w, "warning: end runs whose owner is gone: %s\n", rat.ErrorMessage(err))
		}
	}
}
