package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/metrics"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/queue"
	"github.com/ratdata/rat/internal/trigger"
	"github.com/ratdata/rat/internal/workspace"
	"github.com/riverqueue/river/rivertype"
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
heartbeat (rat serve's scheduler hands them over).`,
		Example: `  rat worker
  rat worker --listen 0.0.0.0:9090   # metrics for Prometheus
  rat worker --shutdown-timeout 2m   # long nodes: raise terminationGracePeriodSeconds of the pod too`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if grace < 0 {
				return &usageError{msg: fmt.Sprintf("rat worker: --shutdown-timeout %s: want 0 (hand running nodes back at once) or a positive duration such as 30s", grace)}
			}
			ctx := cmd.Context()
			a, err := g.open(ctx, nil)
			if err != nil {
				return err
			}
			defer a.Close()
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
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "serve /metrics and /health/live on this address, host:port (off by default)")
	cmd.Flags().DurationVar(&grace, "shutdown-timeout", shutdownGrace, "on SIGTERM/SIGINT, how long running nodes may finish before they go back to the queue")
	return cmd
}

// openQueue opens the run queue: .rat/queue.db, or the catalog's Postgres
// database. With workers > 0 this process executes runs too.
func (a *app) openQueue(ctx context.Context, workers int, tick func(context.Context, time.Time) error, log *slog.Logger, metrics *metrics.Metrics) (*queue.Queue, error) {
	var q *queue.Queue
	// Processes without workers use the Exec too: cancelling a run records
	// the nodes it settles.
	cfg := queue.Config{Workers: workers, Tick: tick, Exec: &queuedExec{a: a, log: log, metrics: metrics, q: func() *queue.Queue { return q }}}
	if tick != nil {
		cfg.NextTick = a.nextTick
	}
	if a.Config.IsPostgres() {
		cfg.PostgresURL = a.Config.CatalogURL
	} else {
		cfg.SQLitePath = filepath.Join(a.Config.StateDir, "queue.db")
	}
	var err error
	q, err = queue.Open(ctx, cfg)
	return q, err
}

// startFollowers enqueues the pipelines whose after triggers list one the
// finished run built, into the same branch. Trigger mistakes are logged, as
// the scheduler logs a bad schedule: the run itself succeeded.
func (a *app) startFollowers(ctx context.Context, q *queue.Queue, res *pipeline.Result, log *slog.Logger) {
	ws, err := a.loadWorkspace(ctx)
	if err != nil {
		log.Error("after triggers: load the workspace", "err", err)
		return
	}
	var names []string
	for _, p := range ws.Pipelines() {
		names = append(names, p.ID.String())
	}
	disabled, err := a.disabledTriggers(ctx)
	if err != nil {
		log.Error("after triggers: read their states", "err", err)
		return
	}
	after := map[string][]string{}
	for _, p := range ws.Pipelines() {
		for _, tr := range p.Config.Triggers {
			if _, off := disabled[trigger.Key(p.ID.String(), tr.Name)]; tr.Type != "after" || off {
				continue
			}
			where := fmt.Sprintf("%s:%d", p.ConfigFile, tr.Line)
			ups, err := trigger.ParseAfter(tr.Raw, where)
			if err != nil {
				log.Error("after trigger", "pipeline", p.ID.String(), "err", err)
				continue
			}
			for _, u := range ups {
				if !slices.Contains(names, u) {
					hint := ""
					if c := rat.Closest(u, names); c != "" {
						hint = fmt.Sprintf(" (did you mean %s?)", c)
					}
					log.Error("after trigger", "pipeline", p.ID.String(), "err", fmt.Sprintf("%s: no pipeline %s%s", where, u, hint))
				}
			}
			after[p.ID.String()] = append(after[p.ID.String()], ups...)
		}
	}
	if len(after) == 0 {
		return
	}
	var built []string
	for _, n := range res.Nodes {
		if n.Status == pipeline.StatusSuccess {
			built = append(built, n.Pipeline)
		}
	}
	start, cyclic := trigger.Followers(after, built)
	for _, f := range cyclic {
		log.Error("after trigger: not started, its after triggers form a cycle", "pipeline", f)
	}
	for _, f := range start {
		opts := pipeline.Options{Target: res.Target, Selectors: []string{f}, Trigger: "after"}
		if _, opts, err := a.enqueueRun(context.WithoutCancel(ctx), q, opts); err != nil {
			log.Error("after trigger: enqueue", "pipeline", f, "err", err)
		} else {
			log.Info("after trigger fired", "pipeline", f, "after_run", res.ID, "run", opts.ID)
		}
	}
}

// pipelineLocker is what the catalog stores keep pipeline locks with.
type pipelineLocker interface {
	LockPipelines(ctx context.Context, target, runID string, pipelines []string) (map[string]string, error)
	UnlockPipelines(ctx context.Context, runID string) error
}

// overlapRetry is how soon a run that waits for another one is tried again.
const overlapRetry = 2 * time.Second

// lockPipelines applies the overlap policy: a run may start only when no
// other run is building one of its pipelines into the same branch. When one
// is, the run waits (queue.Busy) or, if a blocked pipeline says overlap:
// skip, is recorded as skipped and its result returned.
func (a *app) lockPipelines(ctx context.Context, ws *workspace.Workspace, opts pipeline.Options) (*pipeline.Result, error) {
	lk, ok := a.Store.(pipelineLocker)
	if !ok {
		return nil, nil
	}
	selected, err := ws.Select(opts.Selectors, nil)
	if err != nil {
		return nil, nil // the runner reports bad selectors in the run record
	}
	names := make([]string, len(selected))
	policy := map[string]string{}
	for i, p := range selected {
		names[i] = p.ID.String()
		policy[names[i]] = p.Config.Overlap
	}
	held, err := lk.LockPipelines(ctx, opts.Target, opts.ID, names)
	if err != nil || len(held) == 0 {
		return nil, err
	}
	blocked := slices.Sorted(maps.Keys(held))
	reason := fmt.Sprintf("%s is being built into %s by run %s", blocked[0], opts.Target, held[blocked[0]])
	skip := false
	for _, p := range blocked {
		skip = skip || policy[p] == workspace.OverlapSkip
	}
	if !skip {
		return nil, &queue.Busy{Wait: overlapRetry, Reason: reason + "; waiting (overlap: queue)"}
	}
	return a.recordEnded(ctx, opts, pipeline.StatusSkipped, reason+" (overlap: skip)")
}

// recordEnded records a run that ended before it started (skipped by the
// overlap policy, or a mistake in its request) and returns its result.
func (a *app) recordEnded(ctx context.Context, opts pipeline.Options, status pipeline.Status, reason string) (*pipeline.Result, error) {
	now := time.Now().UTC()
	res := &pipeline.Result{ID: opts.ID, Target: opts.Target, Selectors: opts.Selectors, Trigger: opts.Trigger,
		RunBranch: "run/" + opts.ID, Status: status, Started: now,
		Nodes: []pipeline.NodeResult{}, Tests: []pipeline.TestResult{}, Error: reason}
	rl, ok := a.Store.(pipeline.RunLog)
	if !ok {
		return res, nil
	}
	detail, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	return res, rl.SaveRun(ctx, rat.Run{ID: opts.ID, Target: opts.Target, Status: string(status), Trigger: opts.Trigger,
		Started: now, Finished: now, Detail: detail})
}

// cancelQueued cancels a run through the queue, wherever it waits or runs.
// A run cancelled before any worker took it is recorded as failed here; a
// running one records itself when its worker stops it.
func (a *app) cancelQueued(ctx context.Context, q *queue.Queue, id string) (bool, error) {
	state, err := q.CancelRun(ctx, id)
	if err != nil || state == "" {
		return false, err
	}
	if state == rivertype.JobStateRunning {
		return true, nil
	}
	_, err = a.failUnfinished(ctx, id, cancelledQueued)
	return true, err
}

// failUnfinished records a run that is still queued or running as failed,
// for reason, in one transaction; it returns the run's result as recorded.
func (a *app) failUnfinished(ctx context.Context, id, reason string) (*pipeline.Result, error) {
	st, ok := a.Store.(interface {
		UpdateRun(ctx context.Context, id string, fn func(*rat.Run) error) error
	})
	if !ok {
		return nil, rat.Errorf(rat.EINTERNAL, "this catalog keeps no run records")
	}
	var res pipeline.Result
	err := st.UpdateRun(context.WithoutCancel(ctx), id, func(rec *rat.Run) error {
		if err := json.Unmarshal(rec.Detail, &res); err != nil {
			return fmt.Errorf("read run %s: %w", id, err)
		}
		if res.Status != "queued" && res.Status != pipeline.StatusRunning {
			return nil
		}
		res.Status, res.Error = pipeline.StatusFailed, reason
		detail, err := json.Marshal(res)
		rec.Status, rec.Finished, rec.Detail = string(res.Status), time.Now().UTC(), detail
		return err
	})
	return &res, err
}

// cancelledQueued is the error of a run cancelled while it waited.
const cancelledQueued = "cancelled before it started"

// runQueued enqueues a run, waits for a worker (this process's or
// another's) to finish it, and reads its result from the run records.
func (a *app) runQueued(ctx context.Context, q *queue.Queue, opts pipeline.Options) (*pipeline.Result, error) {
	// A record at once, so the run is visible while it waits for a worker.
	job, opts, err := a.enqueueRun(ctx, q, opts)
	if err != nil {
		return nil, err
	}
	row, err := q.WaitRun(ctx, opts.ID, job)
	if errors.Is(err, queue.ErrStopped) {
		return nil, rat.Errorf(rat.EUNAVAILABLE, "stopped waiting for run %s: this process is shutting down; the run goes on in the queue ('rat runs show %s')", opts.ID, opts.ID)
	}
	if err != nil {
		return nil, err
	}
	// A run whose job gave up (or was cancelled) before the runner
	// finished is recorded so, with the last error.
	reason := fmt.Sprintf("the run's job ended %s", row.State)
	if n := len(row.Errors); n > 0 {
		reason += ": " + row.Errors[n-1].Error
	} else if row.State == rivertype.JobStateCancelled {
		reason = cancelledQueued
	}
	return a.failUnfinished(ctx, opts.ID, reason)
}
