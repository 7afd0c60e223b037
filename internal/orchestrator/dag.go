package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog/sqlstore"
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

// insertRows inserts rows of width values each (args, row after row),
// many rows a statement.
func insertRows(ctx context.Context, t tx, insert string, width int, args []any) error {
	return sqlstore.Chunks(len(args)/width, sqlstore.ChunkSize, func(lo, hi int) error {
		_, err := t.exec(ctx, insert+sqlstore.RowPlaceholders(hi-lo, width), args[lo*width:hi*width]...)
		return err
	})
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
	inserted := false
	me := q.owner(job.ID, job.Attempt)
	// This job builds the run's first node itself: it claims it in the
	// same transaction (its job stays in the queue, and finds it taken).
	claim := ctx.Err() == nil && !q.stopping.Load()
	if err := q.withTx(ctx, func(t tx) error {
		first, fin, inserted = nil, nil, false
		n, err := t.exec(ctx, `INSERT INTO rat_dag_runs (run_id, result, state, active) VALUES (?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING`, id, string(stored), runRunning, len(nodes))
		if err != nil || n == 0 {
			return err
		}
		inserted = true
		var jobs []river.InsertManyParams
		var rows, edges []any
		now := q.cfg.Now()
		for i, node := range nodes {
			state, owner, heartbeat := nodeWaiting, "", int64(0)
			if len(node.Deps) == 0 {
				state = nodeQueued
				jobs = append(jobs, nodeJob(id, node.Pipeline, 1, now))
				if claim && first == nil {
					first = &NodeArgs{Run: id, Pipeline: node.Pipeline, Attempt: 1}
					state, owner, heartbeat = nodeRunning, me, q.nowUS()
				}
			}
			rows = append(rows, id, i, node.Pipeline, node.Retries, node.RetryDelay.Milliseconds(), state, len(node.Deps), owner, heartbeat)
			for _, d := range node.Deps {
				edges = append(edges, id, d, node.Pipeline)
			}
		}
		if err := insertRows(ctx, t, `INSERT INTO rat_dag_nodes (run_id, ord, pipeline, retries, retry_delay_ms, state, pending, owner, heartbeat_us) VALUES `, 9, rows); err != nil {
			return err
		}
		if err := insertRows(ctx, t, `INSERT INTO rat_dag_edges (run_id, dep, pipeline) VALUES `, 3, edges); err != nil {
			return err
		}
		if len(nodes) == 0 {
			if _, err := t.exec(ctx, `UPDATE rat_dag_runs SET state = ?, attempt = 1 WHERE run_id = ?`, runFinishing, id); err != nil {
				return err
			}
			jobs = append(jobs, finishJob(id, 1))
			fin = &FinishArgs{Run: id, Attempt: 1}
		}
		return t.insert(ctx, jobs)
	}); err != nil {
		return err
	}
	// This process goes on with the run's first node: it need not read
	// back the head it has just stored.
	if inserted {
		if _, err := q.keepHead(id, stored); err != nil {
			return err
		}
	}
	// The first node starts here, without waiting for a worker to poll.
	return q.continueWith(ctx, first, fin, me, first != nil)
}

// errLostLease ends a build whose node was given to another worker.
var errLostLease = errors.New("the node was handed to another worker after missed heartbeats")

// owner names one execution of a job.
func (q *Queue) owner(id int64, attempt int) string {
	return fmt.Sprintf("%s/%d/%d", q.id, id, attempt)
}

// buildNode works a rat_node job.
func (q *Queue) buildNode(ctx context.Context, job *river.Job[NodeArgs]) error {
	return q.continueWith(ctx, &job.Args, nil, q.owner(job.ID, job.Attempt), false)
}

// continueWith builds a node and goes on, in the same job, with the first
// node each build unblocks and with the run's finish when the last node
// settled. Their jobs are in the queue all the same (other workers take
// the other unblocked nodes; the job of a node built here finds it taken),
// but a chain of nodes runs without waiting for a worker to poll.
// A stopping worker goes on with nothing: the jobs wait for other workers.
// claimed says that me has claimed the first node already (prepare); a
// worker stopping before it built it hands it back to its job.
func (q *Queue) continueWith(ctx context.Context, node *NodeArgs, fin *FinishArgs, me string, claimed bool) error {
	for node != nil {
		if ctx.Err() != nil || q.stopping.Load() {
			if claimed {
				return q.unclaim(context.WithoutCancel(ctx), *node, me)
			}
			break
		}
		var err error
		if node, fin, err = q.runNode(ctx, *node, me, claimed); err != nil {
			return err
		}
		claimed = false
	}
	if fin != nil && ctx.Err() == nil && !q.stopping.Load() {
		return q.finishRun(ctx, *fin, me)
	}
	return nil
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
