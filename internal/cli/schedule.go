package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/queue"
	"github.com/ratdata/rat/internal/server"
	"github.com/ratdata/rat/internal/trigger"
	"github.com/ratdata/rat/internal/workspace"
)

// scheduleGrace is how late a tick may be seen and still count as on time:
// the scheduler ticks at each due time (nextTick); more than this is a missed tick, for
// the catch-up policy to decide.
const scheduleGrace = 10 * time.Second

// scheduleState is what the catalog stores keep schedule ticks with.
type scheduleState interface {
	ScheduleLast(ctx context.Context, key string) (time.Time, bool, error)
	SetScheduleLast(ctx context.Context, key string, t time.Time) error
}

// pruneRuns deletes, once an hour, the run records older than
// run_retention_days (each target's newest success stays).
func (a *app) pruneRuns(ctx context.Context, now time.Time, log *slog.Logger) error {
	days := a.Config.RunRetentionDays
	pr, ok := a.Store.(interface {
		PruneRuns(ctx context.Context, before time.Time) (int64, error)
	})
	if days <= 0 || !ok || now.Sub(a.lastPrune) < time.Hour {
		return nil
	}
	n, err := pr.PruneRuns(ctx, now.AddDate(0, 0, -days))
	if err != nil {
		return err
	}
	a.lastPrune = now
	if n > 0 {
		log.Info("pruned run records", "runs", n, "older_than_days", days)
	}
	return nil
}

// disabledTriggers returns the keys of the triggers switched off through
// the API (none when the catalog keeps no such state).
func (a *app) disabledTriggers(ctx context.Context) (map[string]time.Time, error) {
	ts, ok := a.Store.(server.TriggerStates)
	if !ok {
		return map[string]time.Time{}, nil
	}
	return ts.DisabledTriggers(ctx)
}

// scheduleTick fires the schedule triggers that are due: one run per due
// tick of a pipeline, enqueued. A new schedule starts at its next tick.
func (a *app) scheduleTick(ctx context.Context, now time.Time, enqueue func(context.Context, pipeline.Options) error, log *slog.Logger) error {
	st, ok := a.Store.(scheduleState)
	if !ok || a.Config.WorkspaceDir == "" {
		return nil
	}
	if err := a.pruneRuns(ctx, now, log); err != nil {
		return err
	}
	ws, err := a.cachedWorkspace(ctx)
	if err != nil {
		return err
	}
	disabled, err := a.disabledTriggers(ctx)
	if err != nil {
		return err
	}
	if err := a.landingSensors(ctx, ws, disabled, enqueue, log); err != nil {
		return err
	}
	var nextDue time.Time // the first tick of any schedule after this one
	due := func(t time.Time) {
		if nextDue.IsZero() || t.Before(nextDue) {
			nextDue = t
		}
	}
	defer func() { a.setNextDue(nextDue) }()
	for _, p := range ws.Pipelines() {
		for _, tr := range p.Config.Triggers {
			if tr.Type != "schedule" {
				continue
			}
			where := fmt.Sprintf("%s:%d", p.ConfigFile, tr.Line)
			s, err := trigger.ParseSchedule(tr.Raw, where)
			if err != nil {
				log.Error("schedule", "pipeline", p.ID.String(), "err", err)
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
				opts := pipeline.Options{Target: a.Config.Branch, Selectors: []string{p.ID.String()}, Trigger: "schedule"}
				if err := enqueue(ctx, opts); err != nil {
					return err
				}
				log.Info("schedule fired", "pipeline", p.ID.String(), "tick", tick.UTC().Format(time.RFC3339))
				if a.onScheduleFire != nil {
					a.onScheduleFire(now.Sub(tick))
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

// nextTick says when the scheduler's tick after the one due at t is due:
// at the next tick of a pipeline's schedule (as the last tick worked here
// computed it), every second while landing sensors watch for files (and
// before a tick has loaded the workspace), and idleTick after t otherwise.
// River's leader asks before the tick due at t is worked: a schedule it
// fires moves its next tick, which the tick after (a second later at most)
// takes into account.
func (a *app) nextTick(t time.Time) time.Time {
	a.wsMu.Lock()
	ws, ticked, nextDue := a.wsCache, a.ticked, a.nextDue
	a.wsMu.Unlock()
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
func (a *app) setNextDue(t time.Time) {
	a.wsMu.Lock()
	a.ticked, a.nextDue = true, t
	a.wsMu.Unlock()
}

// enqueueRun records a run as queued and puts it in the queue.
func (a *app) enqueueRun(ctx context.Context, q *queue.Queue, opts pipeline.Options) (int64, pipeline.Options, error) {
	opts, err := a.recordQueued(ctx, opts)
	if err != nil {
		return 0, opts, err
	}
	_, job, err := q.Enqueue(ctx, opts)
	return job, opts, err
}

// recordQueued records a run as queued, so it is visible before a worker
// takes it.
func (a *app) recordQueued(ctx context.Context, opts pipeline.Options) (pipeline.Options, error) {
	rl, ok := a.Store.(pipeline.RunLog)
	if !ok {
		return opts, rat.Errorf(rat.EINTERNAL, "this catalog keeps no run records")
	}
	if opts.ID == "" {
		opts.ID = pipeline.NewRunID(time.Now())
	}
	queued := pipeline.Result{ID: opts.ID, Target: opts.Target, Selectors: opts.Selectors, Trigger: opts.Trigger, RunBranch: "run/" + opts.ID, Status: "queued",
		Started: time.Now().UTC(), Nodes: []pipeline.NodeResult{}, Tests: []pipeline.TestResult{}}
	detail, _ := json.Marshal(queued)
	err := rl.SaveRun(ctx, rat.Run{ID: opts.ID, Target: opts.Target, Status: "queued", Trigger: opts.Trigger, Started: queued.Started, Detail: detail})
	return opts, err
}

// landingSensors start the pipelines with a landing trigger whose zones hold
// files they have not consumed, unless a run of theirs is already queued or
// running: files that arrive during a run are picked up by the next one.
func (a *app) landingSensors(ctx context.Context, ws *workspace.Workspace, disabled map[string]time.Time, enqueue func(context.Context, pipeline.Options) error, log *slog.Logger) error {
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
			if pending, err = a.pendingPipelines(ctx); err != nil {
				return err
			}
			if landing, err = a.Landing(ctx); err != nil {
				return err
			}
		}
		if pending[p.ID.String()] || pending["*"] {
			continue
		}
		done, err := pipeline.Consumed(ctx, a.Lake, a.Config.Branch, p.ID.String())
		if err != nil {
			return err
		}
		// A run that failed leaves its files unconsumed: they start the
		// pipeline again only with a file not offered before (one a fix
		// would come with), not on every tick.
		fresh, waiting := 0, map[string]bool{}
		offered := a.offered[p.ID.String()]
		for _, z := range zones {
			files, err := landing.Files(ctx, z)
			if err != nil {
				log.Error("landing sensor", "pipeline", p.ID.String(), "zone", z, "err", err)
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
		if a.offered == nil {
			a.offered = map[string]map[string]bool{}
		}
		a.offered[p.ID.String()] = waiting
		if err := enqueue(ctx, pipeline.Options{Target: a.Config.Branch, Selectors: []string{p.ID.String()}, Trigger: "landing"}); err != nil {
			return err
		}
		log.Info("landing sensor fired", "pipeline", p.ID.String(), "new_files", fresh)
	}
	return nil
}

// pendingPipelines are the pipelines a queued or running run selects.
func (a *app) pendingPipelines(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	rl, ok := a.Store.(pipeline.RunLog)
	if !ok {
		return out, nil
	}
	for _, status := range []string{"queued", string(pipeline.StatusRunning)} {
		runs, err := rl.Runs(ctx, rat.RunFilter{Target: a.Config.Branch, Status: status, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			var res pipeline.Result
			if json.Unmarshal(r.Detail, &res) == nil {
				if len(res.Selectors) == 0 {
					out["*"] = true // a run of everything
				}
				for _, s := range res.Selectors {
					out[s] = true
				}
			}
		}
	}
	return out, nil
}

// cachedWorkspace is loadWorkspace for a long-running process (the
// scheduler looks at the workspace every second, every run starts by
// reading it): the files are loaded again only when one of them changed
// (names, sizes and modification times). A loaded workspace is read-only,
// so callers share it.
func (a *app) cachedWorkspace(ctx context.Context) (*workspace.Workspace, error) {
	a.wsMu.Lock()
	defer a.wsMu.Unlock()
	print, err := workspaceFingerprint(a.Config.WorkspaceDir)
	if err == nil && a.wsCache != nil && print == a.wsPrint {
		return a.wsCache, nil
	}
	ws, err := a.loadWorkspace(ctx)
	if err != nil {
		return nil, err
	}
	a.wsCache, a.wsPrint = ws, print
	return ws, nil
}

// workspaceFingerprint summarises a workspace's files: workspace.yaml and
// everything but the state directory, landing zones and hidden folders.
func workspaceFingerprint(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != dir && (strings.HasPrefix(name, ".") || (name == "landing" && filepath.Dir(path) == dir)) {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", path, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
