package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/queue"
	"github.com/spf13/cobra"
)

func newWorkerCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Execute queued pipeline runs (no API, no scheduler), for clusters",
		Long: `Claim and execute the pipeline runs that rat serve (or rat serve --no-worker)
enqueues, up to max_parallel_pipelines at once. Runs queue in .rat/queue.db on
the embedded default, or in the catalog's Postgres database on a cluster, so
any number of workers on any machines share them. SIGINT or SIGTERM stop the
worker after its running runs finish.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			a, err := g.open(ctx, nil)
			if err != nil {
				return err
			}
			defer a.Close()
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			q, err := a.openQueue(ctx, a.cfg.MaxParallelPipelines, nil)
			if err != nil {
				return err
			}
			defer q.Close()
			if err := q.Start(ctx); err != nil {
				return err
			}
			log.Info(fmt.Sprintf("worker started: %d run(s) at once", a.cfg.MaxParallelPipelines))
			<-ctx.Done()
			log.Info("stopping")
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
			defer cancel()
			return q.Stop(stopCtx)
		},
	}
}

// openQueue opens the run queue: .rat/queue.db, or the catalog's Postgres
// database. With workers > 0 this process executes runs too.
func (a *app) openQueue(ctx context.Context, workers int, tick func(context.Context, time.Time) error) (*queue.Queue, error) {
	cfg := queue.Config{Workers: workers, Run: a.runLocal, Tick: tick}
	if a.cfg.IsPostgres() {
		cfg.PostgresURL = a.cfg.CatalogURL
	} else {
		cfg.SQLitePath = filepath.Join(a.cfg.StateDir, "queue.db")
	}
	return queue.Open(ctx, cfg)
}

// runLocal executes a run in this process.
func (a *app) runLocal(ctx context.Context, opts pipeline.Options) (*pipeline.Result, error) {
	ws, err := a.loadWorkspace(ctx)
	if err != nil {
		return nil, err
	}
	r, err := a.runner(ctx, ws)
	if err != nil {
		return nil, err
	}
	return r.Run(ctx, opts)
}

// runQueued enqueues a run, waits for a worker (this process's or
// another's) to finish it, and reads its result from the run records.
func (a *app) runQueued(ctx context.Context, q *queue.Queue, opts pipeline.Options) (*pipeline.Result, error) {
	// A record at once, so the run is visible while it waits for a worker.
	job, opts, err := a.enqueueRun(ctx, q, opts)
	if err != nil {
		return nil, err
	}
	rl := a.store.(pipeline.RunLog)
	row, err := q.Wait(ctx, job)
	if err != nil {
		return nil, err
	}
	rec, err := rl.Run(context.WithoutCancel(ctx), opts.ID)
	if err != nil {
		return nil, err
	}
	var res pipeline.Result
	if err := json.Unmarshal(rec.Detail, &res); err != nil {
		return nil, fmt.Errorf("read run %s: %w", opts.ID, err)
	}
	if res.Status == "queued" || res.Status == pipeline.StatusRunning {
		// The job gave up (or was cancelled) before the runner finished:
		// the record says so, with the last error.
		res.Status, res.Error = pipeline.StatusFailed, fmt.Sprintf("the run's job ended %s", row.State)
		if n := len(row.Errors); n > 0 {
			res.Error += ": " + row.Errors[n-1].Error
		}
		detail, _ := json.Marshal(res)
		rec.Status, rec.Finished, rec.Detail = string(res.Status), time.Now().UTC(), detail
		if err := rl.SaveRun(context.WithoutCancel(ctx), rec); err != nil {
			return nil, err
		}
	}
	return &res, nil
}
