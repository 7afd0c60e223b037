package cli

import (
	"context"
	"fmt"
	"github.com/ratdata/rat/internal/catalog/sqlstore"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/queue"
	"github.com/ratdata/rat/internal/server"
	"github.com/spf13/cobra"
)

// shutdownGrace is how long rat serve and rat worker let running requests
// and nodes finish after SIGINT/SIGTERM before the nodes go back to the queue.
const shutdownGrace = 30 * time.Second

func newServeCmd(g *globals) *cobra.Command {
	var listen string
	var noWorker bool
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR]",
		Short: "Serve the web UI, the HTTP API, health checks and Prometheus metrics",
		Long: `Serve the web UI at / and rat's JSON API under /api/v1 (workspace, pipelines, tables, branches,
tags, commits, merges, queries, runs, landing uploads), /health/live,
/health/ready and /metrics.

The address comes from --listen, RAT_LISTEN or the default 127.0.0.1:3030.
On a loopback address no token is needed. On any other address rat refuses
to start without a token: RAT_API_TOKEN (an admin token) or RAT_TOKEN_FILE, a
YAML file of named tokens with roles read, run or admin:
  tokens:
    - {name: dashboards, token: <random>, role: read}
Requests then need 'Authorization: Bearer <token>'; the UI asks for a token
once and keeps it in a cookie.
Runs go through a queue (.rat/queue.db, or the catalog's Postgres database):
this process executes them unless --no-worker, and any number of 'rat worker'
processes may help: each node of a run is a job, so a run spreads over all
of them. SIGINT or SIGTERM stop the server: the nodes it builds get 30s to
finish, then they go back to the queue and continue in another worker (or in
this server once it restarts); the runs themselves are not cancelled.`,
		Example: `  rat serve
  RAT_API_TOKEN=... rat serve --listen 0.0.0.0:3030`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			a, err := g.open(ctx, nil)
			if err != nil {
				return err
			}
			defer a.Close()
			if listen != "" {
				a.cfg.Listen = listen
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			workers := a.cfg.MaxParallelPipelines
			if noWorker {
				workers = 0
			}
			// Every serve replica is a scheduler; River's leader makes sure
			// one tick a second is worked, by one of them.
			var q *queue.Queue
			tick := func(ctx context.Context, now time.Time) error {
				// Nodes whose worker died go to another one.
				if n, err := q.Reap(ctx, queue.DefaultLease); err != nil {
					log.Error("reap", "err", err)
				} else if n > 0 {
					log.Warn(fmt.Sprintf("handed %d node(s) of stopped workers to others", n))
				}
				return a.scheduleTick(ctx, now, func(ctx context.Context, opts pipeline.Options) error {
					_, _, err := a.enqueueRun(ctx, q, opts)
					return err
				}, log)
			}
			reg := prometheus.NewRegistry()
			var em *server.ExecMetrics
			if workers > 0 {
				if em, err = server.NewExecMetrics(reg); err != nil {
					return err
				}
			}
			q, err = a.openQueue(ctx, workers, tick, log, em)
			if err != nil {
				return err
			}
			defer q.Close()
			srv, err := a.newServer(ctx, log, q, reg)
			if err != nil {
				return err
			}
			if o, ok := a.store.(interface {
				ObserveCommits(func(sqlstore.CommitStats))
			}); ok {
				o.ObserveCommits(func(c sqlstore.CommitStats) { srv.ObserveCommit(c.Duration, c.Attempts, c.Err) })
			}
			a.onScheduleFire = srv.ObserveScheduleFire
			if err := q.Start(ctx); err != nil {
				return err
			}
			defer func() {
				stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
				defer cancel()
				_ = q.Stop(stopCtx)
			}()
			if err := srv.Start(ctx); err != nil {
				return err
			}
			log.Info(fmt.Sprintf("listening on http://%s", srv.Addr()), "auth", a.cfg.APIToken != "" || a.cfg.TokenFile != "")
			<-ctx.Done()
			log.Info("shutting down")
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
			defer cancel()
			return srv.Stop(stopCtx)
		},
	}
	cmd.Flags().BoolVar(&noWorker, "no-worker", false, "only enqueue runs; rat worker processes execute them")
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on, host:port (default from RAT_LISTEN, else 127.0.0.1:3030)")
	return cmd
}

// newServer wires the app into an API server.
func (a *app) newServer(ctx context.Context, log *slog.Logger, q *queue.Queue, reg *prometheus.Registry) (*server.Server, error) {
	var tokens []server.Token
	if a.cfg.TokenFile != "" {
		var err error
		if tokens, err = server.LoadTokens(a.cfg.TokenFile); err != nil {
			return nil, err
		}
	}
	if t := a.cfg.APIToken.Reveal(); t != "" {
		tokens = append(tokens, server.Token{Name: "RAT_API_TOKEN", Secret: t, Role: server.RoleAdmin})
	}
	landing, err := a.landing(ctx)
	if err != nil {
		return nil, err
	}
	rl, _ := a.store.(pipeline.RunLog)
	return server.New(server.Config{
		Listen: a.cfg.Listen, Tokens: tokens, Version: Version,
		Store: a.store, Lake: a.lake, Runs: rl, Landing: landing, Branch: a.cfg.Branch,
		Logger: log, Registry: reg, StateDir: a.cfg.StateDir,
		Settings: a.cfg.Settings, QueueWaiting: q.Waiting,
		Limits: server.Limits{ResultBytes: int64(a.cfg.MaxResultBytes)},
		Checks: []server.Check{
			{Name: "catalog", Fn: func(ctx context.Context) error {
				_, err := a.store.Refs(ctx)
				return err
			}},
			{Name: "object_store", Fn: func(ctx context.Context) error {
				_, err := a.objects.List(ctx, "_rat_health/")
				return err
			}},
			{Name: "queue", Fn: func(ctx context.Context) error {
				_, _, err := q.Waiting(ctx)
				return err
			}},
		},
		LoadWorkspace: a.cachedWorkspace,
		// Runs go through the queue: a worker of this process or of any
		// other (rat worker) executes them.
		StartRun: func(ctx context.Context, opts pipeline.Options) (*pipeline.Result, error) {
			if opts.DryRun {
				// Rendering builds nothing: no queue, no worker, no run
				// record (the UI's pipeline page renders on every visit).
				return a.dryRun(ctx, opts)
			}
			return a.runQueued(ctx, q, opts)
		},
		CancelRun: func(ctx context.Context, id string) (bool, error) {
			return a.cancelQueued(ctx, q, id)
		},
	})
}

// dryRun renders and plans a run in this process.
func (a *app) dryRun(ctx context.Context, opts pipeline.Options) (*pipeline.Result, error) {
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
