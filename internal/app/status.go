package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/metrics"
	"github.com/ratdata/rat/internal/monitor"
	"github.com/ratdata/rat/internal/orchestrator"
	"github.com/ratdata/rat/internal/trigger"
)

// StartHeartbeats records this process in rat_heartbeats every
// monitoring.heartbeat_interval with its resources (and, for rat serve,
// its p95 query latency from m, and the profile's fit warning) until the returned stop is called.
func (a *App) StartHeartbeats(ctx context.Context, q *orchestrator.Queue, role, version string, m *metrics.Metrics, log *slog.Logger) (stop func(), err error) {
	meter, err := a.Meter()
	if err != nil {
		return nil, err
	}
	return q.StartHeartbeats(ctx, orchestrator.Beats{Role: role, Version: version, Interval: a.Config.HeartbeatInterval, Logger: log,
		Snapshot: func() any {
			s := meter.Snapshot()
			s.QueryP95Seconds, _ = m.QueryLatency(0.95)
			s.ProfileWarning = a.Config.Fit.Warning
			return s
		}}), nil
}

// statusRuns is how many failed runs Status reads to count those of the
// last monitor.FailedWindow; statusRunning bounds the running ones counted.
const (
	statusRuns    = 100
	statusRunning = 1000
)

// Status gathers the cluster's state for rat status and GET /api/v1/status
// from the catalog database and the queue q (nil: this command opens one
// without workers): the live processes, the backlog, running and failed
// runs, tables past their freshness; judged by monitoring.thresholds. What
// cannot be read becomes a warning, not an error. stale lists the tables
// past their freshness policy (rat serve's, from its cached table list);
// nil reads them here.
func (a *App) Status(ctx context.Context, q *orchestrator.Queue, stale func(context.Context) ([]monitor.Stale, error)) (*monitor.Report, error) {
	now := time.Now()
	r := &monitor.Report{Generated: now.UTC(), Failed: []monitor.FailedRun{}, Stale: []monitor.Stale{}, Processes: []monitor.Process{}}
	var problems []monitor.Finding
	problem := func(subject string, err error, advice string) {
		problems = append(problems, monitor.Finding{Status: monitor.Warning, Subject: subject, Message: subject + ": " + rat.ErrorMessage(err), Advice: advice})
	}
	if q == nil {
		var err error
		if q, err = a.OpenQueue(ctx, 0, nil, slog.New(slog.DiscardHandler), nil); err != nil {
			return nil, err
		}
		defer q.Close()
	}
	hbs, err := q.Heartbeats(ctx)
	if err != nil {
		problem("heartbeats", err, "check the queue's database (.rat/queue.db, or the catalog's Postgres)")
	}
	for _, hb := range hbs {
		p := monitor.Process{ID: hb.Process, Role: hb.Role, Host: hb.Host, PID: hb.PID, Version: hb.Version, Started: hb.Started, Seen: hb.Seen}
		if err := json.Unmarshal(hb.Snapshot, &p.Resources); err != nil {
			problem("heartbeat of "+hb.Process, err, "the process runs another rat version: upgrade it")
		}
		r.Processes = append(r.Processes, p)
	}
	if n, oldest, err := q.Waiting(ctx); err != nil {
		problem("queue", err, "check the queue's database")
	} else {
		r.Queue = &monitor.Queue{Waiting: n, OldestWaitSeconds: oldest.Seconds()}
	}
	if running, err := a.Store.Runs(ctx, rat.RunFilter{Status: rat.RunRunning, Limit: statusRunning}); err != nil {
		problem("runs", err, "check the catalog database")
	} else {
		r.Running = len(running)
	}
	if failed, err := a.Store.Runs(ctx, rat.RunFilter{Status: rat.RunFailed, Limit: statusRuns}); err != nil {
		problem("runs", err, "check the catalog database")
	} else {
		for _, run := range failed {
			if !run.Finished.IsZero() && now.Sub(run.Finished) <= monitor.FailedWindow && len(r.Failed) < monitor.MaxFailed {
				r.Failed = append(r.Failed, monitor.FailedRun{ID: run.ID, Target: run.Target, Finished: run.Finished.UTC()})
			}
		}
	}
	if stale == nil {
		stale = func(ctx context.Context) ([]monitor.Stale, error) { return a.staleTables(ctx, now) }
	}
	if st, err := stale(ctx); err != nil {
		problem("freshness", err, "fix the workspace (rat validate) or check the catalog")
	} else {
		r.Stale = append(r.Stale, st...)
	}
	monitor.Evaluate(r, a.Config.Thresholds)
	for _, p := range problems {
		monitor.Add(r, p)
	}
	return r, nil
}

// staleTables lists the tables past their freshness policy on the
// configured branch.
func (a *App) staleTables(ctx context.Context, now time.Time) ([]monitor.Stale, error) {
	ws, err := a.CachedWorkspace(ctx)
	if err != nil {
		return nil, err
	}
	var out []monitor.Stale
	var updated map[string]time.Time
	for _, p := range ws.Pipelines() {
		f := p.Config.Freshness
		if f.WarnAfter == 0 && f.ErrorAfter == 0 {
			continue
		}
		if updated == nil {
			sums, err := a.Lake.Summaries(ctx, a.Config.Branch)
			if err != nil {
				return nil, err
			}
			updated = map[string]time.Time{}
			for _, s := range sums {
				updated[s.Table] = s.Updated
			}
		}
		u := updated[p.ID.String()]
		st := monitor.Stale{Table: p.ID.String(), Status: trigger.FreshnessOf(u, f.WarnAfter, f.ErrorAfter, now)}
		if st.Status == trigger.Fresh {
			continue
		}
		if !u.IsZero() {
			st.AgeSeconds = now.Sub(u).Seconds()
		}
		out = append(out, st)
	}
	return out, nil
}
