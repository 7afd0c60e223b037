package orchestrator

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// A waiter (WaitRun: the API answering a run when it ends) learns of the
// end of a run by a notification, not by reading the queue over and over:
//
//   - in this process, the worker that ends a run (its finish, or its
//     rat_run job ending without a DAG) signals the waiters through a
//     channel, at once;
//   - on Postgres, the transaction that ends a run sends NOTIFY
//     rat_run_done with its id, which a listening connection of every
//     process with waiters receives;
//   - on SQLite, which has no LISTEN/NOTIFY, a run ended by another
//     process on the same queue file (rat serve --no-worker beside rat
//     worker) is found by a look every reconcileSQLite, the pace at which
//     an idle queue notices another process's jobs (listen.go).
//
// A waiter also looks every reconcilePostgres on Postgres, so that a
// notification lost with a dropped connection delays it, never strands it.

// runDoneChannel is the Postgres channel of ended runs; the payload is the
// run id.
const runDoneChannel = "rat_run_done"

const (
	reconcileSQLite   = time.Second
	reconcilePostgres = 5 * time.Second
)

// waiters keeps, per run, the channels of the processes waiting for it.
type waiters struct {
	mu sync.Mutex
	m  map[string][]chan struct{}
}

// add registers a waiter for run; the returned channel receives a value
// when the run may have ended. remove unregisters it.
func (w *waiters) add(run string) (ch chan struct{}, remove func()) {
	ch = make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string][]chan struct{}{}
	}
	w.m[run] = append(w.m[run], ch)
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		list := w.m[run]
		for i, c := range list {
			if c == ch {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(w.m, run)
		} else {
			w.m[run] = list
		}
	}
}

// notify wakes the waiters of run, without blocking.
func (w *waiters) notify(run string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.m[run] {
		signal(ch)
	}
}

// count is how many waiters there are.
func (w *waiters) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, l := range w.m {
		n += len(l)
	}
	return n
}

// runEnded tells the waiters of this process that run ended (called after
// the ending transaction committed).
func (q *Queue) runEnded(run string) { q.waiting.notify(run) }

// watchJobs wakes the waiters of runs whose rat_run job ended in this
// process (completed without a DAG, cancelled, or given up), until the
// queue stops. River only has subscriptions on clients with workers.
func (q *Queue) watchJobs(events <-chan *river.Event, cancel func()) {
	go func() {
		defer cancel()
		for {
			select {
			case <-q.stopped:
				return
			case e, ok := <-events:
				if !ok {
					return
				}
				if e.Job == nil || e.Job.Kind != (RunArgs{}).Kind() {
					continue
				}
				switch e.Job.State {
				case rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded:
					var a RunArgs
					if json.Unmarshal(e.Job.EncodedArgs, &a) == nil {
						q.runEnded(a.ID)
					}
				}
			}
		}
	}()
}

// listenPostgres receives the ended runs of every process on a connection
// of its own, while this process has waiters (it is started by the first
// waiter and stops when none is left or the queue stops).
func (q *Queue) listenPostgres(pool *pgxpool.Pool) {
	q.listenMu.Lock()
	defer q.listenMu.Unlock()
	if q.listening {
		return
	}
	q.listening = true
	ready := make(chan struct{})
	go func() {
		defer func() {
			q.listenMu.Lock()
			q.listening = false
			q.listenMu.Unlock()
		}()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-q.stopped:
			case <-ctx.Done():
			}
			cancel()
		}()
		conn, err := pool.Acquire(ctx)
		if err != nil {
			close(ready)
			return
		}
		defer conn.Release()
		if _, err := conn.Exec(ctx, "LISTEN "+runDoneChannel); err != nil {
			close(ready)
			conn.Conn().Close(context.Background()) // not back into the pool listening
			return
		}
		close(ready)
		for {
			q.listenMu.Lock()
			if q.waiting.count() == 0 {
				q.listening = false
				q.listenMu.Unlock()
				break
			}
			q.listenMu.Unlock()
			wait, stop := context.WithTimeout(ctx, reconcilePostgres)
			n, err := conn.Conn().WaitForNotification(wait)
			stop()
			switch {
			case err == nil:
				q.waiting.notify(n.Payload)
			case ctx.Err() != nil:
				conn.Conn().Close(context.Background())
				return
			case wait.Err() != nil:
				// No notification for a while: look whether anyone waits.
			default:
				conn.Conn().Close(context.Background())
				return // the connection failed; the next waiter listens again
			}
		}
		// Nobody waits: the connection goes back to the pool without LISTEN.
		if _, err := conn.Exec(context.Background(), "UNLISTEN "+runDoneChannel); err != nil {
			conn.Conn().Close(context.Background())
		}
	}()
	// A notification sent before LISTEN took effect would be lost: the
	// waiter looks at the run's state after this returns.
	<-ready
}
