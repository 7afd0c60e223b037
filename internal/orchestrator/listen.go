package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
)

// How often the queue looks for work.
//
// SQLite has no LISTEN/NOTIFY: River's SQLite driver writes notifications
// (a job inserted, a job to cancel, a leader resigning) to a table, and its
// listener reads that table every 50 ms — 20 queries a second from every
// idle process, the largest part of an idle rat serve's CPU. The listener
// below reads it often (every listenPollActive) only while there is
// something going on, and about once a second otherwise; this process's own
// inserts and cancels wake it at once.
const (
	// listenIdle is how often an idle listener looks for notifications:
	// the longest a job inserted by another process, a cancel from another
	// process or a leader's resignation waits to be noticed when nothing
	// has happened for listenActive.
	listenIdle = time.Second
	// listenActive is how long after a notification, or after this process
	// inserted or cancelled a job, the listener reads every
	// listenPollActive.
	listenActive = 3 * time.Second
	// listenPoll bounds one look: less than River's 50 ms between two
	// reads, so that one call of its WaitForNotification reads the table
	// once.
	listenPoll = 40 * time.Millisecond
	// listenPollActive bounds one look while the queue is active: a job
	// inserted by another process (rat serve's, for a worker) is noticed
	// within about this long, four times sooner than at River's pace, for
	// a read of the notification table (a compiled statement) every
	// listenPollActive while anything happens.
	listenPollActive = 10 * time.Millisecond
	// listenNudged is how long the listener reads at River's pace after
	// this process's leader inserted a tick, until it has read something.
	listenNudged = 250 * time.Millisecond
)

// sqliteDriver is River's SQLite driver with the adaptive listener.
type sqliteDriver struct {
	*riversqlite.Driver
	wake *waker
}

// GetListener returns River's listener, paced by activity.
func (d *sqliteDriver) GetListener(params *riverdriver.GetListenenerParams) riverdriver.Listener {
	return &pacedListener{Listener: d.Driver.GetListener(params), wake: d.wake}
}

// waker tells this process's listener what the process itself just did.
type waker struct {
	read   chan struct{} // it wrote a notification (a cancel): read now
	insert chan struct{} // it inserted jobs into the default queue
	tick   chan struct{} // River's leader here is inserting a tick
}

func newWaker() *waker {
	return &waker{read: make(chan struct{}, 1), insert: make(chan struct{}, 1), tick: make(chan struct{}, 1)}
}

// Wake has the listener read the notification table now. It is safe to
// call from any goroutine and never blocks.
func (w *waker) Wake() { signal(w.read) }

// Inserted tells the listener that this process inserted jobs into the
// default queue: its workers look for them at once. River rate-limits
// insert notifications (one per queue per FetchCooldown), so the one this
// insert would have written may not exist; River itself does the same for
// its own inserts when it has no listener.
func (w *waker) Inserted() { signal(w.insert) }

// tickInserts tells the listener when River's leader, in this process,
// inserts a scheduler tick, so that its notification is read at once:
// a tick noticed a second late would still wait when the next one is
// due, which River then drops as a duplicate. It runs inside the insert's
// transaction, so the listener reads for up to listenNudged, until the
// notification is committed.
type tickInserts struct {
	river.MiddlewareDefaults
	wake *waker
}

// InsertMany inserts and, for a tick, nudges the listener.
func (m *tickInserts) InsertMany(ctx context.Context, params []*rivertype.JobInsertParams, doInner func(context.Context) ([]*rivertype.JobInsertResult, error)) ([]*rivertype.JobInsertResult, error) {
	res, err := doInner(ctx)
	if err == nil && slices.ContainsFunc(params, func(p *rivertype.JobInsertParams) bool { return p.Queue == SchedulerQueue }) {
		signal(m.wake.tick)
	}
	return res, err
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// insertTopic and the payload below are River's insert notification (its
// internal notifier.NotificationTopicInsert and producer's insertPayload).
const insertTopic = "river_insert"

var ownInsert = &riverdriver.Notification{Topic: insertTopic, Payload: `{"queue":"default"}`}

// pacedListener reads notifications through River's listener, one read at
// a time: at River's pace while something happens, else once a
// listenIdle.
type pacedListener struct {
	riverdriver.Listener
	wake *waker
	// River's notifier calls WaitForNotification from one goroutine at a
	// time, so these need no lock.
	active time.Time // read at River's pace until then
	nudged time.Time // or until then, unless something was read
	next   time.Time // when idle, the next read
}

// WaitForNotification returns the next notification. River's notifier
// calls it in a loop, and cancels ctx to ping the database or to change
// topics.
func (l *pacedListener) WaitForNotification(ctx context.Context) (*riverdriver.Notification, error) {
	for {
		select {
		case <-l.wake.insert:
			l.active = time.Now().Add(listenActive)
			return ownInsert, nil
		default:
		}
		if wait := time.Until(l.next); wait > 0 && time.Now().After(l.active) && time.Now().After(l.nudged) {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-l.wake.insert:
				t.Stop()
				l.active = time.Now().Add(listenActive)
				return ownInsert, nil
			case <-l.wake.read:
				l.active = time.Now().Add(listenActive)
			case <-l.wake.tick:
				l.nudged = time.Now().Add(listenNudged)
			case <-t.C:
			}
			t.Stop()
		}
		look := listenPoll
		if time.Now().Before(l.active) {
			look = listenPollActive
		}
		poll, cancel := context.WithTimeout(ctx, look)
		n, err := l.Listener.WaitForNotification(poll)
		cancel()
		l.next = time.Now().Add(listenIdle - listenPoll)
		switch {
		case err == nil:
			if !schedulerInsert(n) {
				l.active = time.Now().Add(listenActive)
			}
			l.nudged = time.Time{}
			// The next call returns what that read fetched with n, if
			// anything, before waiting.
			l.next = time.Time{}
			return n, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case !errors.Is(err, context.DeadlineExceeded):
			return nil, err
		}
		// Nothing yet, or the read did not finish within listenPoll (it
		// is tried again: a notification stays in its table until read).
	}
}

// schedulerInsert reports whether n only announces a scheduler tick: the
// leader inserts one every second, which is no reason to read faster.
func schedulerInsert(n *riverdriver.Notification) bool {
	if n == nil || n.Topic != insertTopic {
		return false
	}
	var p struct {
		Queue string `json:"queue"`
	}
	return json.Unmarshal([]byte(n.Payload), &p) == nil && p.Queue == SchedulerQueue
}

// fetchPoll is how often a worker looks for jobs nobody announced, and
// how often a scheduler looks for ticks. On SQLite every insert is
// announced through pacedListener, which reads at River's pace while
// anything happens and wakes on this process's own inserts, so polling is
// only a fallback; ticks (one a second) are never rate-limited.
func fetchPoll(cfg Config) (jobs, ticks time.Duration) {
	if cfg.SQLitePath != "" {
		return time.Second, 5 * time.Second
	}
	return 200 * time.Millisecond, 500 * time.Millisecond
}

// tickSchedule is when River's leader enqueues ticks: every interval, or
// when next says.
type tickSchedule struct {
	interval time.Duration
	next     func(time.Time) time.Time
}

// Next returns when the tick after the one due at t is due, never at or
// before t.
func (s tickSchedule) Next(t time.Time) time.Time {
	if s.next == nil {
		return t.Add(s.interval)
	}
	if n := s.next(t); n.After(t) {
		return n
	}
	return t.Add(s.interval)
}
