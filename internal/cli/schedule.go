package cli

import (
	"context"
	"log/slog"
	"time"

	"github.com/ratdata/rat/internal/orchestrator"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/workspace"
)

// workspaces returns the process's workspace loader, which loads the
// workspace again only when its files changed.
func (a *app) workspaces() *orchestrator.Workspaces {
	a.orchMu.Lock()
	defer a.orchMu.Unlock()
	if a.ws == nil {
		a.ws = &orchestrator.Workspaces{Dir: a.Config.WorkspaceDir, Load: a.loadWorkspace}
	}
	return a.ws
}

// cachedWorkspace is loadWorkspace for a long-running process: the
// workspace as its files are now, loaded again only when one changed.
func (a *app) cachedWorkspace(ctx context.Context) (*workspace.Workspace, error) {
	return a.workspaces().Get(ctx)
}

// scheduler returns the process's scheduler (rat serve's ticks).
func (a *app) scheduler() *orchestrator.Scheduler {
	ws := a.workspaces()
	a.orchMu.Lock()
	defer a.orchMu.Unlock()
	if a.sched == nil {
		a.sched = &orchestrator.Scheduler{
			Store: a.Store, Branch: a.Config.Branch, RetentionDays: a.Config.RunRetentionDays,
			Landing: a.Landing,
			Consumed: func(ctx context.Context, branch, p string) (map[string]time.Time, error) {
				return pipeline.Consumed(ctx, a.Lake, branch, p)
			},
			OnFire: func(lag time.Duration) {
				if a.onScheduleFire != nil {
					a.onScheduleFire(lag)
				}
			},
			Log: slog.Default(),
		}
		if a.Config.WorkspaceDir != "" {
			a.sched.Workspaces = ws
		}
	}
	return a.sched
}

// scheduleTick works one scheduler tick (orchestrator.Scheduler.Tick):
// schedules, landing sensors, pruning; runs are given to enqueue.
func (a *app) scheduleTick(ctx context.Context, now time.Time, enqueue func(context.Context, pipeline.Options) error, log *slog.Logger) error {
	s := a.scheduler()
	s.Log = log
	return s.Tick(ctx, now, func(ctx context.Context, r orchestrator.RunArgs) error {
		return enqueue(ctx, pipeline.Options{ID: r.ID, Target: r.Target, Selectors: r.Selectors, FullRefresh: r.FullRefresh, Trigger: r.Trigger})
	})
}

// nextTick says when the scheduler's tick after the one due at t is due.
func (a *app) nextTick(t time.Time) time.Time { return a.scheduler().NextTick(t) }
