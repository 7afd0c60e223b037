package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/ratdata/rat"
)

// heartbeat writes the owner's heartbeat until stop is called; when the
// row is no longer this owner's, it cancels the work with errLostLease.
func (q *Queue) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, update string, args ...any) (stop func()) {
	return rat.Heartbeat(ctx, heartbeatEvery, func() bool {
		var n int64
		err := q.withTx(context.WithoutCancel(ctx), func(t tx) error {
			var err error
			n, err = t.exec(ctx, update, append([]any{q.nowUS()}, args...)...)
			return err
		})
		if err == nil && n == 0 {
			cancel(errLostLease)
			return false
		}
		return true
	})
}

// finish works a rat_finish job: tests, publishing, the run's record.
func (q *Queue) finish(ctx context.Context, job *river.Job[FinishArgs]) error {
	return q.finishRun(ctx, job.Args, q.owner(job.ID, job.Attempt))
}

// finishRun tests and publishes a run, unless another worker has begun.
func (q *Queue) finishRun(ctx context.Context, a FinishArgs, me string) error {
	var r *dagRun
	if err := q.withTx(ctx, func(t tx) error {
		if ok, err := lockRun(ctx, t, a.Run); err != nil || !ok {
			return err
		}
		n, err := t.exec(ctx, `UPDATE rat_dag_runs SET owner = ?, heartbeat_us = ? WHERE run_id = ? AND state = ? AND attempt = ? AND owner = ''`,
			me, q.nowUS(), a.Run, runFinishing, a.Attempt)
		if err != nil || n == 0 {
			return err
		}
		if r, err = readRun(ctx, t, a.Run); err != nil {
			return err
		}
		nodes, err := readNodes(ctx, t, a.Run)
		if err != nil {
			return err
		}
		r.result.Nodes = r.result.Nodes[:0]
		for _, n := range nodes {
			var res rat.NodeRun
			if err := json.Unmarshal([]byte(n.result), &res); err != nil {
				return fmt.Errorf("run %s, node %s: %w", a.Run, n.pipeline, err)
			}
			r.result.Nodes = append(r.result.Nodes, res)
		}
		return nil
	}); err != nil || r == nil {
		return err
	}
	workCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := q.heartbeat(workCtx, cancel, `UPDATE rat_dag_runs SET heartbeat_us = ? WHERE run_id = ? AND owner = ? AND state = ?`, a.Run, me, runFinishing)
	q.cfg.Exec.Complete(workCtx, r.result, r.cancelled)
	stop()
	if errors.Is(context.Cause(workCtx), errLostLease) {
		return nil
	}
	stopping := ctx.Err() != nil
	ended := false
	if err := q.withTx(context.WithoutCancel(ctx), func(t tx) error {
		ended = false
		if ok, err := lockRun(ctx, t, a.Run); err != nil || !ok {
			return err
		}
		if stopping && !r.cancelled {
			// Stopped half-way: another worker finishes the run again.
			return q.refinish(ctx, t, a.Run, me)
		}
		n, err := t.exec(ctx, `UPDATE rat_dag_runs SET state = ?, owner = '', finished_us = ? WHERE run_id = ? AND owner = ?`, runDone, q.nowUS(), a.Run, me)
		if err != nil || n == 0 {
			return err
		}
		ended = true
		return t.notifyDone(ctx, a.Run)
	}); err != nil || !ended {
		return err
	}
	q.forgetHead(a.Run)
	q.runEnded(a.Run)
	return nil
}

// refinish gives a run's finish a new attempt.
func (q *Queue) refinish(ctx context.Context, t tx, run, owner string) error {
	var attempt int
	if err := t.query(ctx, `SELECT attempt FROM rat_dag_runs WHERE run_id = ? AND owner = ?`, []any{run, owner}, func(scan func(...any) error) error {
		return scan(&attempt)
	}); err != nil || attempt == 0 {
		return err
	}
	if _, err := t.exec(ctx, `UPDATE rat_dag_runs SET attempt = ?, owner = '' WHERE run_id = ?`, attempt+1, run); err != nil {
		return err
	}
	return t.insert(ctx, []river.InsertManyParams{finishJob(run, attempt+1)})
}
