package pipeline

import (
	"testing"

	"github.com/ratdata/rat"
)

func TestResultFailure(t *testing.T) {
	for _, c := range []struct {
		name string
		res  Result
		code string
		want string
	}{
		{"node error keeps its code", Result{ID: "r1", Target: "main", RunBranch: "run/r1", Status: StatusFailed, Nodes: []NodeResult{
			{Pipeline: "bronze.a", Status: StatusSuccess},
			{Pipeline: "silver.b", Status: StatusFailed, Error: "silver/b.sql:3: no such column x", Code: rat.EINVALID},
			{Pipeline: "gold.c", Status: StatusFailed, Error: "later"},
		}}, rat.EINVALID, "run r1 failed: silver/b.sql:3: no such column x; main was not changed; inspect the run branch run/r1"},
		{"node error without a code is internal", Result{ID: "r2", Target: "dev", RunBranch: "run/r2", Nodes: []NodeResult{
			{Pipeline: "silver.b", Status: StatusFailed, Error: "disk full"},
		}}, rat.EINTERNAL, "run r2 failed: disk full; dev was not changed"},
		{"run error first", Result{ID: "r3", Target: "main", RunBranch: "run/r3", Error: "publish: conflict", Nodes: []NodeResult{
			{Pipeline: "silver.b", Status: StatusFailed, Error: "x", Code: rat.EINVALID},
		}}, rat.EINTERNAL, "run r3 failed: publish: conflict;"},
		{"failed test", Result{ID: "r4", Target: "main", RunBranch: "run/r4", Tests: []TestResult{
			{Name: "warned", Pipeline: "silver.b", Status: "fail", Severity: "warn", Violations: 1},
			{Name: "not_null_id", Pipeline: "silver.b", Status: "fail", Severity: "error", Violations: 7},
		}}, rat.ETESTFAILED, "run r4 failed: test not_null_id of silver.b failed (7 violating rows)"},
		{"test that could not run", Result{ID: "r5", Target: "main", RunBranch: "run/r5", Tests: []TestResult{
			{Name: "custom", Pipeline: "gold.c", Status: "error", Severity: "error", Error: "no such table"},
		}}, rat.ETESTFAILED, "run r5 failed: test custom of gold.c: no such table"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.res.Failure()
			if !rat.IsCode(err, c.code) {
				t.Errorf("code of %v = %s, want %s", err, rat.ErrorCode(err), c.code)
			}
			if got := err.Error(); len(got) < len(c.want) || got[:len(c.want)] != c.want {
				t.Errorf("Failure() = %q, want it to start with %q", got, c.want)
			}
		})
	}
}
