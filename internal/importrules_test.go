// Package internal_test checks the import rules between rat's packages
// (ARCHITECTURE.md): which package may link which, read from go list -deps.
package internal_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ratdata/rat/"

// TestImportRules: a package listed here never links the packages named
// against it, directly or through another package.
func TestImportRules(t *testing.T) {
	t.Parallel()
	for _, rule := range []struct {
		pkg    string
		forbid []string // import paths, or prefixes ending in "/"
		why    string
	}{
		{"internal/metrics", []string{module + "internal/server", module + "internal/cli", module + "internal/duckdb", "github.com/duckdb/"},
			"serve and worker both register the metrics; the package must not link the HTTP server, the CLI or DuckDB"},
		{"internal/httpauth", []string{module + "internal/server", module + "internal/cli", module + "internal/duckdb", "github.com/duckdb/"},
			"the token rules are shared by the API server and /metrics"},
		{"internal/ui", []string{module + "internal/cli", module + "internal/server"},
			"the UI renders pages; the server mounts it, not the other way round"},
		{"internal/orchestrator", []string{module + "internal/duckdb", "github.com/duckdb/", module + "internal/server", module + "internal/cli", module + "internal/pipeline"},
			"the orchestrator schedules and moves runs; node execution is an interface internal/pipeline implements, so it links neither DuckDB nor the HTTP server nor the CLI"},
		{"internal/server", []string{module + "internal/cli", module + "internal/app"},
			"the CLI builds the server, not the other way round"},
		{"internal/bench", []string{module + "internal/cli"},
			"the cli defines the bench commands and calls into internal/bench, not the other way round"},
		{"internal/app", []string{module + "internal/cli", module + "internal/bench"},
			"the composition root builds what the commands, serve and worker use; the commands depend on it, not it on them"},
	} {
		t.Run(rule.pkg, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command("go", "list", "-deps", "./"+strings.TrimPrefix(rule.pkg, "internal/")).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", rule.pkg, err, out)
			}
			deps := strings.Fields(string(out))
			if !slices.Contains(deps, module+rule.pkg) {
				t.Fatalf("go list -deps %s does not list the package itself:\n%s", rule.pkg, out)
			}
			for _, d := range deps {
				for _, f := range rule.forbid {
					if d == f || strings.HasSuffix(f, "/") && strings.HasPrefix(d, f) || strings.HasPrefix(d, f+"/") {
						t.Errorf("%s links %s: %s", rule.pkg, d, rule.why)
					}
				}
			}
		})
	}
}
