package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/ratdata/rat/internal/client"
	"github.com/ratdata/rat/internal/orchestrator"
	"github.com/spf13/cobra"
)

func newRunsCancelCmd(g *globals) *cobra.Command {
	var server string
	cancel := &cobra.Command{
		Use:   "cancel RUN_ID",
		Short: "Cancel a run, wherever it runs (its target stays untouched)",
		Long: `Cancel a queued or running run. A run that waits in the queue or runs on
workers is cancelled through the queue: nodes not started are settled as
cancelled, the running ones stop, and the run is recorded as failed. A run
that another 'rat run' process executes is asked to stop: that process sees
the request at its next heartbeat (within a sixth of runs.lease), stops and
records the run as failed; 'rat runs cancel' waits for it. A run whose
process is gone (killed) is recorded as failed (owner lost) at once and its
run branch removed. In every case nothing is published.`,
		Example: `  rat runs cancel 20260101-060000-ab12
  rat runs cancel 20260101-060000-ab12 --server http://127.0.0.1:3030`,
		Args: exactArgs(1, "a run id (see 'rat runs list')"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if server != "" {
				c, err := client.New(server)
				if err != nil {
					return err
				}
				if err := c.Do(cmd.Context(), "POST", "/api/v1/runs/"+url.PathEscape(id)+"/cancel", nil, nil); err != nil {
					return errRemote(server, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "cancelling run %s\n", id)
				return nil
			}
			return g.withApp(cmd, "", func(ctx context.Context, a *app) error {
				a.ReapRuns(ctx, cmd.ErrOrStderr(), nil)
				msg, err := a.CancelRun(ctx, id, true, func() (*orchestrator.Queue, func(), error) {
					q, err := a.OpenQueue(ctx, 0, nil, slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)), nil)
					if err != nil {
						return nil, nil, err
					}
					return q, q.Close, nil
				})
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), msg)
				return nil
			})
		},
	}
	cancel.Flags().StringVar(&server, "server", "", "ask a rat serve (URL; RAT_API_TOKEN is sent as the token) instead of the local catalog and queue")
	return cancel
}
