package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/ratdata/rat"
)

// Reap hands the nodes and finishes whose owner stopped writing heartbeats
// for lease to new attempts, and forgets the DAGs of runs finished a day
// ago. The scheduler calls it on every tick.
func (q *Queue) Reap(ctx context.Context, lease time.Duration) (int, error) {
	stale := q.cfg.Now().Add(-lease).UnixMicro()
	type item struct {
		run, pipeline, owner string
	}
	var items []item
	err := q.withTx(ctx, func(t tx) error {
		items = items[:0]
		if err := t.query(ctx, `SELECT run_id, pipeline, owner FROM rat_dag_nodes WHERE state = ? AND heartbeat_us < ?`, []any{nodeRunning, stale},
			func(scan func(...any) error) error {
				var it item
				err := scan(&it.run, &it.pipeline, &it.owner)
				items = append(items, it)
				return err
			}); err != nil {
			return err
		}
		if err := t.query(ctx, `SELECT run_id, owner FROM rat_dag_runs WHERE state = ? AND owner <> '' AND heartbeat_us < ?`, []any{runFinishing, stale},
			func(scan func(...any) error) error {
				var it item
				err := scan(&it.run, &it.owner)
				items = append(items, it)
				return err
			}); err != nil {
			return err
		}
		old := q.cfg.Now().Add(-keepDone).UnixMicro()
		for _, table := range []string{"rat_dag_nodes", "rat_dag_edges"} {
			if _, err := t.exec(ctx, `DELETE FROM `+table+` WHERE run_id IN (SELECT run_id FROM rat_dag_runs WHERE state = ? AND finished_us < ?)`, runDone, old); err != nil {
				return err
			}
		}
		_, err := t.exec(ctx, `DELETE FROM rat_dag_runs WHERE state = ? AND finished_us < ?`, runDone, old)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reap stale nodes: %w", err)
	}
	reaped := 0
	for _, it := range items {
		err := q.withTx(ctx, func(t tx) error {
			if it.pipeline == "" {
				if ok, err := lockRun(ctx, t, it.run); err != nil || !ok {
					return err
				}
				return q.refinish(ctx, t, it.run, it.owner)
			}
			// The node's row only, as its owner's nodeDone would: whichever
			// comes first wins, the other finds the row changed.
			n, err := t.exec(ctx, `UPDATE rat_dag_nodes SET state = ?, attempt = attempt + 1, owner = '' WHERE run_id = ? AND pipeline = ? AND state = ? AND owner = ?`,
				nodeQueued, it.run, it.pipeline, nodeRunning, it.owner)
			if err != nil || n == 0 {
				return err // it reported meanwhile
			}
			node, err := readNode(ctx, t, it.run, it.pipeline)
			if err != nil || node == nil {
				return err
			}
			reaped++
			return t.insert(ctx, []river.InsertManyParams{nodeJob(it.run, it.pipeline, node.attempt, q.cfg.Now())})
		})
		if err != nil {
			return reaped, fmt.Errorf("reap stale nodes: %w", err)
		}
	}
	return reaped, nil
}

// cancelDAG cancels a run that has a DAG: nodes not started are settled
// as cancelled, running ones are stopped by cancelling their jobs, and
// when nothing runs the finish job records the run. It reports false when
// the run has no DAG (its rat_run job has not prepared it).
//
// The flag goes first, in a transaction of its own: from then on no node
// is claimed (a node queued again meanwhile settles when its job comes).
// Then the nodes not started settle, locking their rows before the run's,
// in the order nodeDone does.
func (q *Queue) cancelDAG(ctx context.Context, run string) (found, finished bool, err error) {
	state := ""
	if err := q.withTx(ctx, func(t tx) error {
		found, state = false, ""
		return t.query(ctx, `UPDATE rat_dag_runs SET cancelled = 1 WHERE run_id = ? RETURNING state`, []any{run}, func(scan func(...any) error) error {
			found = true
			return scan(&state)
		})
	}); err != nil || !found {
		return found, false, err
	}
	if state == runDone {
		return true, true, nil
	}
	var settled []rat.NodeRun
	if state == runRunning {
		err = q.withTx(ctx, func(t tx) error {
			settled = nil
			nodes, err := readNodes(ctx, t, run)
			if err != nil {
				return err
			}
			for _, n := range nodes {
				if n.state != nodeWaiting && n.state != nodeQueued {
					continue
				}
				nr := rat.NodeRun{Pipeline: n.pipeline, Status: rat.RunSkipped, Error: "cancelled"}
				b, err := json.Marshal(nr)
				if err != nil {
					return err
				}
				changed, err := t.exec(ctx, `UPDATE rat_dag_nodes SET state = ?, owner = '', result = ? WHERE run_id = ? AND pipeline = ? AND state IN (?, ?)`,
					string(rat.RunSkipped), string(b), run, n.pipeline, nodeWaiting, nodeQueued)
				if err != nil {
					return err
				}
				if changed == 1 {
					settled = append(settled, nr)
				}
			}
			if len(settled) == 0 {
				return nil
			}
			_, err = q.settled(ctx, t, run, len(settled))
			return err
		})
		if err != nil {
			return true, false, err
		}
	}
	if len(settled) > 0 && q.cfg.Exec != nil {
		if res, err := q.head(ctx, run); err == nil && res != nil {
			q.cfg.Exec.Progress(ctx, res, settled)
		}
	}
	// Stop the nodes being built, wherever they run (a rat_run job builds
	// the first node itself).
	jobs, err := q.list(ctx, river.NewJobListParams().Kinds(NodeArgs{}.Kind(), RunArgs{}.Kind()).TagsAny(runTag(run)).
		States("running", "available", "scheduled", "retryable").First(10_000))
	if err != nil {
		return true, false, fmt.Errorf("cancel run %s: %w", run, err)
	}
	for _, j := range jobs.Jobs {
		if _, err := q.cancel(ctx, j.ID); err != nil {
			return true, false, fmt.Errorf("cancel run %s: %w", run, err)
		}
	}
	return true, false, nil
}
