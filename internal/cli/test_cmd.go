package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newTestCmd(g *globals) *cobra.Command {
	var branch, kind, output string
	cmd := &cobra.Command{
		Use:   "test [SELECTOR...]",
		Short: "Run quality tests on a branch's tables and unit tests on mocks",
		Long: `Run the tests of the selected pipelines (default: all):
  quality  tests/quality/*.sql, column tests and YAML tests[], against the
           tables as they are on the branch
  unit     tests/unit/*.sql: the pipeline's SQL on mock tables (tests/mocks/),
           compared with @expect rows, @expect_count or the file's SELECT
Exit status 5 when an error-severity test fails (see 'rat --help').`,
		Example: `  rat test
  rat test silver.orders --type unit
  rat test layer:gold --output json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if kind != "" && kind != "quality" && kind != "unit" {
				return &usageError{msg: "rat test: --type wants quality or unit"}
			}
			if output != "console" && output != "json" {
				return &usageError{msg: "rat test: --output wants console or json"}
			}
			return g.withApp(cmd, branch, func(ctx context.Context, a *app) error {
				ws, err := a.LoadWorkspaceRefs(ctx, kind == "unit")
				if err != nil {
					return err
				}
				selected, err := ws.Select(args, nil)
				if err != nil {
					return err
				}
				r, err := a.Runner(ctx, ws)
				if err != nil {
					return err
				}
				var results []pipeline.TestResult
				if kind == "" || kind == "unit" {
					results = append(results, r.UnitTests(ctx, selected, filepath.Join(a.Config.StateDir, "tmp"))...)
				}
				if kind == "" || kind == "quality" {
					results = append(results, r.QualityTests(ctx, &sync.Mutex{}, selected, a.Config.Branch, time.Now())...)
				}
				failed, err := printTestResults(cmd.OutOrStdout(), results, output == "json")
				if err != nil {
					return err
				}
				if failed > 0 {
					return rat.Errorf(rat.ETESTFAILED, "%d test(s) failed", failed)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&branch, "branch", "b", "", "branch whose tables the quality tests read (default: the configured branch, main)")
	cmd.Flags().StringVar(&kind, "type", "", "run only quality or only unit tests")
	cmd.Flags().StringVar(&output, "output", "console", "console or json")
	return cmd
}

// printTestResults prints test results (as JSON, or a table and a count)
// and returns how many failed with severity error.
func printTestResults(out io.Writer, results []pipeline.TestResult, asJSON bool) (int, error) {
	failed := 0
	for _, t := range results {
		if t.Status != pipeline.TestPass && t.Severity != "warn" {
			failed++
		}
	}
	if asJSON {
		if results == nil {
			results = []pipeline.TestResult{}
		}
		return failed, textout.JSON(out, results)
	}
	rows := make([][]string, len(results))
	for i, t := range results {
		detail := t.Error
		if t.Violations > 0 && t.Kind != "unit" {
			detail = strconv.FormatInt(t.Violations, 10) + " violating row(s)"
			if len(t.Sample) > 0 {
				detail += ", e.g. " + t.Sample[0]
			}
		}
		rows[i] = []string{t.Pipeline, t.Name, t.Kind, t.Severity, t.Status, detail}
	}
	textout.Table(out, []string{"PIPELINE", "TEST", "KIND", "SEVERITY", "RESULT", "DETAIL"}, rows)
	fmt.Fprintf(out, "%d test(s), %d failing with severity error\n", len(results), failed)
	return failed, nil
}
