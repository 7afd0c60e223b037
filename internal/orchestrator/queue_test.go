package orchestrator

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ratdata/rat/internal/testenv"
	"github.com/riverqueue/river/rivertype"
)

// backends opens a worker queue on SQLite and on Postgres.
func backends(t *testing.T, fn func(t *testing.T, open func(Config) *Queue)) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			var base Config
			if name == "sqlite" {
				base.SQLitePath = filepath.Join(t.TempDir(), "queue.db")
			} else {
				base.PostgresURL = testenv.Postgres(t)
			}
			fn(t, func(c Config) *Queue {
				t.Helper()
				c.SQLitePath, c.PostgresURL = base.SQLitePath, base.PostgresURL
				q, err := Open(context.Background(), c)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(q.Close)
				return q
			})
		})
	}
}

func waitState(t *testing.T, q *Queue, job int64, want rivertype.JobState) *rivertype.JobRow {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		row, err := q.Job(context.Background(), job)
		if err != nil {
			t.Fatal(err)
		}
		if row.State == want {
			return row
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d is %s, want %s (errors %v)", job, row.State, want, row.Errors)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOpenNeedsExec(t *testing.T) {
	if _, err := Open(context.Background(), Config{SQLitePath: filepath.Join(t.TempDir(), "q.db"), Workers: 1}); err == nil {
		t.Fatal("a worker queue without an Exec opened")
	}
	if _, err := Open(context.Background(), Config{}); err == nil {
		t.Fatal("a queue without a database opened")
	}
}

func TestSchedulerTicks(t *testing.T) {
	backends(t, func(t *testing.T, open func(Config) *Queue) {
		ctx := context.Background()
		ticks := make(chan time.Time, 100)
		// A worker that is no scheduler, and a scheduler without run workers
		// (rat serve --no-worker): ticks reach only the scheduler.
		worker := open(Config{Workers: 1, Exec: newTestExec(nil)})
		sched := open(Config{TickInterval: 200 * time.Millisecond, Tick: func(ctx context.Context, now time.Time) error {
			ticks <- now
			return nil
		}})
		for _, q := range []*Queue{worker, sched} {
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			q := q
			t.Cleanup(func() { q.Stop(context.Background()) })
		}
		deadline := time.After(30 * time.Second)
		for n := 0; n < 3; n++ {
			select {
			case <-ticks:
			case <-deadline:
				t.Fatalf("only %d ticks in 30s", n)
			}
		}
	})
}

// TestConcurrentOpen: processes starting together on a new queue (rat serve
// and rat worker) all open it, whichever applies the migrations.
func TestConcurrentOpen(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			cfg := Config{SQLitePath: filepath.Join(t.TempDir(), "queue.db")}
			if name == "postgres" {
				cfg = Config{PostgresURL: testenv.Postgres(t)}
			}
			errs := make(chan error, 4)
			for range 4 {
				go func() {
					q, err := Open(context.Background(), cfg)
					if err == nil {
						q.Close()
					}
					errs <- err
				}()
			}
			for range 4 {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestStaleTickFreed: a scheduler that hangs (or died) in the middle of a
// tick holds it, and ticks are unique while they run, so no schedule would
// fire until River's rescuer (a minute, on the leader) discarded it. The
// other schedulers delete a tick running for longer than StaleTick, and
// ticks go on, worked by a live scheduler.
func TestStaleTickFreed(t *testing.T) {
	backends(t, func(t *testing.T, open func(Config) *Queue) {
		ctx := context.Background()
		hung := make(chan struct{})
		release := make(chan struct{})
		defer close(release)
		stuck := open(Config{TickInterval: 200 * time.Millisecond, StaleTick: time.Hour, Tick: func(ctx context.Context, now time.Time) error {
			select {
			case hung <- struct{}{}:
			default:
			}
			<-release // until the test ends, like a process that is gone
			return nil
		}})
		if err := stuck.Start(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-hung:
		case <-time.After(30 * time.Second):
			t.Fatal("the first scheduler never ticked")
		}
		// A second scheduler, not yet started: its stale-tick check is
		// called by hand first, to see it find the held tick.
		ticks := make(chan time.Time, 100)
		live := open(Config{TickInterval: 200 * time.Millisecond, StaleTick: 500 * time.Millisecond, Tick: func(ctx context.Context, now time.Time) error {
			ticks <- now
			return nil
		}})
		if n, err := live.freeStaleTicks(ctx); err != nil || n != 0 {
			t.Fatalf("a tick running for less than StaleTick was freed: %d, %v", n, err)
		}
		time.Sleep(600 * time.Millisecond)
		if n, err := live.freeStaleTicks(ctx); err != nil || n != 1 {
			t.Fatalf("freeStaleTicks = %d, %v; want the held tick freed", n, err)
		}
		if err := live.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { live.Stop(context.Background()) })
		select {
		case <-ticks:
		case <-time.After(60 * time.Second):
			t.Fatal("no tick reached the live scheduler after the held one was freed")
		}
	})
}
