package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/spf13/cobra"
)

func newRunsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List and show recorded pipeline runs",
	}
	var status, target string
	var limit int
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, rl, err := openRunLog(cmd, g)
			if err != nil {
				return err
			}
			defer a.Close()
			runs, err := rl.Runs(cmd.Context(), rat.RunFilter{Target: target, Status: status, Limit: limit})
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]json.RawMessage, len(runs))
				for i, r := range runs {
					out[i] = r.Detail
				}
				return printJSON(cmd.OutOrStdout(), out)
			}
			rows := make([][]string, len(runs))
			for i, r := range runs {
				var res pipeline.Result
				_ = json.Unmarshal(r.Detail, &res)
				took := ""
				if !r.Finished.IsZero() {
					took = rat.Duration(r.Finished.Sub(r.Started))
				}
				rows[i] = []string{r.ID, r.Status, r.Target, r.Trigger, fmt.Sprint(len(res.Nodes)), r.Started.Format("2006-01-02 15:04:05"), took}
			}
			printTable(cmd.OutOrStdout(), []string{"RUN", "STATUS", "TARGET", "TRIGGER", "NODES", "STARTED (UTC)", "TOOK"}, rows)
			return nil
		},
	}
	list.Flags().StringVar(&status, "status", "", "only runs with this status (running, success, failed)")
	list.Flags().StringVar(&target, "target", "", "only runs into this branch")
	list.Flags().IntVarP(&limit, "limit", "n", 20, "at most this many runs")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	show := &cobra.Command{
		Use:   "show RUN_ID",
		Short: "Show one run: its nodes and tests",
		Args:  exactArgs(1, "a run id (see 'rat runs list')"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, rl, err := openRunLog(cmd, g)
			if err != nil {
				return err
			}
			defer a.Close()
			rec, err := rl.Run(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				_, err := out.Write(append(rec.Detail, '\n'))
				return err
			}
			var res pipeline.Result
			if err := json.Unmarshal(rec.Detail, &res); err != nil {
				return fmt.Errorf("read run %s: %w", rec.ID, err)
			}
			fmt.Fprintf(out, "run %s into %s: %s (trigger %s, started %s, took %s)\n", rec.ID, rec.Target, rec.Status, rec.Trigger,
				rec.Started.Format(time.RFC3339), rat.Duration(time.Duration(res.Duration)))
			if res.Error != "" {
				fmt.Fprintln(out, "error: "+res.Error)
			}
			printRunSummary(out, &res, false)
			for _, t := range res.Tests {
				if t.Status != pipeline.TestPass {
					fmt.Fprintf(out, "✗ %s %s (%s): %s %s\n", t.Pipeline, t.Name, t.Severity, t.Error, strings.Join(t.Sample, "; "))
				}
			}
			return nil
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(list, show)
	return cmd
}

func openRunLog(cmd *cobra.Command, g *globals) (*app, pipeline.RunLog, error) {
	a, err := g.open(cmd.Context(), nil)
	if err != nil {
		return nil, nil, err
	}
	rl, ok := a.store.(pipeline.RunLog)
	if !ok {
		a.Close()
		return nil, nil, rat.Errorf(rat.EINTERNAL, "this catalog keeps no run records")
	}
	return a, rl, nil
}
