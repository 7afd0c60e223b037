package cli

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/pipeline"
)

// runLogStore is what the catalog stores keep run logs with.
type runLogStore interface {
	AppendRunLogs(ctx context.Context, runID string, lines []rat.RunLogLine) error
	RunLogs(ctx context.Context, runID string, after int64, limit int) ([]rat.RunLogLine, error)
}

// runLogFlush is how often buffered log lines are written: a run of
// thousands of nodes then costs a few writes a second, not one a line.
const runLogFlush = 250 * time.Millisecond

// runLogger returns a progress function that records a run's events as log
// lines in the catalog, and a function that writes what is left and stops.
// next, if set, sees every event too.
func (a *app) runLogger(runID string, next func(pipeline.Event)) (func(pipeline.Event), func()) {
	st, ok := a.Store.(runLogStore)
	if !ok {
		return next, func() {}
	}
	var mu sync.Mutex
	var buf []rat.RunLogLine
	flush := func() {
		mu.Lock()
		lines := buf
		buf = nil
		mu.Unlock()
		if err := st.AppendRunLogs(context.Background(), runID, lines); err != nil {
			slog.Warn("run log lines lost", "run", runID, "lines", len(lines), "err", err)
		}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(runLogFlush)
		defer t.Stop()
		for {
			select {
			case <-stop:
				flush()
				return
			case <-t.C:
				flush()
			}
		}
	}()
	progress := func(e pipeline.Event) {
		if next != nil {
			next(e)
		}
		line, ok := pipeline.EventLine(e, time.Now())
		if !ok {
			return
		}
		mu.Lock()
		line.Seq = pipeline.LogSeq(line.At)
		buf = append(buf, line)
		mu.Unlock()
	}
	return progress, func() { close(stop); <-done }
}
