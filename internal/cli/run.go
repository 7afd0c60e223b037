package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/client"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newRunCmd(g *globals) *cobra.Command {
	var branch, server string
	var fullRefresh, dryRun, asJSON, cleanup bool
	var vars []string
	cmd := &cobra.Command{
		Use:   "run [SELECTOR...]",
		Short: "Build the workspace's pipelines, test them and publish them atomically",
		Long: `Run pipelines with write–audit–publish: rat forks a branch run/<id> from the
target branch, builds the selected pipelines there (independent ones in
parallel, up to max_parallel_pipelines), runs their quality, column and custom
tests, and merges every table into the target in one commit only if no
error-severity test failed. Otherwise the target is untouched and the run
branch is kept for inspection ('rat query ... --branch run/<id>').

Selectors (default: every pipeline):
  silver.sales     one pipeline          +silver.sales  it and everything upstream
  silver.sales+    it and downstream     layer:gold     every gold pipeline
  tag:finance      pipelines tagged so   state:modified pipelines whose files changed, and downstream

A failed run exits 5 when error-severity tests failed, else with the status of
the failed pipeline's error: 2 for a mistake in its SQL or files (see 'rat --help').
'rat runs show ID' prints each failure with its file:line and the SQL around it.`,
		Example: `  rat run
  rat run +gold.daily_sales --full-refresh
  rat run layer:silver --branch dev --dry-run`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if server != "" {
				if dryRun || cleanup || len(vars) > 0 {
					return &usageError{msg: "rat run --server: --dry-run, --cleanup and --var work on the local workspace only"}
				}
				return runRemote(cmd, server, args, branch, fullRefresh, asJSON)
			}
			a, err := g.open(ctx, map[string]string{"branch": branch})
			if err != nil {
				return err
			}
			defer a.Close()
			// Runs whose process is gone end first (their branches go too).
			a.ReapRuns(ctx, cmd.ErrOrStderr(), nil)
			if cleanup {
				return a.cleanupRunBranches(cmd)
			}
			runner, err := a.workspaceRunner(cmd, vars)
			if err != nil {
				return err
			}
			var printer func(pipeline.Event)
			if !asJSON {
				printer = progressPrinter(cmd.ErrOrStderr())
			}
			opts := pipeline.Options{Target: a.Config.Branch, Selectors: args, FullRefresh: fullRefresh, DryRun: dryRun}
			if dryRun {
				runner.Progress = printer
			} else {
				opts.ID = pipeline.NewRunID(time.Now())
				progress, closeLog := a.RunLogger(opts.ID, printer)
				defer closeLog()
				runner.Progress = progress
			}
			res, err := runner.Run(ctx, opts)
			if err != nil {
				return err
			}
			return reportRun(cmd.OutOrStdout(), res, asJSON, dryRun)
		},
	}
	cmd.Flags().StringVarP(&branch, "branch", "b", "", "branch to publish into (default: the configured branch, main)")
	cmd.Flags().BoolVar(&fullRefresh, "full-refresh", false, "rebuild incremental tables from scratch and reset their watermarks")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "render the selected pipelines and show the plan; build nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the run result as JSON")
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set var('KEY') for this run, as KEY=VALUE (repeatable; wins over the YAML vars)")
	cmd.Flags().BoolVar(&cleanup, "cleanup", false, "delete the branches kept by failed runs (run/*, ingest/*) instead of running")
	cmd.Flags().StringVar(&server, "server", "", "queue the run on a rat serve (URL; RAT_API_TOKEN is sent as the token) and wait for it")
	return cmd
}

// runRemote starts a run through a rat serve's API and waits for it,
// printing the same summary a local run prints.
func runRemote(cmd *cobra.Command, server string, selectors []string, branch string, fullRefresh, asJSON bool) error {
	ctx := cmd.Context()
	c, err := client.New(server)
	if err != nil {
		return err
	}
	if selectors == nil {
		selectors = []string{}
	}
	var started struct {
		ID string `json:"id"`
	}
	req := map[string]any{"selectors": selectors, "branch": branch, "full_refresh": fullRefresh}
	if err := c.Do(ctx, "POST", "/api/v1/runs", req, &started); err != nil {
		return errRemote(server, err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "run %s queued on %s\n", started.ID, server)
	res, err := c.WaitRun(ctx, started.ID, 500*time.Millisecond, func(status string) {
		if !asJSON && status != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "run %s: %s\n", started.ID, status)
		}
	})
	if err != nil {
		return errRemote(server, err)
	}
	if res.Status == pipeline.StatusSkipped {
		return rat.Errorf(rat.ECONFLICT, "run %s was skipped: %s", res.ID, res.Error)
	}
	return reportRun(cmd.OutOrStdout(), res, asJSON, false)
}

// reportRun prints a run's result (as JSON, or its summary) and returns
// its failure.
func reportRun(out io.Writer, res *pipeline.Result, asJSON, dryRun bool) error {
	if asJSON {
		if err := textout.JSON(out, res); err != nil {
			return err
		}
	} else {
		printRunSummary(out, res, dryRun)
	}
	if res.Status == pipeline.StatusFailed {
		return res.Failure()
	}
	return nil
}

// workspaceRunner loads the workspace, warns of what it noticed in it and
// returns its runner, with the --var values.
func (a *app) workspaceRunner(cmd *cobra.Command, vars []string) (*pipeline.Runner, error) {
	ws, err := a.LoadWorkspace(cmd.Context())
	if err != nil {
		return nil, err
	}
	for _, w := range ws.Warnings() {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+w.String())
	}
	runner, err := a.Runner(cmd.Context(), ws)
	if err != nil {
		return nil, err
	}
	if runner.Vars, err = parseVars(vars); err != nil {
		return nil, err
	}
	return runner, nil
}

// parseVars reads --var KEY=VALUE flags.
func parseVars(list []string) (map[string]any, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(list))
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, &usageError{msg: fmt.Sprintf("rat run: --var %q: want KEY=VALUE", kv)}
		}
		out[k] = v
	}
	return out, nil
}

// cleanupRunBranches deletes the run/ and ingest/ branches that failed
// runs left for inspection; branches of runs still running stay. Only
// branches rat made are deleted (the catalog marks them): a user's branch
// that carries such a name from before the names were reserved stays.
func (a *app) cleanupRunBranches(cmd *cobra.Command) error {
	ctx := cmd.Context()
	refs, err := a.Store.Refs(ctx)
	if err != nil {
		return err
	}
	rl := a.Store
	out := cmd.OutOrStdout()
	n := 0
	for _, r := range refs {
		if r.Kind != rat.Branch || !rat.ReservedRefName(r.Name) {
			continue
		}
		if !r.Internal {
			fmt.Fprintf(out, "kept %s: rat did not create it (delete it with 'rat branch delete %s')\n", r.Name, r.Name)
			continue
		}
		id, isRun := strings.CutPrefix(r.Name, rat.RunBranchPrefix)
		if isRun {
			if rec, err := rl.Run(ctx, id); err == nil && rec.Status == pipeline.StatusRunning {
				fmt.Fprintf(out, "kept %s: the run is still running\n", r.Name)
				continue
			}
		}
		if err := a.Store.DeleteRef(ctx, r.Name); err != nil {
			return err
		}
		fmt.Fprintf(out, "deleted %s\n", r.Name)
		n++
	}
	fmt.Fprintf(out, "deleted %s\n", textout.Plural(int64(n), "run branch"))
	return nil
}

// progressPrinter prints one line per finished node and test.
func progressPrinter(w io.Writer) func(pipeline.Event) {
	return func(e pipeline.Event) {
		switch e.Kind {
		case "node_started":
			fmt.Fprintf(w, "  ▶ %s\n", e.Pipeline)
		case "node_finished":
			n := e.Node
			switch n.Status {
			case pipeline.StatusSuccess:
				fmt.Fprintf(w, "  ✓ %-30s %-22s %15s  %s\n", n.Pipeline, n.Kind, nodeRows(*n, " rows"), rat.Duration(time.Duration(n.Duration)))
			case pipeline.StatusSkipped:
				fmt.Fprintf(w, "  - %-30s skipped: %s\n", n.Pipeline, n.Error)
			default:
				fmt.Fprintf(w, "  ✗ %-30s %s\n", n.Pipeline, n.Error)
			}
		case "tests_started":
			fmt.Fprintln(w, "  testing …")
		case "test_finished":
			t := e.Test
			if t.Status != pipeline.TestPass {
				fmt.Fprintf(w, "  ✗ test %s %s (%s, %s): %d violation(s) %s\n", t.Pipeline, t.Name, t.Kind, t.Severity, t.Violations, t.Error)
			}
		case "publishing":
			fmt.Fprintln(w, "  publishing …")
		}
	}
}

func printRunSummary(out io.Writer, res *pipeline.Result, dryRun bool) {
	if dryRun {
		for _, n := range res.Nodes {
			fmt.Fprintf(out, "-- %s (%s)\n", n.Pipeline, n.Kind)
			if n.Error != "" {
				fmt.Fprintf(out, "-- error: %s\n", n.Error)
			}
			fmt.Fprintln(out, strings.TrimSpace(n.SQL))
			fmt.Fprintln(out)
		}
		fmt.Fprintf(out, "dry run: %s would be built into %s; nothing was written\n", textout.Plural(int64(len(res.Nodes)), "pipeline"), res.Target)
		return
	}
	rows := make([][]string, len(res.Nodes))
	for i, n := range res.Nodes {
		rows[i] = []string{n.Pipeline, string(n.Status), n.Kind, nodeRows(n, ""), rat.Duration(time.Duration(n.Duration))}
	}
	textout.Table(out, []string{"PIPELINE", "STATUS", "KIND", "ROWS", "TIME"}, rows)
	pass, fail, warn := 0, 0, 0
	for _, t := range res.Tests {
		switch {
		case t.Status == pipeline.TestPass:
			pass++
		case t.Severity == "warn":
			warn++
		default:
			fail++
		}
	}
	fmt.Fprintf(out, "tests: %d ok, %d failing, %d warning\n", pass, fail, warn)
	if res.Status == pipeline.StatusSuccess {
		fmt.Fprintf(out, "run %s succeeded in %s: published to %s at %s\n", res.ID, rat.Duration(time.Duration(res.Duration)), res.Target, rat.ShortID(res.Commit))
	} else if res.Error != "" {
		fmt.Fprintf(out, "run %s: %s\n", res.ID, res.Error)
	}
}
