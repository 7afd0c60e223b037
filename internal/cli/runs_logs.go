package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/client"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/spf13/cobra"
)

func newRunsLogsCmd(g *globals) *cobra.Command {
	var server string
	var follow, asJSON bool
	cmd := &cobra.Command{
		Use:   "logs RUN_ID",
		Short: "Print a run's log: nodes started and built, tests, the publish",
		Long: `Print the log lines a run recorded, one per line: time, level, pipeline, message.
With --follow, keep printing new lines until the run has finished (with
--server, from a rat serve's GET /api/v1/runs/{id}/logs?follow=true).`,
		Example: `  rat runs logs 20260101-060000-ab12
  rat runs logs 20260101-060000-ab12 --follow --server http://127.0.0.1:3030`,
		Args: exactArgs(1, "a run id (see 'rat runs list')"),
		RunE: func(cmd *cobra.Command, args []string) error {
			print := logLinePrinter(cmd.OutOrStdout(), asJSON)
			if server != "" {
				c, err := client.New(server)
				if err != nil {
					return err
				}
				if err := c.RunLogs(cmd.Context(), args[0], follow, print); err != nil {
					return errRemote(server, err)
				}
				return nil
			}
			return localRunLogs(cmd, g, args[0], follow, print)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines until the run has finished")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each line as JSON")
	cmd.Flags().StringVar(&server, "server", "", "read the log from a rat serve (URL) instead of the local catalog")
	return cmd
}

// logLinePrinter prints a run's log lines: time, level, pipeline, message,
// or each as JSON.
func logLinePrinter(out io.Writer, asJSON bool) func(rat.RunLogLine) {
	return func(l rat.RunLogLine) {
		if asJSON {
			b, _ := json.Marshal(l)
			fmt.Fprintln(out, string(b))
			return
		}
		p := l.Pipeline
		if p == "" {
			p = "-"
		}
		fmt.Fprintf(out, "%s  %-5s  %-28s  %s\n", l.At.Format("15:04:05.000"), l.Level, p, l.Message)
	}
}

// localRunLogs prints a run's log from the local catalog; with follow, it
// polls for new lines until the run has finished.
func localRunLogs(cmd *cobra.Command, g *globals, id string, follow bool, print func(rat.RunLogLine)) error {
	a, err := openRunLog(cmd, g)
	if err != nil {
		return err
	}
	defer a.Close()
	st := a.Store
	var cur pipeline.LogCursor
	for again := false; ; again = true {
		run, err := st.Run(cmd.Context(), id)
		if err != nil {
			return err
		}
		lines, err := st.RunLogs(cmd.Context(), id, cur.From(again), 0)
		if err != nil {
			return err
		}
		lines = cur.Fresh(lines)
		for _, l := range lines {
			print(l)
		}
		if !follow || (!run.Finished.IsZero() && len(lines) == 0) {
			return nil
		}
		select {
		case <-cmd.Context().Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}
