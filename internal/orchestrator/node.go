package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/orchestrator/dag"
)

// The hot path of a queued run: a node is claimed, built, and settled. Its
// transactions lock the node's own row and the rows of its readers; the
// run's row is written once, last (settled: the count of nodes not
// settled), so the nodes of one run do not wait for each other's whole
// transactions. What becomes of a node is the shared state machine's
// decision (dag.Settle); a node is queued when its count of upstream nodes
// not built (pending) reaches 0.

// keepHeads is how many runs' heads a process keeps.
const keepHeads = 64

// head returns a run's head: its detail without nodes, as prepare stored
// it. It never changes, so a process reads it once per run; each caller
// gets a copy of its own. nil when the run has no DAG.
func (q *Queue) head(ctx context.Context, run string) (*rat.RunDetail, error) {
	q.headMu.Lock()
	h := q.heads[run]
	q.headMu.Unlock()
	if h == nil {
		var result string
		found := false
		if err := q.read(ctx, func(t tx) error {
			return t.query(ctx, headQuery, []any{run}, func(scan func(...any) error) error {
				found = true
				return scan(&result)
			})
		}); err != nil || !found {
			return nil, err
		}
		var err error
		if h, err = q.keepHead(run, []byte(result)); err != nil {
			return nil, err
		}
	}
	c := *h
	return &c, nil
}

// keepHead keeps a run's head as stored (its JSON in rat_dag_runs), so
// that this process reads it the way every other one does.
func (q *Queue) keepHead(run string, stored []byte) (*rat.RunDetail, error) {
	h := new(rat.RunDetail)
	if err := json.Unmarshal(stored, h); err != nil {
		return nil, fmt.Errorf("run %s: %w", run, err)
	}
	q.headMu.Lock()
	defer q.headMu.Unlock()
	if q.heads == nil || len(q.heads) >= keepHeads {
		q.heads = map[string]*rat.RunDetail{}
	}
	q.heads[run] = h
	return h, nil
}

// headQuery reads a run's head.
const headQuery = `SELECT result FROM rat_dag_runs WHERE run_id = ?`

// forgetHead drops a finished run's head.
func (q *Queue) forgetHead(run string) {
	q.headMu.Lock()
	delete(q.heads, run)
	q.headMu.Unlock()
}

// runNode claims (unless claimed says me has) and builds one node, and
// reports the node and the finish it can go on with.
func (q *Queue) runNode(ctx context.Context, a NodeArgs, me string, claimed bool) (*NodeArgs, *FinishArgs, error) {
	var settled []rat.NodeRun
	var fin *FinishArgs
	if !claimed {
		// One statement, outside a transaction: a claim costs one round
		// trip.
		if err := q.read(ctx, func(t tx) error {
			n, err := t.exec(ctx, `UPDATE rat_dag_nodes SET state = ?, owner = ?, heartbeat_us = ?
WHERE run_id = ? AND pipeline = ? AND attempt = ? AND state = ?
AND EXISTS (SELECT 1 FROM rat_dag_runs WHERE run_id = ? AND state = ? AND cancelled = 0)`,
				nodeRunning, me, q.nowUS(), a.Run, a.Pipeline, a.Attempt, nodeQueued, a.Run, runRunning)
			claimed = n == 1
			return err
		}); err != nil {
			return nil, nil, err
		}
	}
	if err := q.unlessClaimed(ctx, claimed, func(t tx) error {
		settled, fin = nil, nil
		// A stale job (its attempt was superseded) does nothing; a node
		// queued again while its run was being cancelled settles here.
		res := rat.NodeRun{Pipeline: a.Pipeline, Status: rat.RunSkipped, Error: "cancelled"}
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		n, err := t.exec(ctx, `UPDATE rat_dag_nodes SET state = ?, owner = '', result = ?
WHERE run_id = ? AND pipeline = ? AND attempt = ? AND state = ?
AND EXISTS (SELECT 1 FROM rat_dag_runs WHERE run_id = ? AND cancelled = 1)`,
			string(rat.RunSkipped), string(b), a.Run, a.Pipeline, a.Attempt, nodeQueued, a.Run)
		if err != nil || n == 0 {
			return err
		}
		settled = append(settled, res)
		fin, err = q.settled(ctx, t, a.Run, len(settled))
		return err
	}); err != nil {
		return nil, nil, err
	}
	if !claimed && len(settled) == 0 {
		// A stale job (its node built, here by continueWith, or elsewhere):
		// nothing to do, and the run's head is not read for nothing.
		return nil, fin, nil
	}
	// A node claimed but whose run cannot be read is handed back by the
	// reaper once its heartbeat lease ends.
	run, err := q.head(ctx, a.Run)
	if err != nil || run == nil {
		return nil, nil, err
	}
	if len(settled) > 0 {
		q.cfg.Exec.Progress(ctx, run, settled)
	}
	if !claimed {
		return nil, fin, nil
	}
	return q.build(ctx, a, me, run)
}

// unlessClaimed runs fn in a transaction, unless the node is claimed.
func (q *Queue) unlessClaimed(ctx context.Context, claimed bool, fn func(tx) error) error {
	if claimed {
		return nil
	}
	return q.withTx(ctx, fn)
}

// unclaim hands a node me claimed but did not build back to its job.
func (q *Queue) unclaim(ctx context.Context, a NodeArgs, me string) error {
	return q.withTx(ctx, func(t tx) error {
		_, err := t.exec(ctx, `UPDATE rat_dag_nodes SET state = ?, owner = '' WHERE run_id = ? AND pipeline = ? AND attempt = ? AND state = ? AND owner = ?`,
			nodeQueued, a.Run, a.Pipeline, a.Attempt, nodeRunning, me)
		return err
	})
}

// build builds a node me has claimed and records its outcome.
func (q *Queue) build(ctx context.Context, a NodeArgs, me string, run *rat.RunDetail) (*NodeArgs, *FinishArgs, error) {
	q.cfg.Exec.Progress(ctx, run, []rat.NodeRun{{Pipeline: a.Pipeline, Status: rat.RunRunning,
		Started: q.cfg.Now().UTC(), Worker: q.id, Attempts: a.Attempt}})
	buildCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := q.heartbeat(buildCtx, cancel, `UPDATE rat_dag_nodes SET heartbeat_us = ? WHERE run_id = ? AND pipeline = ? AND owner = ? AND state = ?`,
		a.Run, a.Pipeline, me, nodeRunning)
	n := q.cfg.Exec.Build(buildCtx, run, a.Pipeline, a.Attempt)
	n.Worker = q.id
	stop()
	if errors.Is(context.Cause(buildCtx), errLostLease) {
		return nil, nil, nil
	}
	return q.nodeDone(context.WithoutCancel(ctx), a, me, run, n, ctx.Err() != nil)
}

// nodeDone records a node's outcome and moves its run on, in one
// transaction: a retry, the nodes it unblocks, the downstream of a failure,
// or the run's finish.
func (q *Queue) nodeDone(ctx context.Context, a NodeArgs, me string, run *rat.RunDetail, built rat.NodeRun, stopping bool) (*NodeArgs, *FinishArgs, error) {
	var settled []rat.NodeRun
	var next *NodeArgs
	var fin *FinishArgs
	err := q.withTx(ctx, func(t tx) error {
		settled, next, fin = nil, nil, nil
		var node *dagNode
		cancelled := false
		if err := t.query(ctx, `SELECT n.pipeline, n.retries, n.retry_delay_ms, n.state, n.attempt, n.owner, n.result, r.cancelled
FROM rat_dag_nodes n JOIN rat_dag_runs r ON r.run_id = n.run_id WHERE n.run_id = ? AND n.pipeline = ?`, []any{a.Run, a.Pipeline},
			func(scan func(...any) error) error {
				var c int
				var err error
				node, err = scanNode(func(dest ...any) error { return scan(append(dest, &c)...) })
				cancelled = c != 0
				return err
			}); err != nil || node == nil || node.state != nodeRunning || node.owner != me {
			return err // taken over meanwhile: the new owner reports
		}
		d := dag.Settle(dag.Attempt{Status: built.Status, Attempt: node.attempt, Retries: node.retries, RetryDelay: node.retryDelay,
			Cancelled: cancelled, Stopping: stopping})
		if d.Requeue {
			return q.requeue(ctx, t, a.Run, node, q.cfg.Now().Add(d.Delay))
		}
		built.Status = d.Status
		if d.Error != "" {
			built.Error = d.Error
		}
		settled = append(settled, built)
		if err := setNode(ctx, t, a.Run, node, string(built.Status), built); err != nil {
			return err
		}
		if built.Status == rat.RunSuccess && !cancelled {
			readers, err := unblock(ctx, t, a.Run, a.Pipeline)
			if err != nil {
				return err
			}
			var jobs []river.InsertManyParams
			now := q.cfg.Now()
			for _, n := range readers {
				jobs = append(jobs, nodeJob(a.Run, n.pipeline, n.attempt, now))
				if next == nil {
					next = &NodeArgs{Run: a.Run, Pipeline: n.pipeline, Attempt: n.attempt}
				}
			}
			if err := t.insert(ctx, jobs); err != nil {
				return err
			}
		} else {
			skipped, err := skipDownstream(ctx, t, a.Run, a.Pipeline, dag.SkippedUpstream)
			if err != nil {
				return err
			}
			settled = append(settled, skipped...)
		}
		var err error
		fin, err = q.settled(ctx, t, a.Run, len(settled))
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if len(settled) > 0 {
		q.cfg.Exec.Progress(ctx, run, settled)
	}
	return next, fin, nil
}

// unblock counts a built node off the waiting nodes that read it and
// queues those that wait for nothing more (one statement, whatever the
// number of readers).
func unblock(ctx context.Context, t tx, run, pipeline string) ([]*dagNode, error) {
	var out []*dagNode
	err := t.query(ctx, `UPDATE rat_dag_nodes SET pending = pending - 1, state = CASE WHEN pending <= 1 THEN ? ELSE state END
WHERE run_id = ? AND state = ? AND pipeline IN (SELECT pipeline FROM rat_dag_edges WHERE run_id = ? AND dep = ?)
RETURNING `+nodeColumns, []any{nodeQueued, run, nodeWaiting, run, pipeline},
		func(scan func(...any) error) error {
			n, err := scanNode(scan)
			if err == nil && n.state == nodeQueued {
				out = append(out, n)
			}
			return err
		})
	return out, err
}

// settled counts k nodes of a run as settled. When none is left, the run
// moves to finishing and its finish job is inserted, which it returns. The
// run's row is written here only, at the end of the transaction, so its
// lock is held for this statement and the commit.
func (q *Queue) settled(ctx context.Context, t tx, run string, k int) (*FinishArgs, error) {
	active, state := -1, ""
	if err := t.query(ctx, `UPDATE rat_dag_runs SET active = active - ? WHERE run_id = ? RETURNING active, state`, []any{k, run},
		func(scan func(...any) error) error { return scan(&active, &state) }); err != nil {
		return nil, err
	}
	if active != 0 || state != runRunning {
		return nil, nil
	}
	if _, err := t.exec(ctx, `UPDATE rat_dag_runs SET state = ?, attempt = 1, owner = '' WHERE run_id = ?`, runFinishing, run); err != nil {
		return nil, err
	}
	if err := t.insert(ctx, []river.InsertManyParams{finishJob(run, 1)}); err != nil {
		return nil, err
	}
	return &FinishArgs{Run: run, Attempt: 1}, nil
}

// requeue gives a node a new attempt, due at at.
func (q *Queue) requeue(ctx context.Context, t tx, run string, n *dagNode, at time.Time) error {
	if _, err := t.exec(ctx, `UPDATE rat_dag_nodes SET state = ?, attempt = attempt + 1, owner = '' WHERE run_id = ? AND pipeline = ?`, nodeQueued, run, n.pipeline); err != nil {
		return err
	}
	return t.insert(ctx, []river.InsertManyParams{nodeJob(run, n.pipeline, n.attempt+1, at)})
}

func setNode(ctx context.Context, t tx, run string, n *dagNode, state string, res rat.NodeRun) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	n.state = state
	_, err = t.exec(ctx, `UPDATE rat_dag_nodes SET state = ?, owner = '', result = ? WHERE run_id = ? AND pipeline = ?`, state, string(b), run, n.pipeline)
	return err
}

// skipDownstream settles every waiting node that reads the failed node
// from, transitively, as skipped.
func skipDownstream(ctx context.Context, t tx, run, from, reason string) ([]rat.NodeRun, error) {
	var out []rat.NodeRun
	for frontier := []string{from}; len(frontier) > 0; {
		f := frontier[0]
		frontier = frontier[1:]
		readers, err := waitingReaders(ctx, t, run, f)
		if err != nil {
			return nil, err
		}
		for _, n := range readers {
			res := rat.NodeRun{Pipeline: n.pipeline, Status: rat.RunSkipped, Error: reason}
			if err := setNode(ctx, t, run, n, string(rat.RunSkipped), res); err != nil {
				return nil, err
			}
			out = append(out, res)
			frontier = append(frontier, n.pipeline)
		}
	}
	return out, nil
}
