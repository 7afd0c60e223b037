package pipeline

import (
	"fmt"
	"time"

	"github.com/ratdata/rat"
)

// EventLine turns a progress event into a run log line (without its Seq);
// ok is false for events that are not worth a line.
func EventLine(e Event, at time.Time) (line rat.RunLogLine, ok bool) {
	l := rat.RunLogLine{At: at.UTC(), Level: "info", Pipeline: e.Pipeline}
	switch e.Kind {
	case "node_started":
		l.Message = "build started"
	case "node_finished":
		n := e.Node
		switch n.Status {
		case StatusSuccess:
			l.Message = fmt.Sprintf("built (%s): %d rows, %d files, %s", n.Kind, n.Rows, n.Files, rat.Duration(time.Duration(n.Duration)))
			if n.IsView() {
				l.Message = fmt.Sprintf("built (view), %s", rat.Duration(time.Duration(n.Duration)))
			}
			if n.Attempts > 1 {
				l.Message += fmt.Sprintf(", after %d attempts", n.Attempts)
			}
		case StatusSkipped:
			l.Level, l.Message = "warn", "skipped: "+n.Error
		default:
			l.Level, l.Message = "error", "failed: "+n.Error
			if n.Attempts > 1 {
				l.Message += fmt.Sprintf(" (after %d attempts)", n.Attempts)
			}
		}
	case "tests_started":
		l.Message = "running tests"
	case "test_finished":
		t := e.Test
		l.Pipeline = t.Pipeline
		switch {
		case t.Status == TestPass:
			l.Message = fmt.Sprintf("test %s passed", t.Name)
		case t.Error != "":
			l.Level, l.Message = "error", fmt.Sprintf("test %s (%s): %s", t.Name, t.Severity, t.Error)
		default:
			l.Level, l.Message = "error", fmt.Sprintf("test %s (%s) failed: %d violating rows", t.Name, t.Severity, t.Violations)
			if t.Severity == "warn" {
				l.Level = "warn"
			}
		}
	case "publishing":
		l.Message = "publishing"
	case "run_finished":
		r := e.Result
		l.Message = fmt.Sprintf("run %s in %s", r.Status, rat.Duration(time.Duration(r.Duration)))
		if r.Status == StatusSuccess && r.Commit != "" {
			l.Message += fmt.Sprintf(": published to %s at %s", r.Target, r.Commit)
		} else if r.Status == StatusFailed {
			l.Level = "error"
			l.Message += fmt.Sprintf(": %s was not changed; the run branch %s is kept", r.Target, r.RunBranch)
			if r.Error != "" {
				l.Message += "; " + r.Error
			}
		}
	default:
		return l, false
	}
	return l, true
}
