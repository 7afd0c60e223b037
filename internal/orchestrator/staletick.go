package orchestrator

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// defaultStaleTick is how long a tick may run before the schedulers take
// it for the tick of a process that died (or hangs) mid-tick. A tick is
// unique while it runs (ticks never pile up), so such a tick would stop
// every schedule until River's rescuer discards it (a minute, run by the
// leader, which may be the process that died).
const defaultStaleTick = 30 * time.Second

// freeStaleTicks deletes the ticks that have been running for longer than
// the stale limit, so that the next tick can be enqueued and worked by a
// live scheduler. It returns how many it deleted. Ticks keep no history
// worth keeping and are never retried; River's API deletes no running
// job, so the row goes by SQL, and only while still running.
func (q *Queue) freeStaleTicks(ctx context.Context) (int, error) {
	res, err := q.list(ctx, river.NewJobListParams().Kinds(TickArgs{}.Kind()).States(rivertype.JobStateRunning).First(100))
	if err != nil {
		return 0, err
	}
	limit := q.staleTick()
	freed := 0
	for _, j := range res.Jobs {
		if j.AttemptedAt == nil || time.Since(*j.AttemptedAt) < limit {
			continue
		}
		err := q.withTx(ctx, func(t tx) error {
			n, err := t.exec(ctx, `DELETE FROM river_job WHERE id = ? AND state = 'running'`, j.ID)
			freed += int(n)
			return err
		})
		if err != nil {
			return freed, err
		}
	}
	return freed, nil
}

// staleTick is Config.StaleTick, or its default.
func (q *Queue) staleTick() time.Duration {
	if q.cfg.StaleTick > 0 {
		return q.cfg.StaleTick
	}
	return defaultStaleTick
}

// watchStaleTicks frees stale ticks every few seconds until the queue
// stops (scheduler processes only).
func (q *Queue) watchStaleTicks(log *slog.Logger) {
	every := max(q.staleTick()/6, 250*time.Millisecond) // 5s by default
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-q.stopped:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), every)
			n, err := q.freeStaleTicks(ctx)
			cancel()
			if err != nil {
				log.Debug("free stale scheduler ticks", "err", err)
			} else if n > 0 {
				log.Warn("freed scheduler ticks of a process that stopped mid-tick", "ticks", n)
			}
		}
	}()
}
