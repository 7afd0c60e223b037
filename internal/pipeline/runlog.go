package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/workspace"
)

// RunLog keeps run records; the catalog's SQL stores implement it.
type RunLog interface {
	SaveRun(ctx context.Context, r rat.Run) error
	Runs(ctx context.Context, f rat.RunFilter) ([]rat.Run, error)
	Run(ctx context.Context, id string) (rat.Run, error)
}

// save records a run's current state; a run log that fails does not fail
// the run, the error is kept on the result.
func (r *Runner) save(ctx context.Context, res *Result, trigger string) {
	if r.Runs == nil {
		return
	}
	rec := res.Record()
	rec.Trigger = trigger
	if l := leaseOf(ctx); l != nil {
		rec.Owner, rec.Heartbeat, rec.Lease = l.owner, r.now(), l.lease
	}
	err := r.Runs.SaveRun(context.WithoutCancel(ctx), rec)
	if err != nil && res.Error == "" {
		res.Error = "record run: " + rat.ErrorMessage(err)
	}
}

// ModifiedSince returns the state:modified test for a target branch: a
// pipeline is modified when its files' hash differs from the one the last
// successful run into that branch built (or when no run built it).
func (r *Runner) ModifiedSince(ctx context.Context, target string) (func(*workspace.Pipeline) bool, error) {
	if r.Runs != nil {
		if _, err := r.Runs.Runs(ctx, rat.RunFilter{Limit: 1}); err != nil {
			return nil, err
		}
	}
	built := r.lastHashes(ctx, target)
	return func(p *workspace.Pipeline) bool { return built[p.ID.String()] != p.Hash }, nil
}

// lastHashes returns the pipeline hashes of the last successful run into
// target (empty when there is none).
func (r *Runner) lastHashes(ctx context.Context, target string) map[string]string {
	out := map[string]string{}
	if r.Runs == nil {
		return out
	}
	runs, err := r.Runs.Runs(ctx, rat.RunFilter{Target: target, Status: StatusSuccess, Limit: 1})
	if err != nil || len(runs) == 0 {
		return out
	}
	for k, v := range runs[0].Detail.Hashes {
		out[k] = v
	}
	return out
}

// LogSeq returns the seq of a new log line: the clock's microseconds,
// increasing within the process. Lines of one run come from several
// processes (the workers building its nodes), so seqs order lines by time
// rather than count them.
func LogSeq(now time.Time) int64 {
	seqMu.Lock()
	defer seqMu.Unlock()
	lastSeq = max(now.UnixMicro(), lastSeq+1)
	return lastSeq
}

var (
	seqMu   sync.Mutex
	lastSeq int64
)

// logLookback is how late a line may land after lines with higher seqs:
// a worker flushes its lines every quarter second or so.
const logLookback = int64(10 * time.Second / time.Microsecond)

// LogCursor follows a run's log: it gives each line once, in seq order
// per read, even when a worker's line lands after a later one from another
// worker was read.
type LogCursor struct {
	last int64
	seen map[int64]bool
}

// From is the seq to read after: the last line read, or when polling for
// new lines (again), a window before it.
func (c *LogCursor) From(again bool) int64 {
	if again {
		return max(0, c.last-logLookback)
	}
	return c.last
}

// Fresh returns the lines not given before and remembers them.
func (c *LogCursor) Fresh(lines []rat.RunLogLine) []rat.RunLogLine {
	if c.seen == nil {
		c.seen = map[int64]bool{}
	}
	out := lines[:0:0]
	for _, l := range lines {
		if c.seen[l.Seq] {
			continue
		}
		c.seen[l.Seq] = true
		c.last = max(c.last, l.Seq)
		out = append(out, l)
	}
	for s := range c.seen {
		if s < c.last-2*logLookback {
			delete(c.seen, s)
		}
	}
	return out
}
