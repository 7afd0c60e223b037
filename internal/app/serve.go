package app

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/ratdata/rat/internal/config"

	"github.com/ratdata/rat/internal/metrics"
	"github.com/ratdata/rat/internal/monitor"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/orchestrator"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/server"
	"github.com/ratdata/rat/internal/sysres"
)

// This file builds what rat serve and rat worker run: the API server over
// the app's objects and queue, the scheduler's tick, the metrics.

// ServeTick is what every serve replica does on a scheduler tick (River's
// leader makes sure one tick a second is worked, by one of them): nodes
// whose worker died go to another one, runs whose rat run process died end
// as failed (owner lost), and due schedules and sensors enqueue runs into
// *q.
func (a *App) ServeTick(q **orchestrator.Queue, log *slog.Logger) func(context.Context, time.Time) error {
	return func(ctx context.Context, now time.Time) error {
		if n, err := (*q).Reap(ctx, orchestrator.DefaultLease); err != nil {
			log.Error("reap", "err", err)
		} else if n > 0 {
			log.Warn(fmt.Sprintf("handed %d node(s) of stopped workers to others", n))
		}
		a.ReapRuns(ctx, nil, log)
		return a.ScheduleTick(ctx, now, func(ctx context.Context, r orchestrator.RunArgs) error {
			_, _, err := a.Runs(nil, nil).Enqueue(ctx, *q, r)
			return err
		}, log)
	}
}

// APITokens are the API tokens: RAT_TOKEN_FILE's, and RAT_API_TOKEN as
// an admin token.
func (a *App) APITokens() ([]server.Token, error) {
	var tokens []server.Token
	if a.Config.TokenFile != "" {
		var err error
		if tokens, err = server.LoadTokens(a.Config.TokenFile); err != nil {
			return nil, err
		}
	}
	if t := a.Config.APIToken.Reveal(); t != "" {
		tokens = append(tokens, server.Token{Name: "RAT_API_TOKEN", Secret: t, Role: server.RoleAdmin})
	}
	return tokens, nil
}

// NewServer wires the app into an API server (rat serve's), version
// being rat's.
func (a *App) NewServer(ctx context.Context, log *slog.Logger, q *orchestrator.Queue, m *metrics.Metrics, version string) (*server.Server, error) {
	tokens, err := a.APITokens()
	if err != nil {
		return nil, err
	}
	landing, err := a.Landing(ctx)
	if err != nil {
		return nil, err
	}
	meter, err := a.Meter()
	if err != nil {
		return nil, err
	}
	return server.New(server.Config{
		Listen: a.Config.Listen, Tokens: tokens, Version: version,
		AllowedHosts: a.Config.AllowedHosts, MetricsToken: a.Config.MetricsToken.Reveal(),
		Store: a.Store, Lake: a.Lake, Landing: landing, Branch: a.Config.Branch,
		Logger: log, Metrics: m, StateDir: a.Config.StateDir,
		Settings: a.Config.Settings, QueueWaiting: q.Waiting,
		Limits:             server.Limits{ResultBytes: int64(a.Config.MaxResultBytes)},
		IcebergTableConfig: IcebergTableConfig(a.Config),
		Resources:          &a.Config.Fit,
		Checks: []server.Check{
			{Name: "catalog", Fn: func(ctx context.Context) error {
				_, err := a.Store.Refs(ctx)
				return err
			}},
			{Name: "object_store", Fn: func(ctx context.Context) error {
				_, err := a.Objects.List(ctx, "_rat_health/")
				return err
			}},
			{Name: "queue", Fn: func(ctx context.Context) error {
				_, _, err := q.Waiting(ctx)
				return err
			}},
		},
		LoadWorkspace: a.CachedWorkspace,
		Status: func(ctx context.Context, stale func(context.Context) ([]monitor.Stale, error)) (*monitor.Report, error) {
			return a.Status(ctx, q, stale)
		},
		Thresholds: a.Config.Thresholds,
		Meter:      meter,
		// Runs go through the queue: a worker of this process or of any
		// other (rat worker) executes them.
		StartRun: func(ctx context.Context, opts pipeline.Options) (*pipeline.Result, error) {
			if opts.DryRun {
				// Rendering builds nothing: no queue, no worker, no run
				// record (the UI's pipeline page renders on every visit).
				return a.DryRun(ctx, opts)
			}
			return a.RunQueued(ctx, q, opts)
		},
		CancelRun: func(ctx context.Context, id string) (bool, error) {
			found, err := a.CancelQueued(ctx, q, id)
			if err != nil || found {
				return found, err
			}
			// Not the queue's: a run that a rat run process executes.
			if rec, err := a.Store.Run(ctx, id); err == nil && rec.Owner != "" && rec.Status == pipeline.StatusRunning {
				_, err := a.CancelOwned(ctx, rec, false)
				return err == nil, err
			}
			return false, nil
		},
	})
}

// DryRun renders and plans a run in this process.
func (a *App) DryRun(ctx context.Context, opts pipeline.Options) (*pipeline.Result, error) {
	ws, err := a.LoadWorkspace(ctx)
	if err != nil {
		return nil, err
	}
	r, err := a.Runner(ctx, ws)
	if err != nil {
		return nil, err
	}
	return r.Run(ctx, opts)
}

// NewMetrics builds the process's metrics, the same way for rat serve and
// rat worker: exec when it executes nodes, serve when it serves the API;
// waiting reports the queue's backlog (nil = not reported); version is
// rat's (rat_build_info).
func (a *App) NewMetrics(exec, serve bool, waiting func(context.Context) (int, time.Duration, error), version string, log *slog.Logger) (*metrics.Metrics, error) {
	meter, err := a.Meter()
	if err != nil {
		return nil, err
	}
	cfg := metrics.Config{StateDir: a.Config.StateDir, Exec: exec, Serve: serve, QueueWaiting: waiting, Logger: log,
		Meter: meter, Version: version}
	if c := a.Lake.Cache(); c != nil {
		cfg.Cache = func() (int64, int64) { return c.Hits(), c.Misses() }
	}
	return metrics.New(cfg)
}

// Meter measures this process's memory, CPU and volumes against the
// machine's limits (rat_memory_*, heartbeats): the local warehouse,
// DuckDB's spill directory and, on S3, the read cache. One per App.
func (a *App) Meter() (*metrics.Meter, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.meter != nil {
		return a.meter, nil
	}
	vols := []metrics.Volume{{Name: "spill", Dir: a.spillDir()}}
	if a.Config.IsS3() {
		vols = append(vols, metrics.Volume{Name: "cache", Dir: a.cacheDir()})
	} else {
		vols = append([]metrics.Volume{{Name: "warehouse", Dir: a.Config.Warehouse}}, vols...)
	}
	m, err := metrics.NewMeter(sysres.System(), vols, nil)
	if err != nil {
		return nil, fmt.Errorf("measure this process's resources: %w", err)
	}
	a.meter = m
	return m, nil
}

// MetricsAccess is who may read /metrics: anyone, or with
// RAT_METRICS_TOKEN set, a caller with that token or an API token.
func (a *App) MetricsAccess() (metrics.Access, error) {
	access := metrics.Access{Token: a.Config.MetricsToken.Reveal()}
	if access.Token == "" {
		return access, nil
	}
	tokens, err := a.APITokens()
	for _, t := range tokens {
		access.Secrets = append(access.Secrets, t.Secret)
	}
	return access, err
}

// IcebergTableConfig is the storage config rat serve's Iceberg REST
// catalog returns with every table, in the keys Iceberg clients read: for
// an S3 warehouse its endpoint, region and path style (s3.path-style-access,
// and iceberg-go's s3.force-virtual-addressing). Never the credentials:
// clients bring their own. nil for a local warehouse.
func IcebergTableConfig(cfg *config.Config) map[string]string {
	if !cfg.IsS3() {
		return nil
	}
	bucket, _, _ := objstore.ParseS3URL(cfg.Warehouse) // validated when the warehouse opened
	path := objstore.S3Config{Endpoint: cfg.S3.Endpoint, Bucket: bucket, PathStyle: cfg.S3.PathStyle}.UsesPathStyle()
	return map[string]string{
		"s3.endpoint":                 cfg.S3.Endpoint,
		"s3.region":                   cfg.S3.Region,
		"client.region":               cfg.S3.Region,
		"s3.path-style-access":        strconv.FormatBool(path),
		"s3.force-virtual-addressing": strconv.FormatBool(!path),
	}
}
