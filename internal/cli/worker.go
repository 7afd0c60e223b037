package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/ratdata/rat/internal/startgc"
	"github.com/spf13/cobra"
)

func newWorkerCmd(g *globals) *cobra.Command {
	var listen string
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "worker [--listen ADDR] [--shutdown-timeout 30s]",
		Short: "Execute the nodes of queued pipeline runs (no API, no scheduler), for clusters",
		Long: `Claim and execute the jobs of the pipeline runs that rat serve (or rat serve
--no-worker) enqueues: each node of a run is a job, so the nodes of one run
spread over every worker. A worker builds up to max_parallel_pipelines nodes
at once. Runs queue in .rat/queue.db on the embedded default, or in the
catalog's Postgres database on a cluster, so any number of workers on any
machines share them.

With --listen, the worker serves /metrics (the runs and nodes it executed,
process memory and CPU, read cache, data disk) and /health/live for
Prometheus and Kubernetes. With RAT_METRICS_TOKEN set, /metrics needs
'Authorization: Bearer <token>' with that token or an API token
(RAT_API_TOKEN, RAT_TOKEN_FILE); off loopback it must be 32 bytes or longer.

SIGINT or SIGTERM stop the worker gracefully: it claims no more jobs, its
running nodes get --shutdown-timeout (default 30s, Kubernetes' default
terminationGracePeriodSeconds) to finish, then they are handed back to the
queue and another worker builds them again from the start (the node's
tables on the run branch are reset, so nothing is built twice). A worker
killed outright loses its nodes to another worker after 15s without
heartbeat (rat serve's scheduler hands them over).
Unless GOGC is set, Go's collector lets the heap grow to five times what
is live (GOGC=400) instead of twice: less CPU per node for some memory.
In a container with a memory limit (cgroup v2 or v1) Go's soft memory limit
is set below what DuckDB leaves of it, unless GOMEMLIMIT is set; a profile
larger than the limit is capped and named in a warning at start
(RAT_PROFILE=auto picks one that fits; rat config shows the limits).`,
		Example: `  rat worker
  rat worker --listen 0.0.0.0:9090   # metrics for Prometheus
  rat worker --shutdown-timeout 2m   # long nodes: raise terminationGracePeriodSeconds of the pod too`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if grace < 0 {
				return &usageError{msg: fmt.Sprintf("rat worker: --shutdown-timeout %s: want 0 (hand running nodes back at once) or a positive duration such as 30s", grace)}
			}
			startgc.LongRunning()
			return g.withApp(cmd, "", func(ctx context.Context, a *app) error {
				log := a.logger(cmd.ErrOrStderr())
				m, err := a.NewMetrics(true, false, nil, buildVersion().Version, log)
				if err != nil {
					return err
				}
				if listen != "" {
					access, err := a.MetricsAccess()
					if err != nil {
						return err
					}
					addr, stop, err := m.Serve(ctx, listen, access)
					if err != nil {
						return err
					}
					defer stop()
					log.Info(fmt.Sprintf("metrics on http://%s/metrics", addr))
				}
				q, err := a.OpenQueue(ctx, a.Config.MaxParallelPipelines, nil, log, m)
				if err != nil {
					return err
				}
				defer q.Close()
				if err := q.Start(ctx); err != nil {
					return err
				}
				stopBeats, err := a.StartHeartbeats(ctx, q, "worker", buildVersion().Version, m, log)
				if err != nil {
					return err
				}
				defer stopBeats()
				log.Info(fmt.Sprintf("worker started: %d node(s) at once", a.Config.MaxParallelPipelines))
				<-ctx.Done()
				log.Info("stopping")
				stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
				defer cancel()
				return q.Stop(stopCtx)
			})
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "serve /metrics and /health/live on this address, host:port (off by default)")
	cmd.Flags().DurationVar(&grace, "shutdown-timeout", shutdownGrace, "on SIGTERM/SIGINT, how long running nodes may finish before they go back to the queue")
	return cmd
}
