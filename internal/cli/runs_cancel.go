package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/client"
	"github.com/ratdata/rat/internal/orchestrator"
	"github.com/ratdata/rat/internal/pipeline"
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
				a.reapRuns(ctx, cmd.ErrOrStderr(), nil)
				msg, err := a.cancelRun(ctx, id, true, func() (*orchestrator.Queue, func(), error) {
					q, err := a.openQueue(ctx, 0, nil, slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)), nil)
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

// cancelRun cancels a run that is queued or running, and says what it did.
// A queued run (no owner) is cancelled through the queue that openQueue
// opens; a run another process executes in itself is asked to stop (with
// wait, until it has), or ended as owner lost when that process is gone.
func (a *app) cancelRun(ctx context.Context, id string, wait bool, openQueue func() (*orchestrator.Queue, func(), error)) (string, error) {
	rl := a.Store
	rec, err := rl.Run(ctx, id)
	if err != nil {
		return "", err
	}
	if !rec.Status.Active() {
		return "", rat.Errorf(rat.ECONFLICT, "run %s already finished (%s): there is nothing to cancel", id, rec.Status)
	}
	if rec.Owner != "" {
		return a.cancelOwned(ctx, rec, wait)
	}
	q, closeQueue, err := openQueue()
	if err != nil {
		return "", err
	}
	defer closeQueue()
	found, err := a.cancelQueued(ctx, q, id)
	if err != nil {
		return "", err
	}
	if !found {
		// Recorded as waiting or running, but the queue holds nothing of
		// it (its job was lost): nothing can run it any more.
		if _, err := a.failUnfinished(ctx, id, "cancelled; the queue held no job for it"); err != nil {
			return "", err
		}
	}
	if rec, err = rl.Run(ctx, id); err == nil && !rec.Finished.IsZero() {
		return fmt.Sprintf("cancelled run %s: %s", id, runError(rec)), nil
	}
	return fmt.Sprintf("cancelling run %s: the workers building its nodes stop them and record it as failed", id), err
}

// cancelOwned asks the process running a run in itself to stop it; a run
// whose process is gone is ended at once (owner lost).
func (a *app) cancelOwned(ctx context.Context, rec rat.Run, wait bool) (string, error) {
	leases := a.Store
	if _, err := leases.RequestRunCancel(ctx, rec.ID); err != nil {
		return "", err
	}
	if pipeline.OwnerGone(rec.Owner) {
		return a.endOwnerLost(ctx, leases, rec, fmt.Sprintf("cancelled: its process %s is gone (owner lost)", rec.Owner))
	}
	if !wait {
		return fmt.Sprintf("cancelling run %s: its process %s stops it at its next heartbeat", rec.ID, rec.Owner), nil
	}
	rl := a.Store
	for deadline := time.Now().Add(2 * max(rec.Lease, time.Second)); ; {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		now, err := rl.Run(ctx, rec.ID)
		if err != nil {
			return "", err
		}
		if now.Status != pipeline.StatusRunning {
			return fmt.Sprintf("cancelled run %s: %s", rec.ID, runError(now)), nil
		}
		if pipeline.OwnerGone(now.Owner) || now.Heartbeat.Add(now.Lease).Before(time.Now()) {
			return a.endOwnerLost(ctx, leases, now, fmt.Sprintf("cancelled: its process %s stopped writing heartbeats (owner lost)", now.Owner))
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("cancelling run %s: its process %s has not stopped it yet ('rat runs show %s' tells when it has)", rec.ID, rec.Owner, rec.ID), nil
		}
	}
}

func (a *app) endOwnerLost(ctx context.Context, leases pipeline.RunLeases, rec rat.Run, reason string) (string, error) {
	res, err := pipeline.EndOwnerLost(ctx, a.Store, leases, rec.ID, reason, time.Now(), true)
	if err != nil {
		return "", err
	}
	if res == nil {
		now, err := a.Store.Run(ctx, rec.ID)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("run %s ended meanwhile (%s): %s", rec.ID, now.Status, runError(now)), nil
	}
	return fmt.Sprintf("cancelled run %s: %s", rec.ID, res.Error), nil
}

// runError is the error a run record holds, or its status.
func runError(rec rat.Run) string {
	if rec.Detail.Error != "" {
		return rec.Detail.Error
	}
	return string(rec.Status)
}

// reapRuns ends the runs whose process has written no heartbeat for its
// lease (owner lost), reporting each to w or log. One indexed read when
// there are none: commands that run or list runs call it.
func (a *app) reapRuns(ctx context.Context, w io.Writer, log *slog.Logger) {
	ended, err := pipeline.ReapRuns(ctx, a.Store, a.Store, time.Now())
	for _, res := range ended {
		if log != nil {
			log.Warn("run ended: its owner is gone", "run", res.ID, "status", res.Status, "error", res.Error)
		} else {
			fmt.Fprintf(w, "warning: run %s ended as %s: %s\n", res.ID, res.Status, res.Error)
		}
	}
	if err != nil {
		if log != nil {
			log.Error("end runs whose owner is gone", "err", err)
		} else {
			fmt.Fprintf(w, "warning: end runs whose owner is gone: %s\n", rat.ErrorMessage(err))
		}
	}
}
