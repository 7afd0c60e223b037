package orchestrator

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ratdata/rat"
)

// LogStore keeps the log lines of runs (the catalog database).
type LogStore interface {
	AppendRunLogs(ctx context.Context, runID string, lines []rat.RunLogLine) error
	RunLogs(ctx context.Context, runID string, after int64, limit int) ([]rat.RunLogLine, error)
}

// LogFlush is how often a run's buffered log lines are written: a run of
// thousands of nodes then costs a few writes a second, not one a line.
const LogFlush = 250 * time.Millisecond

// StartRunLog starts writing a run's log: add buffers a line (safe from
// any goroutine), and stop writes what is left and returns. Lines that
// cannot be written are reported to slog's default logger, not to the run:
// a log that fails does not fail the run.
func StartRunLog(store LogStore, runID string) (add func(rat.RunLogLine), stop func()) {
	var mu sync.Mutex
	var buf []rat.RunLogLine
	flush := func() {
		mu.Lock()
		lines := buf
		buf = nil
		mu.Unlock()
		if err := store.AppendRunLogs(context.Background(), runID, lines); err != nil {
			slog.Warn("run log lines lost", "run", runID, "lines", len(lines), "err", err)
		}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(LogFlush)
		defer t.Stop()
		for {
			select {
			case <-quit:
				flush()
				return
			case <-t.C:
				flush()
			}
		}
	}()
	add = func(l rat.RunLogLine) {
		mu.Lock()
		buf = append(buf, l)
		mu.Unlock()
	}
	return add, func() { close(quit); <-done }
}
