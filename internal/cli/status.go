package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ratdata/rat/internal/client"
	"github.com/ratdata/rat/internal/monitor"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

// maxStatusAnswer bounds the answer of GET /api/v1/status that rat status
// --server reads (the server caps it at 4 MiB).
const maxStatusAnswer = 8 << 20

// statusOpts are rat status's flags.
type statusOpts struct {
	server   string
	asJSON   bool
	watch    bool
	interval time.Duration
}

func newStatusCmd(g *globals) *cobra.Command {
	var o statusOpts
	cmd := &cobra.Command{
		Use:   "status [--server URL] [--json] [--watch]",
		Short: "Show the cluster on one screen: processes, resources against thresholds, queue, runs, stale tables",
		Long: `Show every rat serve and rat worker process that recorded a heartbeat within
its lease (three monitoring.heartbeat_interval, default 5s): role, host,
version, uptime, memory, CPU, the fullest disk volume and rat serve's p95
query latency; then the queue's backlog, the running runs and those that
failed in the last 24 hours, the tables past their freshness policy, and
each warning with what to do about it.

Resources are judged by workspace.yaml's monitoring.thresholds (defaults:
memory 70/90 %, CPU 80/95 %, disk 70/85 %, query latency 5/30 s, warning/
critical). The exit status follows the monitoring-plugin convention, so cron
jobs and Nagios-style checks can use it: 0 ok, 1 warning, 2 critical. (An
error getting the status exits as any rat command: 1 when the server or
the database is out of reach.)

Locally rat status reads the catalog and queue databases of the workspace
(.rat/queue.db, or the catalog's Postgres on a cluster). With --server it
asks a rat serve (GET /api/v1/status, the read role is enough; RAT_API_TOKEN
is sent as the token), which judges by its own workspace's thresholds.
--watch redraws the screen every --interval until interrupted.`,
		Example: `  rat status
  rat status --json
  rat status --server https://rat.example.com     # RAT_API_TOKEN=<a read token>
  rat status --watch --interval 5s
  rat status >/dev/null || echo "rat needs attention (exit $?)"`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.watch && o.asJSON {
				return &usageError{msg: "rat status: --watch and --json do not go together (--json prints one report; run it again to refresh)"}
			}
			if o.interval < 500*time.Millisecond {
				return &usageError{msg: fmt.Sprintf("rat status: --interval %s: want 500ms or more, such as 2s", o.interval)}
			}
			return runStatus(cmd, g, o)
		},
	}
	cmd.Flags().StringVar(&o.server, "server", "", "ask a rat serve (URL; RAT_API_TOKEN is sent as the token) instead of reading the databases here")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the report as JSON")
	cmd.Flags().BoolVar(&o.watch, "watch", false, "redraw the screen every --interval until interrupted")
	cmd.Flags().DurationVar(&o.interval, "interval", 2*time.Second, "how often --watch redraws")
	return cmd
}

// runStatus gets the report (once, or every interval with --watch),
// prints it and exits with its status.
func runStatus(cmd *cobra.Command, g *globals, o statusOpts) error {
	ctx := cmd.Context()
	var get func(context.Context) (*monitor.Report, error)
	if o.server != "" {
		c, err := client.New(o.server)
		if err != nil {
			return err
		}
		c = c.Capped(maxStatusAnswer)
		get = func(ctx context.Context) (*monitor.Report, error) {
			var rep monitor.Report
			if err := c.Do(ctx, "GET", "/api/v1/status", nil, &rep); err != nil {
				return nil, errRemote(o.server, err)
			}
			return &rep, nil
		}
	} else {
		a, err := g.open(ctx, nil)
		if err != nil {
			return err
		}
		defer a.Close()
		get = func(ctx context.Context) (*monitor.Report, error) { return a.Status(ctx, nil, nil) }
	}
	out := cmd.OutOrStdout()
	for {
		rep, err := get(ctx)
		if err != nil {
			return err
		}
		switch {
		case o.asJSON:
			if err := textout.JSON(out, rep); err != nil {
				return err
			}
		case o.watch:
			// Home and clear, then the screen: it refreshes in place.
			_, _ = io.WriteString(out, "\x1b[H\x1b[2J")
			monitor.Render(out, rep)
		default:
			monitor.Render(out, rep)
		}
		if !o.watch {
			if code := rep.ExitCode(); code != 0 {
				return exitCode(code)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.interval):
		}
	}
}
