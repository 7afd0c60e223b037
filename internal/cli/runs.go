package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/client"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newRunsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "runs",
		Short:   "List, show, follow the logs of and cancel pipeline runs",
		Example: "  rat runs list --status failed\n  rat runs show 20260101-060000-ab12",
	}
	cancel := newRunsCancelCmd(g)
	cancel.Example = "  rat runs cancel 20260101-060000-ab12 --server http://127.0.0.1:3030"
	cmd.AddCommand(newRunsListCmd(g), newRunsShowCmd(g), cancel, newRunsLogsCmd(g))
	return cmd
}

func newRunsListCmd(g *globals) *cobra.Command {
	var status, target, server string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List runs, newest first",
		Example: "  rat runs list\n  rat runs list --status failed --target main -n 5\n  rat runs list --server http://127.0.0.1:3030 --json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			filter := rat.RunFilter{Target: target, Status: rat.RunStatus(status), Limit: limit}
			var runs []rat.Run
			err := withRuns(cmd, g, server, func(rr runReader) (err error) {
				runs, err = rr.Runs(cmd.Context(), filter)
				return err
			})
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]rat.RunDetail, len(runs))
				for i, r := range runs {
					out[i] = r.Detail
				}
				return textout.JSON(cmd.OutOrStdout(), out)
			}
			printRunList(cmd, runs)
			return nil
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only runs with this status (running, success, failed)")
	cmd.Flags().StringVar(&target, "target", "", "only runs into this branch")
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "at most this many runs")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&server, "server", "", "ask a rat serve (URL; RAT_API_TOKEN is sent as the token) instead of the local catalog")
	return cmd
}

// printRunList prints runs as a table, one line each.
func printRunList(cmd *cobra.Command, runs []rat.Run) {
	rows := make([][]string, len(runs))
	for i, r := range runs {
		took := ""
		if !r.Finished.IsZero() {
			took = rat.Duration(r.Finished.Sub(r.Started))
		}
		trigger := r.Trigger
		if m := r.Detail.Maintenance; m != nil {
			trigger += " " + m.Task
		}
		rows[i] = []string{r.ID, string(r.Status), r.Target, trigger, fmt.Sprint(len(r.Detail.Nodes)), r.Started.Format("2006-01-02 15:04:05"), took}
	}
	textout.Table(cmd.OutOrStdout(), []string{"RUN", "STATUS", "TARGET", "TRIGGER", "NODES", "STARTED (UTC)", "TOOK"}, rows)
}

func newRunsShowCmd(g *globals) *cobra.Command {
	var server string
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "show RUN_ID",
		Short:   "Show one run: its nodes and tests",
		Example: "  rat runs show 20260101-060000-ab12\n  rat runs show 20260101-060000-ab12 --json",
		Args:    exactArgs(1, "a run id (see 'rat runs list')"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rec rat.Run
			err := withRuns(cmd, g, server, func(rr runReader) (err error) {
				rec, err = rr.Run(cmd.Context(), args[0])
				return err
			})
			if err != nil {
				return err
			}
			if asJSON {
				b, err := rat.MarshalDetail(rec.Detail)
				if err == nil {
					_, err = cmd.OutOrStdout().Write(append(b, '\n'))
				}
				return err
			}
			return printRun(cmd, rec)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&server, "server", "", "ask a rat serve (URL) instead of the local catalog")
	return cmd
}

// printRun prints one run: its summary, each failure with the SQL around
// it, and the failed tests.
func printRun(cmd *cobra.Command, rec rat.Run) error {
	out := cmd.OutOrStdout()
	res := rec.Detail
	into := "into " + rec.Target
	if m := res.Maintenance; m != nil {
		into = "of maintenance task " + m.Task // no target: it spans every branch
	}
	fmt.Fprintf(out, "run %s %s: %s (trigger %s, started %s, took %s)\n", rec.ID, into, rec.Status, rec.Trigger,
		rec.Started.Format(time.RFC3339), rat.Duration(time.Duration(res.Duration)))
	if res.Error != "" {
		fmt.Fprintln(out, "error: "+res.Error)
	}
	if m := res.Maintenance; m != nil {
		fmt.Fprintf(out, "maintenance task %s", m.Task)
		if m.Summary != "" {
			fmt.Fprintf(out, ": %s", m.Summary)
		}
		fmt.Fprintln(out)
		return nil
	}
	printRunSummary(out, &res, false)
	printNodeFailures(out, &res)
	for _, t := range res.Tests {
		if t.Status != pipeline.TestPass {
			fmt.Fprintf(out, "✗ %s %s (%s): %s %s\n", t.Pipeline, t.Name, t.Severity, t.Error, strings.Join(t.Sample, "; "))
		}
	}
	return nil
}

// runReader reads runs: the local catalog's run log or a rat serve's API.
type runReader interface {
	Runs(ctx context.Context, f rat.RunFilter) ([]rat.Run, error)
	Run(ctx context.Context, id string) (rat.Run, error)
}

// withRuns calls fn with the runs of the rat serve at server (its errors
// then name the server) or, without a server, of the local catalog.
func withRuns(cmd *cobra.Command, g *globals, server string, fn func(runReader) error) error {
	if server == "" {
		a, err := openRunLog(cmd, g)
		if err != nil {
			return err
		}
		defer a.Close()
		return fn(a.Store)
	}
	c, err := client.New(server)
	if err == nil {
		err = fn(c)
	}
	if err != nil {
		return errRemote(server, err)
	}
	return nil
}

// openRunLog opens the app to read the local run log. Runs whose process
// is gone show as what they are: failed.
func openRunLog(cmd *cobra.Command, g *globals) (*app, error) {
	a, err := g.open(cmd.Context(), nil)
	if err != nil {
		return nil, err
	}
	a.ReapRuns(cmd.Context(), cmd.ErrOrStderr(), nil)
	return a, nil
}
