package orchestrator

import (
	"context"
	"testing"
	"time"

	"github.com/ratdata/rat"
	"github.com/riverqueue/river/rivertype"
)

// TestWaitRunIsNotified: the end of a run wakes its waiter, which looks at
// the run when it starts waiting and when woken, not at a polling pace: a
// run of 1.5 s is looked at a few times, not every 50 ms. On Postgres a
// waiter in another process (a queue without workers, as rat serve
// --no-worker) is woken by NOTIFY.
func TestWaitRunIsNotified(t *testing.T) {
	backends(t, func(t *testing.T, open func(Config) *Queue) {
		ctx := context.Background()
		exec := newTestExec([]rat.PlannedNode{{Pipeline: "a"}, {Pipeline: "b", Deps: []string{"a"}}})
		exec.build = func(ctx context.Context, who, node string, attempt int) rat.NodeRun {
			time.Sleep(750 * time.Millisecond)
			return rat.NodeRun{Pipeline: node, Status: rat.RunSuccess}
		}
		w := open(Config{Workers: 2, Exec: exec})
		start(t, w)
		waiters := []*Queue{w}
		if w.pgPool != nil {
			waiters = append(waiters, open(Config{}))
		}
		for _, q := range waiters {
			id, job, err := q.Enqueue(ctx, RunArgs{Target: "main"})
			if err != nil {
				t.Fatal(err)
			}
			before := q.waitChecks.Load()
			row, err := q.WaitRun(ctx, id, job)
			if err != nil {
				t.Fatal(err)
			}
			exec.wait(t)
			if state, err := q.runState(ctx, id); err != nil || state != runDone {
				t.Fatalf("WaitRun returned with the run %q (%v), job %s", state, err, row.State)
			}
			if row.State != rivertype.JobStateCompleted && row.State != rivertype.JobStateRunning {
				t.Fatalf("the run's job: %s", row.State)
			}
			if n := q.waitChecks.Load() - before; n > 3 {
				t.Fatalf("WaitRun looked at the run %d times in 1.5 s: it polls instead of being notified", n)
			}
		}
	})
}
