package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/ratdata/rat"
)

// A queued run is a DAG of jobs (DESIGN D10). Its rat_run job prepares it:
// the run branch is forked and a row per node goes into rat_dag_nodes, in
// the same transaction as the jobs of the nodes that wait for nothing. A
// rat_node job builds one node; when it finishes, one transaction records
// its outcome, marks what it unblocks as queued and inserts their jobs (or
// skips the downstream of a failure). When no node is left, the same
// transaction inserts the run's rat_finish job, which tests and publishes.
//
// A node being built has an owner, which writes a heartbeat every
// heartbeatEvery. The scheduler's tick hands the node of a dead owner (its
// heartbeat older than the lease) to a new attempt; every attempt after the
// first starts by resetting the node's tables on the run branch, so a node
// built twice is not duplicated. A worker that stops hands its running
// nodes back the same way, at once.

// Node and run states in rat_dag_nodes and rat_dag_runs.
const (
	nodeWaiting = "waiting" // upstream nodes not built yet
	nodeQueued  = "queued"  // a job for this attempt exists
	nodeRunning = "running" // an owner builds it

	runRunning   = "running"
	runFinishing = "finishing" // the rat_finish job tests and publishes
	runDone      = "done"
)

const (
	heartbeatEvery = 2 * time.Second
	// DefaultLease is how long a node may go without a heartbeat before
	// the scheduler gives it to another worker.
	DefaultLease = 15 * time.Second
	// keepDone is how long the DAG rows of a finished run stay (the run
	// record in the catalog stays as long as the retention says).
	keepDone = 24 * time.Hour
)

// NodeArgs is the job of one node of a run, for one attempt.
type NodeArgs struct {
	Run      string `json:"run"`
	Pipeline string `json:"pipeline"`
	Attempt  int    `json:"attempt"`
}

// Kind is River's name for the job.
func (NodeArgs) Kind() string { return "rat_node" }

// InsertOpts: River retries a node job only when the queue machinery
// failed; a failed build is retried as a new attempt (retries in the
// pipeline's config).
func (NodeArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 5} }

// FinishArgs is the job that tests and publishes a run.
type FinishArgs struct {
	Run     string `json:"run"`
	Attempt int    `json:"attempt"`
}

// Kind is River's name for the job.
func (FinishArgs) Kind() string { return "rat_finish" }

// InsertOpts as for nodes.
func (FinishArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 5} }

// Exec executes the parts of a run; internal/pipeline's Runner does the
// work (the orchestrator links no DuckDB).
type Exec interface {
	// Prepare forks the run branch and returns the run and its nodes. A
	// run that ends here (skipped by the overlap policy, bad selectors)
	// comes back recorded, with a final status and no nodes. An error of
	// type *Busy makes the run wait.
	Prepare(ctx context.Context, opts RunArgs) (*rat.RunDetail, []rat.PlannedNode, error)
	// Build builds one node, once.
	Build(ctx context.Context, run *rat.RunDetail, pipeline string, attempt int) rat.NodeRun
	// Progress records nodes that started (status running) or settled in
	// the run's record.
	Progress(ctx context.Context, run *rat.RunDetail, nodes []rat.NodeRun)
	// Complete tests and publishes a run whose nodes are all built (in
	// run.Nodes) and records it; after a cancel it publishes nothing.
	Complete(ctx context.Context, run *rat.RunDetail, cancelled bool) *rat.RunDetail
}

// tx is a transaction on the queue's database, whichever the driver, with
// River's insert bound to it.
type tx interface {
	exec(ctx context.Context, query string, args ...any) (int64, error)
	query(ctx context.Context, query string, args []any, row func(scan func(...any) error) error) error
	insert(ctx context.Context, jobs []river.InsertManyParams) error
	// notifyDone tells the waiters of other processes, once committed,
	// that run ended (Postgres; nothing on SQLite, see notify.go).
	notifyDone(ctx context.Context, run string) error
}

// dagNode is a row of rat_dag_nodes.
type dagNode struct {
	pipeline   string
	retries    int
	retryDelay time.Duration
	state      string
	attempt    int
	owner      string
	result     string
}

// lockRun locks a run's row for the rest of the transaction (its first
// statement is a write: SQLite takes its write lock, Postgres the row's).
// It reports false when the run has no DAG.
func lockRun(ctx context.Context, t tx, run string) (bool, error) {
	n, err := t.exec(ctx, `UPDATE rat_dag_runs SET version = version + 1 WHERE run_id = ?`, run)
	return n == 1, err
}

type dagRun struct {
	result    *rat.RunDetail
	state     string
	cancelled bool
	attempt   int
	owner     string
}

func readRun(ctx context.Context, t tx, run string) (*dagRun, error) {
	var r dagRun
	var result string
	var cancelled int
	found := false
	err := t.query(ctx, `SELECT result, state, cancelled, attempt, owner FROM rat_dag_runs WHERE run_id = ?`, []any{run}, func(scan func(...any) error) error {
		found = true
		return scan(&result, &r.state, &cancelled, &r.attempt, &r.owner)
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("run %s has no DAG", run)
	}
	r.cancelled = cancelled != 0
	r.result = new(rat.RunDetail)
	if err := json.Unmarshal([]byte(result), r.result); err != nil {
		return nil, fmt.Errorf("run %s: %w", run, err)
	}
	return &r, nil
}

const nodeColumns = `pipeline, retries, retry_delay_ms, state, attempt, owner, result`

func scanNode(scan func(...any) error) (*dagNode, error) {
	var n dagNode
	var delay int64
	if err := scan(&n.pipeline, &n.retries, &delay, &n.state, &n.attempt, &n.owner, &n.result); err != nil {
		return nil, err
	}
	n.retryDelay = time.Duration(delay) * time.Millisecond
	return &n, nil
}

// readNodes reads every node of a run, in planned order.
func readNodes(ctx context.Context, t tx, run string) ([]*dagNode, error) {
	var out []*dagNode
	err := t.query(ctx, `SELECT `+nodeColumns+` FROM rat_dag_nodes WHERE run_id = ? ORDER BY ord`, []any{run},
		func(scan func(...any) error) error {
			n, err := scanNode(scan)
			out = append(out, n)
			return err
		})
	return out, err
}

// readNode reads one node; nil when the run has no such node.
func readNode(ctx context.Context, t tx, run, pipeline string) (*dagNode, error) {
	var out *dagNode
	err := t.query(ctx, `SELECT `+nodeColumns+` FROM rat_dag_nodes WHERE run_id = ? AND pipeline = ?`, []any{run, pipeline},
		func(scan func(...any) error) error {
			var err error
			out, err = scanNode(scan)
			return err
		})
	return out, err
}

// waitingReaders returns the waiting nodes that read pipeline.
func waitingReaders(ctx context.Context, t tx, run, pipeline string) ([]*dagNode, error) {
	var out []*dagNode
	err := t.query(ctx, `SELECT n.pipeline, n.retries, n.retry_delay_ms, n.state, n.attempt, n.owner, n.result
FROM rat_dag_edges e JOIN rat_dag_nodes n ON n.run_id = e.run_id AND n.pipeline = e.pipeline
WHERE e.run_id = ? AND e.dep = ? AND n.state = ?`, []any{run, pipeline, nodeWaiting},
		func(scan func(...any) error) error {
			n, err := scanNode(scan)
			out = append(out, n)
			return err
		})
	return out, err
}

func nodeJob(run, pipeline string, attempt int, at time.Time) river.InsertManyParams {
	opts := NodeArgs{}.InsertOpts()
	opts.Tags = []string{runTag(run)}
	if time.Until(at) > 0 {
		opts.ScheduledAt = at
	}
	return river.InsertManyParams{Args: NodeArgs{Run: run, Pipeline: pipeline, Attempt: attempt}, InsertOpts: &opts}
}

func finishJob(run string, attempt int) river.InsertManyParams {
	opts := FinishArgs{}.InsertOpts()
	opts.Tags = []string{runTag(run)}
	return river.InsertManyParams{Args: FinishArgs{Run: run, Attempt: attempt}, InsertOpts: &opts}
}

func (q *Queue) nowUS() int64 { return q.cfg.Now().UnixMicro() }

// prepare works a rat_run job: it prepares the run and stores its DAG.
func (q *Queue) prepare(ctx context.Context, job *river.Job[RunArgs]) error {
	id := job.Args.ID
	if state, err := q.runState(ctx, id); err != nil || state != "" {
		return err // a retried job whose run is under way already
	}
	res, nodes, err := q.cfg.Exec.Prepare(ctx, job.Args)
	if ctx.Err() != nil {
		// Cancelled while preparing (CancelRun records it): no DAG.
		return river.JobCancel(fmt.Errorf("run %s cancelled", id))
	}
	if err != nil {
		var busy *Busy
		if errors.As(err, &busy) {
			// Not a failure: the job waits its turn, without using an attempt.
			return river.JobSnooze(busy.Wait)
		}
		return fmt.Errorf("run %s: %w", id, err)
	}
	if nodes == nil && res.Status != rat.RunSuccess {
		// Ended before it started; recorded. Waiters elsewhere look again
		// (here, River's event for the job's end wakes them).
		if q.pgPool != nil {
			if _, err := q.pgPool.Exec(context.WithoutCancel(ctx), `SELECT pg_notify($1, $2)`, runDoneChannel, id); err != nil {
				return fmt.Errorf("run %s: %w", id, err)
			}
		}
		return nil
	}
	// The nodes live in their rows: the run's row keeps the rest, small.
	head := *res
	head.Nodes = nil
	stored, err := json.Marshal(&head)
	if err != nil {
		return err
	}
	var first *NodeArgs
	var fin *FinishArgs
	if err := q.withTx(ctx, func(t tx) error {
		first, fin = nil, nil
		n, err := t.exec(ctx, `INSERT INTO rat_dag_runs (run_id, result, state) VALUES (?, ?, ?) ON CONFLICT (run_id) DO NOTHING`, id, string(stored), runRunning)
		if err != nil || n == 0 {
			return err
		}
		var jobs []river.InsertManyParams
		now := q.cfg.Now()
		for i, node := range nodes {
			state := nodeWaiting
			if len(node.Deps) == 0 {
				state = nodeQueued
				jobs = append(jobs, nodeJob(id, node.Pipeline, 1, now))
			}
			if _, err := t.exec(ctx, `INSERT INTO rat_dag_nodes (run_id, ord, pipeline, retries, retry_delay_ms, state) VALUES (?, ?, ?, ?, ?, ?)`,
				id, i, node.Pipeline, node.Retries, node.RetryDelay.Milliseconds(), state); err != nil {
				return err
			}
			for _, d := range node.Deps {
				if _, err := t.exec(ctx, `INSERT INTO rat_dag_edges (run_id, dep, pipeline) VALUES (?, ?, ?)`, id, d, node.Pipeline); err != nil {
					return err
				}
			}
		}
		if len(nodes) == 0 {
			if _, err := t.exec(ctx, `UPDATE rat_dag_runs SET state = ?, attempt = 1 WHERE run_id = ?`, runFinishing, id); err != nil {
				return err
			}
			jobs = append(jobs, finishJob(id, 1))
			fin = &FinishArgs{Run: id, Attempt: 1}
		} else if len(jobs) > 0 {
			first = &NodeArgs{Run: id, Pipeline: jobs[0].Args.(NodeArgs).Pipeline, Attempt: 1}
		}
		return t.insert(ctx, jobs)
	}); err != nil {
		return err
	}
	// The first node starts here, without waiting for a worker to poll.
	return q.continueWith(ctx, first, fin, q.owner(job.ID, job.Attempt))
}

// errLostLease ends a build whose node was given to another worker.
var errLostLease = errors.New("the node was handed to another worker after missed heartbeats")

// owner names one execution of a job.
func (q *Queue) owner(id int64, attempt int) string {
	return fmt.Sprintf("%s/%d/%d", q.id, id, attempt)
}

// buildNode works a rat_node job.
func (q *Queue) buildNode(ctx context.Context, job *river.Job[NodeArgs]) error {
	return q.continueWith(ctx, &job.Args, nil, q.owner(job.ID, job.Attempt))
}

// continueWith builds a node and goes on, in the same job, with the first
// node each build unblocks and with the run's finish when the last node
// settled. Their jobs are in the queue all the same (other workers take
// the other unblocked nodes; the job of a node built here finds it taken),
// but a chain of nodes runs without waiting for a worker to poll.
// A stopping worker goes on with nothing: the jobs wait for other workers.
func (q *Queue) continueWith(ctx context.Context, node *NodeArgs, fin *FinishArgs, me string) error {
	for node != nil && ctx.Err() == nil && !q.stopping.Load() {
		var err error
		if node, fin, err = q.runNode(ctx, *node, me); err != nil {
			return err
		}
	}
	if fin != nil && ctx.Err() == nil && !q.stopping.Load() {
		return q.finishRun(ctx, *fin, me)
	}
	return nil
}

// runNode claims and builds one node, and reports the node and the finish
// it can go on with.
func (q *Queue) runNode(ctx context.Context, a NodeArgs, me string) (*NodeArgs, *FinishArgs, error) {
	var run *rat.RunDetail
	if err := q.withTx(ctx, func(t tx) error {
		if ok, err := lockRun(ctx, t, a.Run); err != nil || !ok {
			return err
		}
		r, err := readRun(ctx, t, a.Run)
		if err != nil || r.state != runRunning {
			return err // cancelled: the canceller settled this node
		}
		n, err := t.exec(ctx, `UPDATE rat_dag_nodes SET state = ?, owner = ?, heartbeat_us = ? WHERE run_id = ? AND pipeline = ? AND attempt = ? AND state = ?`,
			nodeRunning, me, q.nowUS(), a.Run, a.Pipeline, a.Attempt, nodeQueued)
		if err == nil && n == 1 {
			run = r.result
		}
		return err // n == 0: a stale job (its attempt was superseded)
	}); err != nil || run == nil {
		return nil, nil, err
	}
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

// heartbeat writes the owner's heartbeat until stop is called; when the
// row is no longer this owner's, it cancels the work with errLostLease.
func (q *Queue) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, update string, args ...any) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			var n int64
			err := q.withTx(context.WithoutCancel(ctx), func(t tx) error {
				var err error
				n, err = t.exec(ctx, update, append([]any{q.nowUS()}, args...)...)
				return err
			})
			if err == nil && n == 0 {
				cancel(errLostLease)
				return
			}
		}
	}()
	return func() { close(done); <-finished }
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
		if ok, err := lockRun(ctx, t, a.Run); err != nil || !ok {
			return err
		}
		r, err := readRun(ctx, t, a.Run)
		if err != nil {
			return err
		}
		node, err := readNode(ctx, t, a.Run, a.Pipeline)
		if err != nil || node == nil || node.state != nodeRunning || node.owner != me {
			return err // taken over meanwhile: the new owner reports
		}
		now := q.cfg.Now()
		switch {
		case stopping && !r.cancelled && built.Status != rat.RunSuccess:
			// This worker stops: the node goes back to the queue at once.
			return q.requeue(ctx, t, a.Run, node, now)
		case built.Status == rat.RunFailed && !r.cancelled && node.attempt <= node.retries:
			return q.requeue(ctx, t, a.Run, node, now.Add(node.retryDelay))
		}
		if r.cancelled && built.Status != rat.RunSuccess {
			built.Status, built.Error = rat.RunFailed, "cancelled"
		}
		settled = append(settled, built)
		if err := setNode(ctx, t, a.Run, node, string(built.Status), built); err != nil {
			return err
		}
		var jobs []river.InsertManyParams
		if built.Status == rat.RunSuccess && !r.cancelled {
			readers, err := waitingReaders(ctx, t, a.Run, a.Pipeline)
			if err != nil {
				return err
			}
			for _, n := range readers {
				var pending int
				if err := t.query(ctx, `SELECT count(*) FROM rat_dag_edges e JOIN rat_dag_nodes n ON n.run_id = e.run_id AND n.pipeline = e.dep
WHERE e.run_id = ? AND e.pipeline = ? AND n.state <> ?`, []any{a.Run, n.pipeline, string(rat.RunSuccess)}, func(scan func(...any) error) error {
					return scan(&pending)
				}); err != nil {
					return err
				}
				if pending > 0 {
					continue
				}
				if _, err := t.exec(ctx, `UPDATE rat_dag_nodes SET state = ? WHERE run_id = ? AND pipeline = ?`, nodeQueued, a.Run, n.pipeline); err != nil {
					return err
				}
				jobs = append(jobs, nodeJob(a.Run, n.pipeline, n.attempt, now))
				if next == nil {
					next = &NodeArgs{Run: a.Run, Pipeline: n.pipeline, Attempt: n.attempt}
				}
			}
		} else {
			skipped, err := skipDownstream(ctx, t, a.Run, a.Pipeline, "an upstream pipeline failed")
			if err != nil {
				return err
			}
			settled = append(settled, skipped...)
		}
		if last, err := q.finishIfDone(ctx, t, a.Run, r); err != nil {
			return err
		} else if last != nil {
			jobs = append(jobs, *last)
			fin = &FinishArgs{Run: a.Run, Attempt: 1}
		}
		return t.insert(ctx, jobs)
	})
	if err != nil {
		return nil, nil, err
	}
	if len(settled) > 0 {
		q.cfg.Exec.Progress(ctx, run, settled)
	}
	return next, fin, nil
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

// finishIfDone moves a run whose nodes are all settled to finishing and
// returns its finish job.
func (q *Queue) finishIfDone(ctx context.Context, t tx, run string, r *dagRun) (*river.InsertManyParams, error) {
	if r.state != runRunning {
		return nil, nil
	}
	var active int
	if err := t.query(ctx, `SELECT count(*) FROM rat_dag_nodes WHERE run_id = ? AND state IN (?, ?, ?)`, []any{run, nodeWaiting, nodeQueued, nodeRunning},
		func(scan func(...any) error) error { return scan(&active) }); err != nil || active > 0 {
		return nil, err
	}
	if _, err := t.exec(ctx, `UPDATE rat_dag_runs SET state = ?, attempt = 1, owner = '' WHERE run_id = ?`, runFinishing, run); err != nil {
		return nil, err
	}
	j := finishJob(run, 1)
	return &j, nil
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
			if ok, err := lockRun(ctx, t, it.run); err != nil || !ok {
				return err
			}
			if it.pipeline == "" {
				return q.refinish(ctx, t, it.run, it.owner)
			}
			n, err := readNode(ctx, t, it.run, it.pipeline)
			if err != nil || n == nil || n.state != nodeRunning || n.owner != it.owner {
				return err // it reported meanwhile
			}
			reaped++
			return q.requeue(ctx, t, it.run, n, q.cfg.Now())
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
func (q *Queue) cancelDAG(ctx context.Context, run string) (found, finished bool, err error) {
	var settled []rat.NodeRun
	var res *rat.RunDetail
	err = q.withTx(ctx, func(t tx) error {
		settled = nil
		ok, err := lockRun(ctx, t, run)
		if err != nil || !ok {
			return err
		}
		found = true
		r, err := readRun(ctx, t, run)
		if err != nil {
			return err
		}
		res = r.result
		if r.state == runDone {
			finished = true
			return nil
		}
		if _, err := t.exec(ctx, `UPDATE rat_dag_runs SET cancelled = 1 WHERE run_id = ?`, run); err != nil {
			return err
		}
		r.cancelled = true
		if r.state != runRunning {
			return nil // finishing: the finish job sees the flag if it has not begun
		}
		nodes, err := readNodes(ctx, t, run)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if n.state == nodeWaiting || n.state == nodeQueued {
				nr := rat.NodeRun{Pipeline: n.pipeline, Status: rat.RunSkipped, Error: "cancelled"}
				if err := setNode(ctx, t, run, n, string(rat.RunSkipped), nr); err != nil {
					return err
				}
				settled = append(settled, nr)
			}
		}
		last, err := q.finishIfDone(ctx, t, run, r)
		if err != nil || last == nil {
			return err
		}
		return t.insert(ctx, []river.InsertManyParams{*last})
	})
	if err != nil || !found || finished {
		return found, finished, err
	}
	if len(settled) > 0 && q.cfg.Exec != nil {
		q.cfg.Exec.Progress(ctx, res, settled)
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

// runState returns the state of a run's DAG, "" when it has none (not
// prepared yet, or prepared nothing).
func (q *Queue) runState(ctx context.Context, run string) (string, error) {
	state := ""
	err := q.read(ctx, func(t tx) error {
		return t.query(ctx, `SELECT state FROM rat_dag_runs WHERE run_id = ?`, []any{run}, func(scan func(...any) error) error {
			return scan(&state)
		})
	})
	return state, err
}
