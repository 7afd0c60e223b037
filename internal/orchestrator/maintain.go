package orchestrator

import (
	"context"
	"fmt"
	"time"

	"github.com/ratdata/rat"
)

// A maintenance run (RunArgs.Task set: retention, expire, orphans,
// optimize) goes through the queue as a run of one node, the task: the
// DAG's node heartbeats, hand-back of a dead worker's node, cancelling and
// the run records work for it as for a pipeline run. What the task does is
// Runs.Maintain (internal/app runs the lake's operation); the orchestrator
// links no lake.
//
// A maintenance run has no target: it publishes into no one branch (expiry
// works on every branch), and so it is never a branch's last successful
// run (whose pipeline hashes state:modified compares with, and which
// pruning keeps).
//
// Two maintenance runs of the same task never overlap: a run takes the
// task's lock (the pipeline locks of the overlap policy, under the name
// maintenanceLock(task)) when it starts, and a run that finds it held ends
// as skipped. The scheduler does not enqueue a task whose last run is still
// queued or running.

// MaintainFunc runs one maintenance task once and says what it did.
type MaintainFunc func(ctx context.Context, task string) (rat.MaintenanceRun, error)

// maintenanceLock is the lock a maintenance task's runs take.
func maintenanceLock(task string) string { return "maintenance:" + task }

// maintenanceKind is the kind of a maintenance run's node.
const maintenanceKind = "maintenance"

// prepareMaintenance starts a maintenance run: it takes the task's lock
// and records the run as running with its one node, or records it as
// skipped when another run of the task holds the lock.
func (e *Runs) prepareMaintenance(ctx context.Context, opts RunArgs) (*rat.RunDetail, []rat.PlannedNode, error) {
	if e.Maintain == nil {
		res, err := e.recordEnded(ctx, opts, rat.RunFailed, "this process cannot run maintenance tasks")
		e.observeMaintenance(res)
		return res, nil, err
	}
	held, err := e.Store.LockPipelines(ctx, opts.Target, opts.ID, []string{maintenanceLock(opts.Task)})
	if err != nil {
		return nil, nil, err
	}
	if other := held[maintenanceLock(opts.Task)]; other != "" {
		res, err := e.recordEnded(ctx, opts, rat.RunSkipped, fmt.Sprintf("maintenance task %s is already running in run %s", opts.Task, other))
		e.observeMaintenance(res)
		return res, nil, err
	}
	res := &rat.RunDetail{ID: opts.ID, Target: opts.Target, Trigger: opts.Trigger, Status: rat.RunRunning,
		Started: time.Now().UTC(), Tests: []rat.TestRun{}, Maintenance: &rat.MaintenanceRun{Task: opts.Task},
		Nodes: []rat.NodeRun{{Pipeline: opts.Task, Status: rat.RunWaiting, Kind: maintenanceKind}}}
	if err := e.Store.SaveRun(ctx, res.Record()); err != nil {
		e.unlock(ctx, opts.ID)
		return nil, nil, err
	}
	return res, []rat.PlannedNode{{Pipeline: opts.Task}}, nil
}

// buildMaintenance runs the task of a maintenance run (its one node) and
// puts what it did into the run's record.
func (e *Runs) buildMaintenance(ctx context.Context, run *rat.RunDetail, attempt int) rat.NodeRun {
	task := run.Maintenance.Task
	n := rat.NodeRun{Pipeline: task, Kind: maintenanceKind, Started: time.Now().UTC(), Attempts: attempt}
	did, err := e.Maintain(ctx, task)
	n.Duration = rat.Seconds(time.Since(n.Started))
	n.Status = rat.RunSuccess
	if err != nil {
		n.Status, n.Error, n.Code = rat.RunFailed, rat.ErrorMessage(err), rat.ErrorCode(err)
	}
	did.Task = task
	if uerr := e.Store.UpdateRun(context.WithoutCancel(ctx), run.ID, func(rec *rat.Run) error {
		rec.Detail.Maintenance = &did
		return nil
	}); uerr != nil {
		e.Log.Warn("record maintenance result", "run", run.ID, "err", uerr)
	}
	e.logBuilt(run.ID, n, attempt)
	return n
}

// completeMaintenance records the end of a maintenance run: its status is
// its task's, and it releases the task's lock.
func (e *Runs) completeMaintenance(ctx context.Context, run *rat.RunDetail, cancelled bool) *rat.RunDetail {
	run.Status = rat.RunSuccess
	for _, n := range run.Nodes {
		if n.Status != rat.RunSuccess {
			run.Status = rat.RunFailed
			if run.Error == "" {
				run.Error = fmt.Sprintf("maintenance task %s: %s", n.Pipeline, n.Error)
			}
		}
	}
	if cancelled {
		run.Status, run.Error = rat.RunFailed, "cancelled"
	}
	now := time.Now().UTC()
	run.Duration = rat.Seconds(now.Sub(run.Started))
	err := e.Store.UpdateRun(context.WithoutCancel(ctx), run.ID, func(rec *rat.Run) error {
		if rec.Detail.Maintenance != nil {
			run.Maintenance = rec.Detail.Maintenance
		}
		if !rec.Status.Active() {
			return nil // ended meanwhile (cancelled while it waited)
		}
		rec.Status, rec.Finished, rec.Detail = run.Status, now, *run
		return nil
	})
	if err != nil {
		e.Log.Error("record run", "run", run.ID, "err", err)
	}
	e.unlock(ctx, run.ID)
	e.observeMaintenance(run)
	return run
}

// observeMaintenance counts a finished maintenance run by task and status.
func (e *Runs) observeMaintenance(res *rat.RunDetail) {
	if e.Metrics == nil || res == nil || res.Maintenance == nil {
		return
	}
	e.Metrics.MaintenanceFinished(res.Maintenance.Task, string(res.Status), time.Duration(res.Duration))
}
