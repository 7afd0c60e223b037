package cli

import (
	"time"

	"github.com/ratdata/rat/internal/orchestrator"
	"github.com/ratdata/rat/internal/pipeline"
)

// runLogger returns a progress function that records a run's events as log
// lines in the catalog (orchestrator.StartRunLog), and a function that
// writes what is left and stops. next, if set, sees every event too.
func (a *app) runLogger(runID string, next func(pipeline.Event)) (func(pipeline.Event), func()) {
	add, stop := orchestrator.StartRunLog(a.Store, runID)
	progress := func(e pipeline.Event) {
		if next != nil {
			next(e)
		}
		line, ok := pipeline.EventLine(e, time.Now())
		if !ok {
			return
		}
		line.Seq = pipeline.LogSeq(line.At)
		add(line)
	}
	return progress, stop
}
