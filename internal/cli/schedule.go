package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/queue"
	"github.com/ratdata/rat/internal/trigger"
)

// scheduleGrace is how late a tick may be seen and still count as on time:
// the scheduler ticks every second; more than this is a missed tick, for
// the catch-up policy to decide.
const scheduleGrace = 10 * time.Second

// scheduleState is what the catalog stores keep schedule ticks with.
type scheduleState interface {
	ScheduleLast(ctx context.Context, key string) (time.Time, bool, error)
	SetScheduleLast(ctx context.Context, key string, t time.Time) error
}

// scheduleTick fires the schedule triggers that are due: one run per due
// tick of a pipeline, enqueued. A new schedule starts at its next tick.
func (a *app) scheduleTick(ctx context.Context, now time.Time, enqueue func(context.Context, pipeline.Options) error, log *slog.Logger) error {
	st, ok := a.store.(scheduleState)
	if !ok || a.cfg.WorkspaceDir == "" {
		return nil
	}
	ws, err := a.loadWorkspace(ctx)
	if err != nil {
		return err
	}
	for _, p := range ws.Pipelines() {
		for i, tr := range p.Config.Triggers {
			if tr.Type != "schedule" {
				continue
			}
			where := fmt.Sprintf("%s:%d", p.ConfigFile, tr.Line)
			s, err := trigger.ParseSchedule(tr.Raw, where)
			if err != nil {
				log.Error("schedule", "pipeline", p.ID.String(), "err", err)
				continue
			}
			key := fmt.Sprintf("%s#%d", p.ID, i)
			last, ok, err := st.ScheduleLast(ctx, key)
			if err != nil {
				return err
			}
			if !ok {
				if err := st.SetScheduleLast(ctx, key, now); err != nil {
					return err
				}
				continue
			}
			for _, tick := range s.Due(last, now, scheduleGrace) {
				opts := pipeline.Options{Target: a.cfg.Branch, Selectors: []string{p.ID.String()}, Trigger: "schedule"}
				if err := enqueue(ctx, opts); err != nil {
					return err
				}
				log.Info("schedule fired", "pipeline", p.ID.String(), "tick", tick.UTC().Format(time.RFC3339))
			}
			if latest := s.Latest(last, now); latest.After(last) {
				if err := st.SetScheduleLast(ctx, key, latest); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// enqueueRun records a run as queued and puts it in the queue.
func (a *app) enqueueRun(ctx context.Context, q *queue.Queue, opts pipeline.Options) (int64, pipeline.Options, error) {
	rl, ok := a.store.(pipeline.RunLog)
	if !ok {
		return 0, opts, rat.Errorf(rat.EINTERNAL, "this catalog keeps no run records")
	}
	if opts.ID == "" {
		opts.ID = pipeline.NewRunID(time.Now())
	}
	queued := pipeline.Result{ID: opts.ID, Target: opts.Target, RunBranch: "run/" + opts.ID, Status: "queued",
		Started: time.Now().UTC(), Nodes: []pipeline.NodeResult{}, Tests: []pipeline.TestResult{}}
	detail, _ := json.Marshal(queued)
	if err := rl.SaveRun(ctx, rat.Run{ID: opts.ID, Target: opts.Target, Status: "queued", Trigger: opts.Trigger, Started: queued.Started, Detail: detail}); err != nil {
		return 0, opts, err
	}
	_, job, err := q.Enqueue(ctx, opts)
	return job, opts, err
}
