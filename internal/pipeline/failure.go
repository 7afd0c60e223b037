package pipeline

import (
	"fmt"

	"github.com/ratdata/rat"
)

// Failure is the one error line of a run that did not succeed: its first
// failure, with its location, and where to look. Its code is the failed
// pipeline's (a SQL mistake is bad input), ETESTFAILED when only tests
// failed.
func (r *Result) Failure() error {
	cause, code := r.Error, rat.EINTERNAL
	for _, n := range r.Nodes {
		if n.Status == StatusFailed && cause == "" {
			cause = n.Error
			if n.Code != "" {
				code = n.Code
			}
		}
	}
	if cause == "" {
		for _, t := range r.Tests {
			if t.Status != TestPass && t.Severity != "warn" {
				cause, code = fmt.Sprintf("test %s of %s failed (%d violating rows)", t.Name, t.Pipeline, t.Violations), rat.ETESTFAILED
				if t.Error != "" {
					cause = fmt.Sprintf("test %s of %s: %s", t.Name, t.Pipeline, t.Error)
				}
				break
			}
		}
	}
	return rat.Errorf(code, "run %s failed: %s; %s was not changed; inspect the run branch %s", r.ID, cause, r.Target, r.RunBranch)
}
