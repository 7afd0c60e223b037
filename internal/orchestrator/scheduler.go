package orchestrator

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/trigger"
	"github.com/ratdata/rat/internal/workspace"
)

// scheduleGrace is how late a tick may be seen and still count as on time:
// the scheduler ticks at each due time (NextTick); more than this is a missed tick, for
// the catch-up policy to decide.
const scheduleGrace = 10 * time.Second

// SchedulerStore is what the scheduler keeps in the catalog database:
// the last tick of each schedule, the triggers switched off, run records.
type SchedulerStore interface {
	ScheduleLast(ctx context.Context, key string) (time.Time, bool, error)
	SetScheduleLast(ctx context.Context, key string, t time.Time) error
	DisabledTriggers(ctx context.Context) (map[string]time.Time, error)
	Runs(ctx context.Context, f rat.RunFilter) ([]rat.Run, error)
	PruneRuns(ctx context.Context, before time.Time) (int64, error)
}

// Scheduler decides when pipelines run by themselves: cron schedules (with
// catch-up), landing sensors, and the pruning of old run records. rat
// serve calls Tick on every scheduler tick (a River periodic job, see
// Config.Tick) and NextTick to space them.
type Scheduler struct {
	Store  SchedulerStore
	Branch string // the branch scheduled runs publish into
	// RetentionDays: run records older than this are pruned, once an
	// hour (each target's newest success stays); 0 keeps them.
	RetentionDays int
	// Workspaces loads the workspace; nil: no workspace, nothing runs.
	Workspaces *Workspaces
	// Landing opens the landing area the sensors watch.
	Landing func(ctx context.Context) (*ingest.Landing, error)
	// Consumed returns the landing files (by content hash) a pipeline has
	// consumed on a branch (pipeline.Consumed).
	Consumed func(ctx context.Context, branch, pipeline string) (map[string]time.Time, error)
	// Maintenance are the maintenance tasks with a schedule
	// (maintenance.<task>.schedule): each due tick enqueues a maintenance
	// run of the task, unless one is still queued or running.
	Maintenance []MaintenanceSchedule
	// OnFire, when set, learns how late each schedule tick was enqueued.
	OnFire func(lag time.Duration)
	Log    *slog.Logger

	mu        sync.Mutex
	lastPrune time.Time
	// offered are the unconsumed landing files each pipeline's sensor last
	// started a run for (a failed run leaves them unconsumed).
	offered map[string]map[string]bool
	// nextDue is the first tick of any schedule after the last tick, once
	// ticked.
	ticked  bool
	nextDue time.Time
}

// pruneRuns deletes, once an hour, the run records older than
// RetentionDays (each target's newest success stays).
func (sc *Scheduler) pruneRuns(ctx context.Context, now time.Time) error {
	days := sc.RetentionDays
	if days <= 0 || now.Sub(sc.lastPrune) < time.Hour {
		return nil
	}
	n, err := sc.Store.PruneRuns(ctx, now.AddDate(0, 0, -days))
	if err != nil {
		return err
	}
	sc.lastPrune = now
	if n > 0 {
		sc.Log.Info("pruned run records", "runs", n, "older_than_days", days)
	}
	return nil
}

// Tick fires the schedule triggers that are due (one run per due tick of a
// pipeline, given to enqueue) and the landing sensors. A new schedule
// starts at its next tick. Ticks come one at a time.
func (sc *Scheduler) Tick(ctx context.Context, now time.Time, enqueue func(context.Context, RunArgs) error) error {
	st := sc.Store
	if err := sc.pruneRuns(ctx, now); err != nil {
		return err
	}
	var nextDue time.Time // the first tick of any schedule after this one
	due := func(t time.Time) {
		if nextDue.IsZero() || t.Before(nextDue) {
			nextDue = t
		}
	}
	defer func() { sc.setNextDue(nextDue) }()
	if err := sc.maintenance(ctx, now, due, enqueue); err != nil {
		return err
	}
	if sc.Workspaces == nil {
		return nil
	}
	ws, err := sc.Workspaces.Get(ctx)
	if err != nil {
		return err
	}
	disabled, err := sc.Store.DisabledTriggers(ctx)
	if err != nil {
		return err
	}
	if err := sc.landingSensors(ctx, ws, disabled, enqueue); err != nil {
		return err
	}
	for _, p := range ws.Pipelines() {
		for _, tr := range p.Config.Triggers {
			if tr.Type != "schedule" {
				continue
			}
			where := fmt.Sprintf("%s:%d", p.ConfigFile, tr.Line)
			s, err := trigger.ParseSchedule(tr.Raw, where)
			if err != nil {
				sc.Log.Error("schedule", "pipeline", p.ID.String(), "err", err)
				continue
			}
			key := trigger.Key(p.ID.String(), tr.Name)
			last, ok, err := st.ScheduleLast(ctx, key)
			if err != nil {
				return err
			}
			if _, off := disabled[key]; !ok || off {
				// New, or switched off: ticks from now on count, the
				// ones before are not caught up.
				if err := st.SetScheduleLast(ctx, key, now); err != nil {
					return err
				}
				due(s.Next(now))
				continue
			}
			for _, tick := range s.Due(last, now, scheduleGrace) {
				opts := RunArgs{Target: sc.Branch, Selectors: []string{p.ID.String()}, Trigger: "schedule"}
				if err := enqueue(ctx, opts); err != nil {
					return err
				}
				sc.Log.Info("schedule fired", "pipeline", p.ID.String(), "tick", tick.UTC().Format(time.RFC3339))
				if sc.OnFire != nil {
					sc.OnFire(now.Sub(tick))
				}
			}
			if latest := s.Latest(last, now); latest.After(last) {
				if err := st.SetScheduleLast(ctx, key, latest); err != nil {
					return err
				}
				last = latest
			}
			due(s.Next(last))
		}
	}
	return nil
}

// idleTick is the longest the scheduler waits between two ticks: a tick
// also hands the nodes of stopped workers to others and notices a changed
// workspace.
const idleTick = 5 * time.Second

// NextTick says when the scheduler's tick after the one due at t is due:
// at the next tick of a pipeline's schedule (as the last tick worked here
// computed it), every second while landing sensors watch for files (and
// before a tick has loaded the workspace), and idleTick after t otherwise.
// River's leader asks before the tick due at t is worked: a schedule it
// fires moves its next tick, which the tick after (a second later at most)
// takes into account.
func (sc *Scheduler) NextTick(t time.Time) time.Time {
	var ws *workspace.Workspace
	if sc.Workspaces != nil {
		ws = sc.Workspaces.Last()
	}
	sc.mu.Lock()
	ticked, nextDue := sc.ticked, sc.nextDue
	sc.mu.Unlock()
	if ws == nil || !ticked {
		return t.Add(time.Second)
	}
	for _, p := range ws.Pipelines() {
		for _, tr := range p.Config.Triggers {
			if tr.Type == "landing" {
				return t.Add(time.Second)
			}
		}
	}
	switch next := t.Add(idleTick); {
	case nextDue.IsZero() || nextDue.After(next):
		return next
	case nextDue.After(t):
		return nextDue
	default:
		return t.Add(time.Second)
	}
}

// setNextDue records the first tick of any schedule after the last tick.
func (sc *Scheduler) setNextDue(t time.Time) {
	sc.mu.Lock()
	sc.ticked, sc.nextDue = true, t
	sc.mu.Unlock()
}

// landingSensors start the pipelines with a landing trigger whose zones hold
// files they have not consumed, unless a run of theirs is already queued or
// running: files that arrive during a run are picked up by the next one.
func (sc *Scheduler) landingSensors(ctx context.Context, ws *workspace.Workspace, disabled map[string]time.Time, enqueue func(context.Context, RunArgs) error) error {
	var pending map[string]bool
	var landing *ingest.Landing
	for _, p := range ws.Pipelines() {
		var zones []string
		for _, tr := range p.Config.Triggers {
			if _, off := disabled[trigger.Key(p.ID.String(), tr.Name)]; tr.Type != "landing" || off {
				continue
			}
			if z, ok := tr.Raw["zone"].(string); ok && z != "" {
				zones = append(zones, z)
			} else {
				zones = append(zones, p.Landings...)
			}
		}
		if len(zones) == 0 {
			continue
		}
		if pending == nil {
			var err error
			if pending, err = sc.pendingPipelines(ctx); err != nil {
				return err
			}
			if landing, err = sc.Landing(ctx); err != nil {
				return err
			}
		}
		if pending[p.ID.String()] || pending["*"] {
			continue
		}
		done, err := sc.Consumed(ctx, sc.Branch, p.ID.String())
		if err != nil {
			return err
		}
		// A run that failed leaves its files unconsumed: they start the
		// pipeline again only with a file not offered before (one a fix
		// would come with), not on every tick.
		fresh, waiting := 0, map[string]bool{}
		offered := sc.offered[p.ID.String()]
		for _, z := range zones {
			files, err := landing.Files(ctx, z)
			if err != nil {
				sc.Log.Error("landing sensor", "pipeline", p.ID.String(), "zone", z, "err", err)
				continue
			}
			for _, f := range files {
				if _, ok := done[f.Hash]; !ok && !waiting[f.Hash] {
					waiting[f.Hash] = true
					if !offered[f.Hash] {
						fresh++
					}
				}
			}
		}
		if fresh == 0 {
			continue
		}
		if sc.offered == nil {
			sc.offered = map[string]map[string]bool{}
		}
		sc.offered[p.ID.String()] = waiting
		if err := enqueue(ctx, RunArgs{Target: sc.Branch, Selectors: []string{p.ID.String()}, Trigger: "landing"}); err != nil {
			return err
		}
		sc.Log.Info("landing sensor fired", "pipeline", p.ID.String(), "new_files", fresh)
	}
	return nil
}

// pendingPipelines are the pipelines a queued or running run selects.
func (sc *Scheduler) pendingPipelines(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	for _, status := range []rat.RunStatus{rat.RunQueued, rat.RunRunning} {
		runs, err := sc.Store.Runs(ctx, rat.RunFilter{Target: sc.Branch, Status: status, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			if r.Detail.Maintenance != nil {
				continue // builds no pipeline
			}
			if len(r.Detail.Selectors) == 0 {
				out["*"] = true // a run of everything
			}
			for _, s := range r.Detail.Selectors {
				out[s] = true
			}
		}
	}
	return out, nil
}

// MaintenanceSchedule is the schedule of one maintenance task.
type MaintenanceSchedule struct {
	Task     string
	Schedule trigger.Schedule
}

// maintenanceKey is where the scheduler keeps a maintenance task's last
// tick (beside the pipelines' trigger keys, layer.name#trigger).
func maintenanceKey(task string) string { return "maintenance:" + task }

// maintenance enqueues a maintenance run for each task whose schedule has
// a due tick (one run for any number of due ticks: a task catches up on
// everything at once), unless a run of the task is still queued or
// running: that tick is skipped, so runs of a task never pile up.
func (sc *Scheduler) maintenance(ctx context.Context, now time.Time, due func(time.Time), enqueue func(context.Context, RunArgs) error) error {
	if len(sc.Maintenance) == 0 {
		return nil
	}
	var active map[string]string
	for _, m := range sc.Maintenance {
		key := maintenanceKey(m.Task)
		last, ok, err := sc.Store.ScheduleLast(ctx, key)
		if err != nil {
			return err
		}
		if !ok {
			// New: it starts at its next tick.
			if err := sc.Store.SetScheduleLast(ctx, key, now); err != nil {
				return err
			}
			due(m.Schedule.Next(now))
			continue
		}
		if ticks := m.Schedule.Due(last, now, scheduleGrace); len(ticks) > 0 {
			if active == nil {
				if active, err = sc.activeMaintenance(ctx); err != nil {
					return err
				}
			}
			tick := ticks[len(ticks)-1]
			if run := active[m.Task]; run != "" {
				sc.Log.Warn("maintenance tick skipped: the task's last run has not ended", "task", m.Task, "run", run, "tick", tick.UTC().Format(time.RFC3339))
			} else {
				if err := enqueue(ctx, RunArgs{Trigger: rat.TriggerMaintenance, Task: m.Task}); err != nil {
					return err
				}
				sc.Log.Info("maintenance schedule fired", "task", m.Task, "tick", tick.UTC().Format(time.RFC3339))
				if sc.OnFire != nil {
					sc.OnFire(now.Sub(tick))
				}
			}
		}
		if latest := m.Schedule.Latest(last, now); latest.After(last) {
			if err := sc.Store.SetScheduleLast(ctx, key, latest); err != nil {
				return err
			}
			last = latest
		}
		due(m.Schedule.Next(last))
	}
	return nil
}

// activeMaintenance maps each maintenance task with a queued or running
// run to that run.
func (sc *Scheduler) activeMaintenance(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, status := range []rat.RunStatus{rat.RunQueued, rat.RunRunning} {
		runs, err := sc.Store.Runs(ctx, rat.RunFilter{Status: status, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			if m := r.Detail.Maintenance; m != nil {
				out[m.Task] = r.ID
			}
		}
	}
	return out, nil
}
