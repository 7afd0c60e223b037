// Package orchestrator decides when and where pipeline runs execute. It
// runs them as River jobs (DESIGN D10): a client on the embedded default's
// SQLite queue file or on the cluster's Postgres database. A run is a DAG
// of jobs, one per node (see dag.go), so the nodes of one run spread over
// every worker. Any process with a worker client claims and executes the
// jobs; processes without one (rat serve --no-worker) only enqueue. River
// brings retries, cancellation and leader election. The package also
// holds the scheduler (scheduler.go), queued runs as the API sees them
// (runs.go), run logs (runlog.go) and the workspace reloader
// (workspaces.go); it links no DuckDB, no HTTP server and no CLI.
package orchestrator

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/stmtcache" // the queue file's driver
)

// RunArgs is the job of one pipeline run.
type RunArgs struct {
	ID          string   `json:"id"`
	Target      string   `json:"target"`
	Selectors   []string `json:"selectors,omitempty"`
	FullRefresh bool     `json:"full_refresh,omitempty"`
	Trigger     string   `json:"trigger,omitempty"`
	// Task makes the run a maintenance run of that task (maintain.go).
	Task string `json:"task,omitempty"`
}

// Kind is River's name for the job.
func (RunArgs) Kind() string { return "rat_run" }

// InsertOpts: a run is retried when the machinery failed (a lost
// connection, a killed worker), not when its tests failed.
func (RunArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

// Config configures Open.
type Config struct {
	// SQLitePath is the queue file of the embedded default; PostgresURL the
	// cluster's database (River's tables live beside the catalog's). One.
	SQLitePath  string
	PostgresURL string
	// Workers is how many jobs (nodes) this process executes at once; 0
	// makes an insert-only client.
	Workers int
	// Exec executes the parts of runs. Required when Workers > 0.
	Exec Exec
	// Now is the clock for run ids.
	Now func() time.Time
	// Tick, when set, makes this process a scheduler: River's leader (one
	// client among all processes) enqueues a tick every TickInterval, and
	// one scheduler process works it by calling Tick. Processes without
	// Tick never work ticks.
	Tick         func(ctx context.Context, now time.Time) error
	TickInterval time.Duration // default 1s
	// NextTick, when set, says when the tick after the one due at t is
	// due (instead of t + TickInterval): River's leader asks it after
	// each tick, so that an idle scheduler ticks less often.
	NextTick func(t time.Time) time.Time
	// StaleTick is how long a tick may run before the schedulers delete it
	// as the tick of a process that died mid-tick (default 30s).
	StaleTick time.Duration

	// sqlDriver is the database/sql driver of the queue file (tests count
	// statements through their own).
	sqlDriver string
}

// TickArgs is the scheduler's periodic job.
type TickArgs struct{}

// Kind is River's name for the job.
func (TickArgs) Kind() string { return "rat_tick" }

// InsertOpts: ticks go to the scheduler queue, are never retried (the next
// one comes a second later) and never pile up.
func (TickArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: SchedulerQueue, MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateScheduled, rivertype.JobStateRunning, rivertype.JobStateRetryable,
	}}}
}

// SchedulerQueue is the queue only scheduler processes work.
const SchedulerQueue = "rat_scheduler"

type tickWorker struct {
	river.WorkerDefaults[TickArgs]
	tick func(ctx context.Context, now time.Time) error
	now  func() time.Time
}

// Work runs one scheduler tick.
func (w *tickWorker) Work(ctx context.Context, job *river.Job[TickArgs]) error {
	if w.tick == nil {
		return nil
	}
	return w.tick(ctx, w.now())
}

// Queue enqueues runs and, with workers, executes them.
type Queue struct {
	cfg    Config
	id     string // names this process in the owners of nodes
	withTx func(ctx context.Context, fn func(tx) error) error
	// read runs fn's statements each on its own, outside a transaction:
	// reads, and writes of one statement (a node's claim)
	read   func(ctx context.Context, fn func(tx) error) error
	insert func(ctx context.Context, args RunArgs) (*rivertype.JobInsertResult, error)
	get    func(ctx context.Context, id int64) (*rivertype.JobRow, error)
	cancel func(ctx context.Context, id int64) (*rivertype.JobRow, error)
	list   func(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	start  func(ctx context.Context) error
	stop   func(ctx context.Context) error
	halt   func(ctx context.Context) error // stop and cancel running jobs
	close  func()
	// waker wakes the SQLite queue's listener after this process wrote a
	// notification (nil on Postgres, whose notifications are pushed).
	waker *waker

	// stopping is set by Stop: a job that finished its node goes on with
	// no other (the nodes it unblocked wait in the queue for other workers).
	stopping atomic.Bool
	// stopped is closed when Stop has returned: waiters stop waiting.
	stopped  chan struct{}
	stopOnce sync.Once

	// waiting are the waiters of runs in this process (notify.go); on
	// Postgres, pgPool listens for the runs other processes end.
	waiting   waiters
	pgPool    *pgxpool.Pool
	listenMu  sync.Mutex
	listening bool
	// subscribe watches the jobs this process works (nil without workers).
	subscribe func() (<-chan *river.Event, func())
	// waitChecks counts the looks of WaitRun at a run's state (tests).
	waitChecks atomic.Int64

	// heads are the heads of the runs this process works on (node.go).
	headMu sync.Mutex
	heads  map[string]*rat.RunDetail
}

// Open migrates River's tables and builds the client. It starts nothing:
// call Start to work jobs.
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	if cfg.Workers > 0 && cfg.Exec == nil {
		return nil, errors.New("queue: workers need an Exec")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	q := &Queue{cfg: cfg, id: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b)), stopped: make(chan struct{})}
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(q.prepare))
	river.AddWorker(workers, river.WorkFunc(q.buildNode))
	river.AddWorker(workers, river.WorkFunc(q.finish))
	river.AddWorker(workers, &tickWorker{tick: cfg.Tick, now: cfg.Now})
	interval := cfg.TickInterval
	if interval <= 0 {
		interval = time.Second
	}
	poll, tickPoll := fetchPoll(cfg)
	rc := &river.Config{
		// Fetch quickly: a run's first node waits for two fetches (its
		// run job, then its node job), each at most one cooldown after
		// the insert's notification. 20 ms gave a trigger → node start
		// p50 of 19/33 ms on SQLite/Postgres, 2 ms 9/16 ms (rat bench
		// serve); idle CPU is unchanged (polling is FetchPollInterval).
		FetchCooldown: 2 * time.Millisecond,
		// An insert notifies the workers of every process (Postgres'
		// LISTEN/NOTIFY; on SQLite a table that pacedListener reads), but
		// notifications are rate-limited per queue, so a job inserted
		// right after another is found by polling. The worker that
		// unblocked jobs goes on with one at once (continueWith). Polling
		// faster costs an idle server CPU.
		FetchPollInterval: poll,
		JobTimeout:        -1, // nodes take as long as their data does
		// A job whose worker died is tried again after this; the DAG's own
		// heartbeats find a dead node's worker sooner (Reap), and a job
		// tried again while its first execution lives finds its node taken.
		RescueStuckJobsAfter: time.Minute,
	}
	if cfg.Workers > 0 || cfg.Tick != nil {
		rc.Queues = map[string]river.QueueConfig{}
		rc.Workers = workers
		// Every started client may become River's leader, so every one
		// knows the tick; only schedulers work it.
		rc.PeriodicJobs = []*river.PeriodicJob{river.NewPeriodicJob(tickSchedule{interval, cfg.NextTick},
			func() (river.JobArgs, *river.InsertOpts) { return TickArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true})}
	}
	if cfg.Workers > 0 {
		rc.Queues[river.QueueDefault] = river.QueueConfig{MaxWorkers: cfg.Workers}
	}
	if cfg.Tick != nil {
		// Ticks come once a second and announce themselves like any
		// insert; polling for them more often costs an idle server CPU
		// for nothing.
		rc.Queues[SchedulerQueue] = river.QueueConfig{MaxWorkers: 1, FetchPollInterval: tickPoll}
	}
	switch {
	case cfg.SQLitePath != "" && cfg.PostgresURL != "":
		return nil, errors.New("queue: SQLite or Postgres, not both")
	case cfg.SQLitePath != "":
		if err := os.MkdirAll(filepath.Dir(cfg.SQLitePath), 0o755); err != nil {
			return nil, err
		}
		db, err := sql.Open(cmp.Or(cfg.sqlDriver, stmtcache.DriverName), "file:"+cfg.SQLitePath+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("open queue %s: %w", cfg.SQLitePath, err)
		}
		// River's SQLite driver works one statement at a time.
		db.SetMaxOpenConns(1)
		q.waker = newWaker()
		drv := &sqliteDriver{Driver: riversqlite.New(db), wake: q.waker}
		rc.Middleware = []rivertype.Middleware{&tickInserts{wake: q.waker}}
		c, err := river.NewClient[*sql.Tx](drv, rc)
		if err == nil {
			q.bind(c)
			if cfg.Workers > 0 {
				q.subscribe = func() (<-chan *river.Event, func()) { return c.Subscribe(runEndEvents...) }
			}
			q.withTx = func(ctx context.Context, fn func(tx) error) error { return sqliteTx(ctx, db, c, q.waker, fn) }
			q.read = func(_ context.Context, fn func(tx) error) error { return sqliteRead(db, fn) }
			err = migrate(ctx, q, drv, "sqlite")
		}
		if err != nil {
			db.Close()
			return nil, err
		}
		q.close = func() { db.Close() }
	case cfg.PostgresURL != "":
		pool, err := pgxpool.New(ctx, cfg.PostgresURL)
		if err != nil {
			return nil, rat.Errorf(rat.EUNAVAILABLE, "connect the queue to Postgres: %v", err)
		}
		drv := riverpgxv5.New(pool)
		c, err := river.NewClient(drv, rc)
		if err == nil {
			q.bind(c)
			if cfg.Workers > 0 {
				q.subscribe = func() (<-chan *river.Event, func()) { return c.Subscribe(runEndEvents...) }
			}
			q.withTx = func(ctx context.Context, fn func(tx) error) error { return pgxTx(ctx, pool, c, fn) }
			q.pgPool = pool
			q.read = func(_ context.Context, fn func(tx) error) error { return pgxRead(pool, fn) }
			err = migrate(ctx, q, drv, "postgres")
		}
		if err != nil {
			pool.Close()
			return nil, err
		}
		q.close = pool.Close
	default:
		return nil, errors.New("queue: a SQLite path or a Postgres URL is required")
	}
	return q, nil
}

// migrate applies River's migrations and the queue's own (migrations.go).
// Processes starting together (rat serve and rat worker on a new queue)
// may race to apply the same River version: the loser fails on an existing
// table, and trying again finds the version applied.
func migrate[TTx any](ctx context.Context, q *Queue, drv riverdriver.Driver[TTx], dialect string) error {
	m, err := rivermigrate.New(drv, nil)
	if err != nil {
		return fmt.Errorf("queue migrations: %w", err)
	}
	for attempt := 1; ; attempt++ {
		_, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err == nil {
			err = q.migrateOwn(ctx, dialect)
		}
		if err == nil || rat.IsCode(err, rat.EINVALID) {
			return err
		}
		if attempt == 5 {
			return fmt.Errorf("queue migrations: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("queue migrations: %w", err)
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
}

// bind keeps the client's methods, whatever its transaction type.
func (q *Queue) bind(c interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobCancel(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
}) {
	q.insert = func(ctx context.Context, args RunArgs) (*rivertype.JobInsertResult, error) {
		opts := args.InsertOpts()
		opts.Tags = []string{runTag(args.ID)}
		res, err := c.Insert(ctx, args, &opts)
		if q.waker != nil && err == nil {
			q.waker.Inserted()
		}
		return res, err
	}
	q.get = c.JobGet
	q.cancel = func(ctx context.Context, id int64) (*rivertype.JobRow, error) {
		row, err := c.JobCancel(ctx, id)
		q.wake() // a running job is cancelled through a notification
		return row, err
	}
	q.list = c.JobList
	q.start = c.Start
	q.stop = c.Stop
	q.halt = c.StopAndCancel
}

// wake has this process's listener read the notification it just wrote
// (on SQLite; Postgres pushes notifications).
func (q *Queue) wake() {
	if q.waker != nil {
		q.waker.Wake()
	}
}

// maxWaiting caps the jobs Waiting looks at; a queue deeper than this
// reports this many.
const maxWaiting = 10_000

// Waiting counts the jobs (runs to prepare, nodes, finishes) waiting for a worker (available, retryable or
// scheduled) and how long the oldest of them has waited.
func (q *Queue) Waiting(ctx context.Context) (int, time.Duration, error) {
	res, err := q.list(ctx, river.NewJobListParams().Kinds(RunArgs{}.Kind(), NodeArgs{}.Kind(), FinishArgs{}.Kind()).
		States(rivertype.JobStateAvailable, rivertype.JobStateRetryable, rivertype.JobStateScheduled).
		First(maxWaiting))
	if err != nil {
		return 0, 0, fmt.Errorf("queue depth: %w", err)
	}
	now := q.cfg.Now()
	var oldest time.Duration
	for _, j := range res.Jobs {
		if j.State == rivertype.JobStateAvailable {
			oldest = max(oldest, now.Sub(j.ScheduledAt))
		}
	}
	return len(res.Jobs), oldest, nil
}

// runTag tags a run's job with the run id, so any process can find it.
func runTag(id string) string { return "run_" + id }

// CancelRun cancels a run wherever it is: queued, or with nodes running
// in any worker (they stop; the target stays untouched). It returns
// JobStateRunning when the run was under way (its finish job records it),
// another state (that of its rat_run job) when it had not started and the
// caller records it, or "" when there is nothing left to cancel.
func (q *Queue) CancelRun(ctx context.Context, runID string) (rivertype.JobState, error) {
	found, finished, err := q.cancelDAG(ctx, runID)
	switch {
	case err != nil:
		return "", err
	case finished:
		return "", nil
	case found:
		return rivertype.JobStateRunning, nil
	}
	res, err := q.list(ctx, river.NewJobListParams().Kinds(RunArgs{}.Kind()).TagsAny(runTag(runID)).
		States(rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled, rivertype.JobStatePending).
		First(1))
	if err != nil {
		return "", fmt.Errorf("find the job of run %s: %w", runID, err)
	}
	if len(res.Jobs) == 0 {
		return "", nil
	}
	job := res.Jobs[0]
	if _, err := q.cancel(ctx, job.ID); err != nil {
		return "", fmt.Errorf("cancel run %s: %w", runID, err)
	}
	if job.State != rivertype.JobStateRunning {
		return job.State, nil
	}
	// It was preparing the run: once it has stopped, cancel what it
	// prepared, if it got that far.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		row, err := q.get(ctx, job.ID)
		if err != nil {
			return "", err
		}
		if row.State != rivertype.JobStateRunning {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if found, finished, err := q.cancelDAG(ctx, runID); err != nil || found {
		if finished {
			return "", err
		}
		return rivertype.JobStateRunning, err
	}
	return rivertype.JobStateCancelled, nil
}

// Enqueue schedules a run and returns its id.
func (q *Queue) Enqueue(ctx context.Context, opts RunArgs) (string, int64, error) {
	if opts.ID == "" {
		opts.ID = rat.NewRunID(q.cfg.Now())
	}
	res, err := q.insert(ctx, opts)
	if err != nil {
		return "", 0, fmt.Errorf("enqueue run: %w", err)
	}
	return opts.ID, res.Job.ID, nil
}

// Job returns a job's state (available, running, completed, retryable, …).
func (q *Queue) Job(ctx context.Context, id int64) (*rivertype.JobRow, error) { return q.get(ctx, id) }

// WaitRun waits until a run has ended: its DAG is done, or its rat_run
// job (job) ended without preparing one. It returns that job's last row.
// When ctx ends first, it returns ctx's error, and when the queue has
// stopped, ErrStopped; the run goes on: a server shutting down stops
// waiting, it does not cancel the runs it started (CancelRun does).
// It looks at the run when it starts and when a notification says the run
// may have ended (notify.go), not at a polling pace.
func (q *Queue) WaitRun(ctx context.Context, runID string, job int64) (*rivertype.JobRow, error) {
	woken, remove := q.waiting.add(runID)
	defer remove()
	reconcile := reconcileSQLite
	if q.pgPool != nil {
		q.listenPostgres(q.pgPool)
		reconcile = reconcilePostgres
	}
	t := time.NewTimer(reconcile)
	defer t.Stop()
	for {
		q.waitChecks.Add(1)
		bg := context.WithoutCancel(ctx)
		row, err := q.get(bg, job)
		if err != nil {
			return nil, err
		}
		state, err := q.runState(bg, runID)
		if err != nil {
			return nil, err
		}
		switch {
		case state == runDone:
			return row, nil
		case state == "":
			switch row.State {
			case rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded:
				// Prepared meanwhile? Look again before concluding.
				if again, err := q.runState(bg, runID); err != nil || again == "" {
					return row, err
				}
			}
		}
		select {
		case <-ctx.Done():
			return row, ctx.Err()
		case <-q.stopped:
			return row, ErrStopped
		case <-woken:
		case <-t.C:
			t.Reset(reconcile)
		}
	}
}

// Start starts working jobs (for a client with workers) and River's
// maintenance. Only Stop stops them: ctx ending does not. River cancels
// the running jobs at once when the context given to its Start ends, so a
// signal context there would cancel the nodes being built (SIGTERM would
// skip the grace period Stop gives them).
func (q *Queue) Start(ctx context.Context) error {
	if q.subscribe != nil {
		q.watchJobs(q.subscribe())
	}
	if err := q.start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	if q.cfg.Tick != nil {
		q.watchStaleTicks(slog.Default())
	}
	return nil
}

// runEndEvents are the job events after which a rat_run job may have
// ended its run.
var runEndEvents = []river.EventKind{river.EventKindJobCompleted, river.EventKindJobCancelled, river.EventKindJobFailed}

// Stop stops the client gracefully: it claims no more jobs, and running
// jobs may finish their node until ctx ends (without going on with the
// nodes it unblocks); then they are cancelled, and their nodes go back to
// the queue for other workers (a cancelled run's nodes end as cancelled).
// When it returns, WaitRun stops waiting (ErrStopped). Calling it again
// does nothing.
func (q *Queue) Stop(ctx context.Context) error {
	var err error
	q.stopOnce.Do(func() {
		defer close(q.stopped)
		q.stopping.Store(true)
		if err = q.stop(ctx); ctx.Err() == nil {
			return
		}
		halt, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		err = q.halt(halt)
	})
	return err
}

// ErrStopped is WaitRun's error when the queue has stopped: the run goes
// on in the queue, another process finishes it.
var ErrStopped = errors.New("the queue of this process has stopped")

// Close releases the database connections; call it after Stop.
func (q *Queue) Close() { q.close() }

// Busy is what Exec.Prepare returns for a run that must wait for another
// (the overlap policy queue): the job is tried again after Wait.
type Busy struct {
	Wait   time.Duration
	Reason string
}

func (b *Busy) Error() string { return b.Reason }
