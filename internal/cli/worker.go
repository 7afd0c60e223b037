package cli

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/metrics"
	"github.com/ratdata/rat/internal/orchestrator"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/startgc"
	"github.com/ratdata/rat/internal/workspace"
	"github.com/spf13/cobra"
)

func newWorkerCmd(g *globals) *cobra.Command {
	var listen string
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "worker [--listen ADDR] [--shutdown-timeout 30s]",
		Short: "Execute the nodes of queued pipeline runs (no API, no scheduler), for clusters",
		Long: `Claim and execute the jobs of the pipeline runs that rat serve (or rat serve
--no-worker) enqueues: each node of a run is a job, so the nodes of one run
spread over every worker. A worker builds up to max_parallel_pipelines nodes
at once. Runs queue in .rat/queue.db on the embedded default, or in the
catalog's Postgres database on a cluster, so any number of workers on any
machines share them.

With --listen, the worker serves /metrics (the runs and nodes it executed,
process memory and CPU, read cache, data disk) and /health/live for
Prometheus and Kubernetes. With RAT_METRICS_TOKEN set, /metrics needs
'Authorization: Bearer <token>' with that token or an API token
(RAT_API_TOKEN, RAT_TOKEN_FILE); off loopback it must be 32 bytes or longer.

SIGINT or SIGTERM stop the worker gracefully: it claims no more jobs, its
running nodes get --shutdown-timeout (default 30s, Kubernetes' default
terminationGracePeriodSeconds) to finish, then they are handed back to the
queue and another worker builds them again from the start (the node's
tables on the run branch are reset, so nothing is built twice). A worker
killed outright loses its nodes to another worker after 15s without
heartbeat (rat serve's scheduler hands them over).
Unless GOGC is set, Go's collector lets the heap grow to five times what
is live (GOGC=400) instead of twice: less CPU per node for some memory.`,
		Example: `  rat worker
  rat worker --listen 0.0.0.0:9090   # metrics for Prometheus
  rat worker --shutdown-timeout 2m   # long nodes: raise terminationGracePeriodSeconds of the pod too`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if grace < 0 {
				return &usageError{msg: fmt.Sprintf("rat worker: --shutdown-timeout %s: want 0 (hand running nodes back at once) or a positive duration such as 30s", grace)}
			}
			startgc.LongRunning()
			return g.withApp(cmd, "", func(ctx context.Context, a *app) error {
				log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
				m, err := a.newMetrics(true, false, nil, log)
				if err != nil {
					return err
				}
				if listen != "" {
					access, err := a.metricsAccess()
					if err != nil {
						return err
					}
					addr, stop, err := m.Serve(ctx, listen, access)
					if err != nil {
						return err
					}
					defer stop()
					log.Info(fmt.Sprintf("metrics on http://%s/metrics", addr))
				}
				q, err := a.openQueue(ctx, a.Config.MaxParallelPipelines, nil, log, m)
				if err != nil {
					return err
				}
				defer q.Close()
				if err := q.Start(ctx); err != nil {
					return err
				}
				log.Info(fmt.Sprintf("worker started: %d node(s) at once", a.Config.MaxParallelPipelines))
				<-ctx.Done()
				log.Info("stopping")
				stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
				defer cancel()
				return q.Stop(stopCtx)
			})
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "serve /metrics and /health/live on this address, host:port (off by default)")
	cmd.Flags().DurationVar(&grace, "shutdown-timeout", shutdownGrace, "on SIGTERM/SIGINT, how long running nodes may finish before they go back to the queue")
	return cmd
}

// openQueue opens the run queue: .rat/queue.db, or the catalog's Postgres
// database. With workers > 0 this process executes runs too.
func (a *app) openQueue(ctx context.Context, workers int, tick func(context.Context, time.Time) error, log *slog.Logger, metrics *metrics.Metrics) (*orchestrator.Queue, error) {
	var q *orchestrator.Queue
	// Processes without workers use the Exec too: cancelling a run records
	// the nodes it settles.
	runs := a.runs(log, metrics)
	runs.Queue = func() *orchestrator.Queue { return q }
	cfg := orchestrator.Config{Workers: workers, Tick: tick, Exec: runs}
	if tick != nil {
		cfg.NextTick = a.nextTick
	}
	if a.Config.IsPostgres() {
		cfg.PostgresURL = a.Config.CatalogURL
	} else {
		cfg.SQLitePath = filepath.Join(a.Config.StateDir, "queue.db")
	}
	var err error
	q, err = orchestrator.Open(ctx, cfg)
	return q, err
}

// runs returns the queued runs of this process (orchestrator.Runs), their
// engines built with pipeline.Runner.
func (a *app) runs(log *slog.Logger, m *metrics.Metrics) *orchestrator.Runs {
	if log == nil {
		log = slog.Default()
	}
	return &orchestrator.Runs{
		Store: a.Store, Branch: a.Config.Branch, Workspaces: a.workspaces(), LoadWorkspace: a.loadWorkspace,
		Metrics: m, Log: log,
		NewEngine: func(ctx context.Context, runID string, ws *workspace.Workspace) (orchestrator.Engine, func(), error) {
			r, err := a.Runner(ctx, ws)
			if err != nil {
				return nil, nil, err
			}
			var closeLog func()
			r.Progress, closeLog = a.runLogger(runID, nil)
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

// enqueueRun records a run as queued and puts it in the queue.
func (a *app) enqueueRun(ctx context.Context, q *orchestrator.Queue, opts pipeline.Options) (int64, pipeline.Options, error) {
	job, args, err := a.runs(nil, nil).Enqueue(ctx, q, argsOf(opts))
	return job, optionsOf(args), err
}

// recordQueued records a run as queued, so it is visible before a worker
// takes it.
func (a *app) recordQueued(ctx context.Context, opts pipeline.Options) (pipeline.Options, error) {
	args, err := a.runs(nil, nil).RecordQueued(ctx, argsOf(opts))
	return optionsOf(args), err
}

// cancelQueued cancels a run through the queue, wherever it waits or runs.
func (a *app) cancelQueued(ctx context.Context, q *orchestrator.Queue, id string) (bool, error) {
	return a.runs(nil, nil).Cancel(ctx, q, id)
}

// failUnfinished records a run that is still queued or running as failed.
func (a *app) failUnfinished(ctx context.Context, id, reason string) (*pipeline.Result, error) {
	return a.runs(nil, nil).FailUnfinished(ctx, id, reason)
}

// runQueued enqueues a run, waits for a worker (this process's or
// another's) to finish it, and reads its result from the run records.
func (a *app) runQueued(ctx context.Context, q *orchestrator.Queue, opts pipeline.Options) (*pipeline.Result, error) {
	return a.runs(nil, nil).RunAndWait(ctx, q, argsOf(opts))
}
