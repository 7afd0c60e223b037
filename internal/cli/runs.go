package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
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
		Use:   "runs",
		Short: "List, show, follow the logs of and cancel pipeline runs",
	}
	var status, target, server string
	var limit int
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var runs []rat.Run
			if server != "" {
				var err error
				if runs, err = remoteRuns(cmd.Context(), server, target, status, limit); err != nil {
					return errRemote(server, err)
				}
			} else {
				a, rl, err := openRunLog(cmd, g)
				if err != nil {
					return err
				}
				defer a.Close()
				if runs, err = rl.Runs(cmd.Context(), rat.RunFilter{Target: target, Status: status, Limit: limit}); err != nil {
					return err
				}
			}
			if asJSON {
				out := make([]json.RawMessage, len(runs))
				for i, r := range runs {
					out[i] = r.Detail
				}
				return textout.JSON(cmd.OutOrStdout(), out)
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
			textout.Table(cmd.OutOrStdout(), []string{"RUN", "STATUS", "TARGET", "TRIGGER", "NODES", "STARTED (UTC)", "TOOK"}, rows)
			return nil
		},
	}
	list.Flags().StringVar(&status, "status", "", "only runs with this status (running, success, failed)")
	list.Flags().StringVar(&target, "target", "", "only runs into this branch")
	list.Flags().IntVarP(&limit, "limit", "n", 20, "at most this many runs")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	list.Flags().StringVar(&server, "server", "", "ask a rat serve (URL; RAT_API_TOKEN is sent as the token) instead of the local catalog")
	show := &cobra.Command{
		Use:   "show RUN_ID",
		Short: "Show one run: its nodes and tests",
		Args:  exactArgs(1, "a run id (see 'rat runs list')"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rec rat.Run
			if server != "" {
				c, err := client.New(server)
				if err != nil {
					return err
				}
				var raw json.RawMessage
				if err := c.Do(cmd.Context(), "GET", "/api/v1/runs/"+url.PathEscape(args[0]), nil, &raw); err != nil {
					return errRemote(server, err)
				}
				rec = recordOf(raw)
			} else {
				a, rl, err := openRunLog(cmd, g)
				if err != nil {
					return err
				}
				defer a.Close()
				if rec, err = rl.Run(cmd.Context(), args[0]); err != nil {
					return err
				}
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
			printNodeFailures(out, &res)
			for _, t := range res.Tests {
				if t.Status != pipeline.TestPass {
					fmt.Fprintf(out, "✗ %s %s (%s): %s %s\n", t.Pipeline, t.Name, t.Severity, t.Error, strings.Join(t.Sample, "; "))
				}
			}
			return nil
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	show.Flags().StringVar(&server, "server", "", "ask a rat serve (URL) instead of the local catalog")
	cancel := newRunsCancelCmd(g)
	var follow bool
	logs := &cobra.Command{
		Use:   "logs RUN_ID",
		Short: "Print a run's log: nodes started and built, tests, the publish",
		Long: `Print the log lines a run recorded, one per line: time, level, pipeline, message.
With --follow, keep printing new lines until the run has finished (with
--server, from a rat serve's GET /api/v1/runs/{id}/logs?follow=true).`,
		Example: `  rat runs logs 20260101-060000-ab12
  rat runs logs 20260101-060000-ab12 --follow --server http://127.0.0.1:3030`,
		Args: exactArgs(1, "a run id (see 'rat runs list')"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			print := func(l rat.RunLogLine) {
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
			if server != "" {
				c, err := client.New(server)
				if err != nil {
					return err
				}
				path := "/api/v1/runs/" + url.PathEscape(args[0]) + "/logs"
				if follow {
					path += "?follow=true"
				}
				if err := c.Stream(cmd.Context(), path, func(line []byte) error {
					var l rat.RunLogLine
					if err := json.Unmarshal(line, &l); err != nil {
						return err
					}
					print(l)
					return nil
				}); err != nil {
					return errRemote(server, err)
				}
				return nil
			}
			a, rl, err := openRunLog(cmd, g)
			if err != nil {
				return err
			}
			defer a.Close()
			st, ok := a.Store.(runLogStore)
			if !ok {
				return rat.Errorf(rat.ENOTFOUND, "this catalog keeps no run logs")
			}
			var cur pipeline.LogCursor
			for again := false; ; again = true {
				run, err := rl.Run(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				lines, err := st.RunLogs(cmd.Context(), args[0], cur.From(again), 0)
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
		},
	}
	logs.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines until the run has finished")
	logs.Flags().BoolVar(&asJSON, "json", false, "print each line as JSON")
	logs.Flags().StringVar(&server, "server", "", "read the log from a rat serve (URL) instead of the local catalog")
	cmd.Example = "  rat runs list --status failed\n  rat runs show 20260101-060000-ab12"
	list.Example = "  rat runs list\n  rat runs list --status failed --target main -n 5\n  rat runs list --server http://127.0.0.1:3030 --json"
	show.Example = "  rat runs show 20260101-060000-ab12\n  rat runs show 20260101-060000-ab12 --json"
	cancel.Example = "  rat runs cancel 20260101-060000-ab12 --server http://127.0.0.1:3030"
	cmd.AddCommand(list, show, cancel, logs)
	return cmd
}

func openRunLog(cmd *cobra.Command, g *globals) (*app, pipeline.RunLog, error) {
	a, err := g.open(cmd.Context(), nil)
	if err != nil {
		return nil, nil, err
	}
	rl, ok := a.Store.(pipeline.RunLog)
	if !ok {
		a.Close()
		return nil, nil, rat.Errorf(rat.EINTERNAL, "this catalog keeps no run records")
	}
	// Runs whose process is gone show as what they are: failed.
	a.reapRuns(cmd.Context(), cmd.ErrOrStderr(), nil)
	return a, rl, nil
}

// remoteRuns lists runs through a rat serve.
func remoteRuns(ctx context.Context, server, target, status string, limit int) ([]rat.Run, error) {
	c, err := client.New(server)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("limit", strconv.Itoa(limit))
	if target != "" {
		q.Set("target", target)
	}
	if status != "" {
		q.Set("status", status)
	}
	var body struct {
		Runs []struct {
			ID       string     `json:"id"`
			Target   string     `json:"target"`
			Status   string     `json:"status"`
			Trigger  string     `json:"trigger"`
			Started  time.Time  `json:"started"`
			Finished *time.Time `json:"finished"`
		} `json:"runs"`
	}
	if err := c.Do(ctx, "GET", "/api/v1/runs?"+q.Encode(), nil, &body); err != nil {
		return nil, err
	}
	// The list holds summaries; each run's detail (nodes, tests) comes from
	// its own request so the output matches a local 'rat runs list'.
	out := make([]rat.Run, len(body.Runs))
	for i, r := range body.Runs {
		out[i] = rat.Run{ID: r.ID, Target: r.Target, Status: r.Status, Trigger: r.Trigger, Started: r.Started, Detail: []byte("{}")}
		if r.Finished != nil {
			out[i].Finished = *r.Finished
		}
		var raw json.RawMessage
		if err := c.Do(ctx, "GET", "/api/v1/runs/"+url.PathEscape(r.ID), nil, &raw); err == nil {
			out[i].Detail = raw
		}
	}
	return out, nil
}

// recordOf rebuilds a run record from a run's detail JSON.
func recordOf(raw json.RawMessage) rat.Run {
	var res pipeline.Result
	_ = json.Unmarshal(raw, &res)
	rec := rat.Run{ID: res.ID, Target: res.Target, Status: string(res.Status), Trigger: res.Trigger, Started: res.Started, Detail: raw}
	if res.Status != pipeline.StatusRunning && res.Status != "queued" {
		rec.Finished = res.Started.Add(time.Duration(res.Duration))
	}
	return rec
}
