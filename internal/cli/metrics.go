package cli

import (
	"context"
	"log/slog"
	"time"

	"github.com/ratdata/rat/internal/metrics"
)

// newMetrics builds the process's metrics, the same way for rat serve and
// rat worker: exec when it executes nodes, serve when it serves the API;
// waiting reports the queue's backlog (nil = not reported).
func (a *app) newMetrics(exec, serve bool, waiting func(context.Context) (int, time.Duration, error), log *slog.Logger) (*metrics.Metrics, error) {
	cfg := metrics.Config{StateDir: a.Config.StateDir, Exec: exec, Serve: serve, QueueWaiting: waiting, Logger: log}
	if c := a.Lake.Cache(); c != nil {
		cfg.Cache = func() (int64, int64) { return c.Hits(), c.Misses() }
	}
	return metrics.New(cfg)
}

// metricsAccess is who may read /metrics: anyone, or with
// RAT_METRICS_TOKEN set, a caller with that token or an API token.
func (a *app) metricsAccess() (metrics.Access, error) {
	access := metrics.Access{Token: a.Config.MetricsToken.Reveal()}
	if access.Token == "" {
		return access, nil
	}
	tokens, err := a.apiTokens()
	for _, t := range tokens {
		access.Secrets = append(access.Secrets, t.Secret)
	}
	return access, err
}
