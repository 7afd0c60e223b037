package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

// A run that a process executes in itself (Runner.Run: rat run, rat demo)
// has that process as its owner. The owner writes a heartbeat into the
// run's record every lease/6 and reads there whether a cancel was
// requested. When the owner has written no heartbeat for its lease (it was
// killed, or its machine died), whichever rat process looks next ends the
// run as failed (owner lost) and removes its run branch; the target was
// never touched. Queued runs have no owner in their record: the queue's
// nodes have owners and heartbeats of their own (internal/orchestrator).

// DefaultLease is how long a run's owner may go without a heartbeat.
const DefaultLease = 30 * time.Second

// RunStore keeps run records and the leases of their owners; the
// catalog's SQL stores implement it.
type RunStore interface {
	RunLog
	RunLeases
}

// RunLeases keeps the owners of runs; the catalog's SQL stores implement it.
type RunLeases interface {
	// HeartbeatRun records that the owner is alive and reports whether a
	// cancel was requested; ECONFLICT when the run is no longer its own.
	HeartbeatRun(ctx context.Context, id, owner string, at time.Time) (cancel bool, err error)
	// RequestRunCancel asks a running run's owner to stop; false when the
	// run has no owner or is not running.
	RequestRunCancel(ctx context.Context, id string) (bool, error)
	// StaleRuns lists the running runs whose owner wrote no heartbeat for
	// its lease.
	StaleRuns(ctx context.Context, now time.Time) ([]rat.Run, error)
	UpdateRun(ctx context.Context, id string, fn func(*rat.Run) error) error
}

// NewOwner names this process as an owner of runs: host-pid-random.
func NewOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// OwnerGone reports whether an owner is known to be gone already: a
// process of this host that no longer exists. An owner on another host,
// or one whose process still exists, is judged by its heartbeats only.
func OwnerGone(owner string) bool {
	rest, _, ok := cutLast(owner, "-")
	if !ok {
		return false
	}
	host, pidText, ok := cutLast(rest, "-")
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(pidText)
	if me, _ := os.Hostname(); err != nil || pid <= 0 || host != me {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return errors.Is(err, os.ErrProcessDone)
	}
	err = p.Signal(syscall.Signal(0))
	return errors.Is(err, os.ErrProcessDone) || errors.Is(err, syscall.ESRCH)
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// runLease is what a Runner keeps of a run it owns, in the context of
// the run (Run puts it there).
type runLease struct {
	owner string
	lease time.Duration
}

type leaseKey struct{}

// leaseOf returns the lease of the run ctx belongs to, nil for a run this
// process does not own.
func leaseOf(ctx context.Context) *runLease {
	l, _ := ctx.Value(leaseKey{}).(*runLease)
	return l
}

var (
	errCancelRequested = errors.New("cancelled with 'rat runs cancel'")
	errOwnerLost       = errors.New("another process ended the run after this one missed its heartbeats (owner lost)")
)

// leases returns the run store as RunLeases when the runner owns its runs.
func (r *Runner) leases() RunLeases {
	if r.Owner == "" || r.Runs == nil {
		return nil
	}
	return r.Runs
}

func (r *Runner) lease() time.Duration {
	if r.Lease > 0 {
		return r.Lease
	}
	return DefaultLease
}

// keepLease writes the owner's heartbeat until release is called. The
// returned context ends when a cancel was requested or the run was taken
// from this owner; context.Cause tells which.
func (r *Runner) keepLease(ctx context.Context, res *Result) (context.Context, func()) {
	if r.leases() == nil || leaseOf(ctx) == nil {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := rat.Heartbeat(ctx, max(r.lease()/6, 10*time.Millisecond), func() bool {
		if err := r.heartbeat(ctx, res); err != nil && (errors.Is(err, errCancelRequested) || errors.Is(err, errOwnerLost)) {
			cancel(err)
			return false
		}
		// Another error (the database is busy or away) is tried again at
		// the next tick; the lease leaves room for a few misses.
		return true
	})
	return ctx, func() { stop(); cancel(nil) }
}

// heartbeat writes one heartbeat of a run this runner owns; it returns
// errCancelRequested or errOwnerLost when the run must stop.
func (r *Runner) heartbeat(ctx context.Context, res *Result) error {
	leases, l := r.leases(), leaseOf(ctx)
	if leases == nil || l == nil {
		return nil
	}
	cancel, err := leases.HeartbeatRun(context.WithoutCancel(ctx), res.ID, l.owner, r.now())
	switch {
	case rat.IsCode(err, rat.ECONFLICT):
		return errOwnerLost
	case err != nil:
		return err
	case cancel:
		return errCancelRequested
	}
	return nil
}

// ReapRuns ends the runs whose owner has written no heartbeat for its
// lease at now: each is recorded as failed (owner lost) and its run branch
// removed; the target was never touched. A run whose owner stopped after
// publishing is recorded as the success it was (its branch goes too). It returns the runs it
// ended, as recorded.
func ReapRuns(ctx context.Context, store catalog.Store, leases RunLeases, now time.Time) ([]*Result, error) {
	stale, err := leases.StaleRuns(ctx, now)
	if err != nil || len(stale) == 0 {
		return nil, err
	}
	var out []*Result
	for _, rec := range stale {
		reason := fmt.Sprintf("owner lost: its process %s wrote no heartbeat since %s (lease %s)",
			rec.Owner, rec.Heartbeat.Format(time.RFC3339), rat.Duration(rec.Lease))
		res, err := EndOwnerLost(ctx, store, leases, rec.ID, reason, now, false)
		if err != nil {
			return out, err
		}
		if res != nil {
			out = append(out, res)
		}
	}
	return out, nil
}

// EndOwnerLost ends a running run whose owner is gone, for reason: its
// record says failed (or success, when it had published) and its run
// branch is removed. Unless force (the
// caller knows the owner is gone), the run must still be stale at now. It
// returns nil when the run was not ended (it ended or its owner came back
// meanwhile).
func EndOwnerLost(ctx context.Context, store catalog.Store, leases RunLeases, id, reason string, now time.Time, force bool) (*Result, error) {
	ctx = context.WithoutCancel(ctx)
	var res *Result
	err := leases.UpdateRun(ctx, id, func(rec *rat.Run) error {
		res = nil
		if rec.Status != StatusRunning || rec.Owner == "" || (!force && !rec.Heartbeat.Add(rec.Lease).Before(now)) {
			return nil
		}
		r := rec.Detail
		r.Status, r.Error = StatusFailed, reason
		if c := publishedBy(ctx, store, &r); c != "" {
			// The target holds the run's commits: the owner stopped after
			// publishing, before recording it.
			r.Status, r.Commit = StatusSuccess, c
			r.Error = fmt.Sprintf("%s; it had published: %s (at %s) holds its commits", reason, r.Target, rat.ShortID(c))
		} else {
			r.Error = fmt.Sprintf("%s; the run branch %s was removed and %s was not changed", reason, r.RunBranch, r.Target)
		}
		r.Duration = Duration(now.Sub(r.Started))
		rec.Status, rec.Finished, rec.Detail = r.Status, now.UTC(), r
		res = &r
		return nil
	})
	if err != nil || res == nil {
		return nil, err
	}
	if res.RunBranch != "" {
		if err := store.DeleteRef(ctx, res.RunBranch); err != nil && !rat.IsCode(err, rat.ENOTFOUND) {
			return res, fmt.Errorf("remove the run branch of run %s: %w", id, err)
		}
	}
	return res, nil
}

// publishedBy returns the target's head when it holds the run's commits
// (the owner stopped after merging, before recording the run); "". The
// owner records a publish before it deletes the run branch, so a run still
// recorded as running that published has its run branch.
func publishedBy(ctx context.Context, store catalog.Store, res *Result) string {
	if res.RunBranch == "" || res.Base == "" {
		return ""
	}
	branch, err := store.Ref(ctx, res.RunBranch)
	if err != nil || branch.Head == res.Base {
		return "" // gone, or nothing built on it
	}
	target, err := store.Ref(ctx, res.Target)
	if err != nil {
		return ""
	}
	if base, err := store.MergeBase(ctx, target.Head, branch.Head); err != nil || base != branch.Head {
		return ""
	}
	return target.Head
}
