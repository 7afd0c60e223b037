// Package queue runs pipeline runs as River jobs (DESIGN D10): a client
// on the embedded default's SQLite queue file or on the cluster's Postgres
// database. Any process with a worker client claims and executes the jobs;
// processes without one (rat serve --no-worker, rat run --queue) only
// enqueue. River brings retries, cancellation and leader election.
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite" // the queue file's driver

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/pipeline"
)

// RunArgs is the job of one pipeline run.
type RunArgs struct {
	ID          string   `json:"id"`
	Target      string   `json:"target"`
	Selectors   []string `json:"selectors,omitempty"`
	FullRefresh bool     `json:"full_refresh,omitempty"`
	Trigger     string   `json:"trigger,omitempty"`
}

// Kind is River's name for the job.
func (RunArgs) Kind() string { return "rat_run" }

// InsertOpts: a run is retried when the machinery failed (a lost
// connection, a killed worker), not when its tests failed.
func (RunArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

// Options returns the pipeline options of the job.
func (a RunArgs) Options() pipeline.Options {
	return pipeline.Options{ID: a.ID, Target: a.Target, Selectors: a.Selectors, FullRefresh: a.FullRefresh, Trigger: a.Trigger}
}

// Config configures Open.
type Config struct {
	// SQLitePath is the queue file of the embedded default; PostgresURL the
	// cluster's database (River's tables live beside the catalog's). One.
	SQLitePath  string
	PostgresURL string
	// Workers is how many runs this process executes at once; 0 makes an
	// insert-only client.
	Workers int
	// Run executes a run; a run that ends with failed tests is a result,
	// not an error. Required when Workers > 0.
	Run func(ctx context.Context, opts pipeline.Options) (*pipeline.Result, error)
	// Now is the clock for run ids.
	Now func() time.Time
	// Tick, when set, makes this process a scheduler: River's leader (one
	// client among all processes) enqueues a tick every TickInterval, and
	// one scheduler process works it by calling Tick. Processes without
	// Tick never work ticks.
	Tick         func(ctx context.Context, now time.Time) error
	TickInterval time.Duration // default 1s
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
	insert func(ctx context.Context, args RunArgs) (*rivertype.JobInsertResult, error)
	get    func(ctx context.Context, id int64) (*rivertype.JobRow, error)
	cancel func(ctx context.Context, id int64) (*rivertype.JobRow, error)
	list   func(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	start  func(ctx context.Context) error
	stop   func(ctx context.Context) error
	close  func()
}

// Open migrates River's tables and builds the client. It starts nothing:
// call Start to work jobs.
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	if cfg.Workers > 0 && cfg.Run == nil {
		return nil, errors.New("queue: workers need a Run function")
	}
	if cfg.Run == nil {
		cfg.Run = func(context.Context, pipeline.Options) (*pipeline.Result, error) {
			return nil, errors.New("this process executes no runs")
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	q := &Queue{cfg: cfg}
	workers := river.NewWorkers()
	river.AddWorker(workers, &runWorker{run: cfg.Run})
	river.AddWorker(workers, &tickWorker{tick: cfg.Tick, now: cfg.Now})
	interval := cfg.TickInterval
	if interval <= 0 {
		interval = time.Second
	}
	rc := &river.Config{
		// Poll quickly: a run should start within a second of its enqueue
		// (the default cooldown caps a client at about 20 jobs a second).
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 200 * time.Millisecond,
		JobTimeout:        -1, // runs take as long as their data does
	}
	if cfg.Workers > 0 || cfg.Tick != nil {
		rc.Queues = map[string]river.QueueConfig{}
		rc.Workers = workers
		// Every started client may become River's leader, so every one
		// knows the tick; only schedulers work it.
		rc.PeriodicJobs = []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(interval),
			func() (river.JobArgs, *river.InsertOpts) { return TickArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true})}
	}
	if cfg.Workers > 0 {
		rc.Queues[river.QueueDefault] = river.QueueConfig{MaxWorkers: cfg.Workers}
	}
	if cfg.Tick != nil {
		rc.Queues[SchedulerQueue] = river.QueueConfig{MaxWorkers: 1}
	}
	switch {
	case cfg.SQLitePath != "" && cfg.PostgresURL != "":
		return nil, errors.New("queue: SQLite or Postgres, not both")
	case cfg.SQLitePath != "":
		if err := os.MkdirAll(filepath.Dir(cfg.SQLitePath), 0o755); err != nil {
			return nil, err
		}
		db, err := sql.Open("sqlite", "file:"+cfg.SQLitePath+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("open queue %s: %w", cfg.SQLitePath, err)
		}
		// River's SQLite driver works one statement at a time.
		db.SetMaxOpenConns(1)
		drv := riversqlite.New(db)
		if err := migrate(ctx, drv); err != nil {
			db.Close()
			return nil, err
		}
		c, err := river.NewClient(drv, rc)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("queue client: %w", err)
		}
		q.bind(c)
		q.close = func() { db.Close() }
	case cfg.PostgresURL != "":
		pool, err := pgxpool.New(ctx, cfg.PostgresURL)
		if err != nil {
			return nil, rat.Errorf(rat.EUNAVAILABLE, "connect the queue to Postgres: %v", err)
		}
		drv := riverpgxv5.New(pool)
		if err := migrate(ctx, drv); err != nil {
			pool.Close()
			return nil, err
		}
		c, err := river.NewClient(drv, rc)
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("queue client: %w", err)
		}
		q.bind(c)
		q.close = pool.Close
	default:
		return nil, errors.New("queue: a SQLite path or a Postgres URL is required")
	}
	return q, nil
}

func migrate[TTx any](ctx context.Context, drv riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(drv, nil)
	if err != nil {
		return fmt.Errorf("queue migrations: %w", err)
	}
	// Processes starting together (rat serve and rat worker on a new queue)
	// may race to apply the same version: the loser fails on an existing
	// table, and trying again finds the version applied.
	for attempt := 1; ; attempt++ {
		_, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err == nil {
			return nil
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
}) {
	q.insert = func(ctx context.Context, args RunArgs) (*rivertype.JobInsertResult, error) {
		opts := args.InsertOpts()
		opts.Tags = []string{runTag(args.ID)}
		return c.Insert(ctx, args, &opts)
	}
	q.get = c.JobGet
	q.cancel = c.JobCancel
	q.list = c.JobList
	q.start = c.Start
	q.stop = c.Stop
}

// maxWaiting caps the jobs Waiting looks at; a queue deeper than this
// reports this many.
const maxWaiting = 10_000

// Waiting counts the runs waiting for a worker (available, retryable or
// scheduled) and how long the oldest of them has waited.
func (q *Queue) Waiting(ctx context.Context) (int, time.Duration, error) {
	res, err := q.list(ctx, river.NewJobListParams().Kinds(RunArgs{}.Kind()).
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

// CancelRun cancels the job of a run, wherever it is queued or running:
// a running run stops in whichever worker has it. It returns the job's
// state before the cancel, or "" when the run has no job left to cancel.
func (q *Queue) CancelRun(ctx context.Context, runID string) (rivertype.JobState, error) {
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
	return job.State, nil
}

// Enqueue schedules a run and returns its id.
func (q *Queue) Enqueue(ctx context.Context, opts pipeline.Options) (string, int64, error) {
	if opts.ID == "" {
		opts.ID = pipeline.NewRunID(q.cfg.Now())
	}
	res, err := q.insert(ctx, RunArgs{ID: opts.ID, Target: opts.Target, Selectors: opts.Selectors, FullRefresh: opts.FullRefresh, Trigger: opts.Trigger})
	if err != nil {
		return "", 0, fmt.Errorf("enqueue run: %w", err)
	}
	return opts.ID, res.Job.ID, nil
}

// Job returns a job's state (available, running, completed, retryable, …).
func (q *Queue) Job(ctx context.Context, id int64) (*rivertype.JobRow, error) { return q.get(ctx, id) }

// Wait polls a job until it is finalized (completed, cancelled or
// discarded) and returns its last row. When ctx ends first, the job is
// cancelled (a running run stops; the target stays untouched) and ctx's
// error is returned.
func (q *Queue) Wait(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		row, err := q.get(context.WithoutCancel(ctx), id)
		if err != nil {
			return nil, err
		}
		switch row.State {
		case rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded:
			return row, nil
		}
		select {
		case <-ctx.Done():
			_, _ = q.cancel(context.WithoutCancel(ctx), id)
			return row, ctx.Err()
		case <-t.C:
		}
	}
}

// Start starts working jobs (for a client with workers) and River's
// maintenance; Stop waits for running jobs to finish.
func (q *Queue) Start(ctx context.Context) error { return q.start(ctx) }

// Stop stops the client gracefully.
func (q *Queue) Stop(ctx context.Context) error { return q.stop(ctx) }

// Close releases the database connections; call it after Stop.
func (q *Queue) Close() { q.close() }

type runWorker struct {
	river.WorkerDefaults[RunArgs]
	run func(ctx context.Context, opts pipeline.Options) (*pipeline.Result, error)
}

// Work executes a run. Its outcome (success or failed tests) is in the run
// record; only a machinery error makes River retry the job.
func (w *runWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	if _, err := w.run(ctx, job.Args.Options()); err != nil {
		var busy *Busy
		if errors.As(err, &busy) {
			// Not a failure: the job waits its turn, without using an attempt.
			return river.JobSnooze(busy.Wait)
		}
		return fmt.Errorf("run %s: %w", job.Args.ID, err)
	}
	return nil
}

// Busy is what a Run function returns for a run that must wait for another
// (the overlap policy queue): the job is tried again after Wait.
type Busy struct {
	Wait   time.Duration
	Reason string
}

func (b *Busy) Error() string { return b.Reason }
