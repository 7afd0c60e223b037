package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/ratdata/rat/internal/catalog/sqlstore"

	"github.com/ratdata/rat/internal/orchestrator"
	"github.com/ratdata/rat/internal/pgwire"
	"github.com/ratdata/rat/internal/startgc"
	"github.com/spf13/cobra"
)

// shutdownGrace is the default --shutdown-timeout: how long rat serve and
// rat worker let running requests and nodes finish after SIGINT/SIGTERM
// before the nodes go back to the queue (Kubernetes' default
// terminationGracePeriodSeconds).
const shutdownGrace = 30 * time.Second

// serveLong is rat serve's --help text.
const serveLong = `Serve the web UI at / and rat's JSON API under /api/v1 (workspace, pipelines, tables, branches,
tags, commits, merges, queries, runs, landing uploads), /health/live,
/health/ready and /metrics.

Other engines find the tables through the Iceberg REST catalog at /iceberg
(catalog URI http://<host>:<port>/iceberg, warehouse = a branch or tag):
namespaces are layers; tables load with their metadata and, for an S3
warehouse, the endpoint, region and path style (never credentials); a run
token may create a table or commit to one on a branch (one rat commit each).
The same tokens and rules apply; docs/engines.md has the details.

With --pg-listen host:port (off by default) Postgres clients (psql, pgx,
BI tools) run read-only queries too, with the rules of POST /api/v1/query:
one SELECT over tables, the server's time limit and max_result_bytes (a
result over it ends in error 54000). The database name is the branch or
tag (psql -d dev; rat or postgres = the default branch); SET rat.branch =
'dev' switches a session. With tokens configured, clients send a token of
role run or admin as their password; without, only a loopback address is
allowed. No TLS yet: off loopback put a TLS proxy in front.

The address comes from --listen, RAT_LISTEN or the default 127.0.0.1:3030.
On a loopback address no token is needed. On any other address rat refuses
to start without a token: RAT_API_TOKEN (an admin token) or RAT_TOKEN_FILE, a
YAML file of named tokens with roles read, run or admin:
  tokens:
    - {name: dashboards, token: <random>, role: read}
Off loopback every token must be at least 32 bytes (openssl rand -hex 32).
Requests then need 'Authorization: Bearer <token>'; the UI asks for a token
once and keeps a session (a random id, revoked by signing out, ended after
12 hours or when its token is removed). Failed sign-ins are rate-limited per
client address.

A web page the user opens cannot drive the server: requests must name it in
their Host header (localhost, a loopback IP, the listen address, or a name in
RAT_ALLOWED_HOSTS, comma-separated; off loopback the list applies only when
set), requests from another site's pages that change anything are refused,
and API bodies must be application/json (multipart/form-data for uploads).

/metrics needs no token unless RAT_METRICS_TOKEN is set: then Prometheus
sends 'Authorization: Bearer <token>' with that token or an API token.
/health/live and /health/ready never need one.

Runs go through a queue (.rat/queue.db, or the catalog's Postgres database):
this process executes them unless --no-worker, and any number of 'rat worker'
processes may help: each node of a run is a job, so a run spreads over all
of them. SIGINT or SIGTERM stop the server: it claims no more jobs, the
requests and nodes under way get --shutdown-timeout (default 30s, one
deadline for all of them) to finish, then the nodes go back to the queue and
continue in another worker (or in this server once it restarts); the runs
themselves are not cancelled.
See SECURITY.md for what a public deployment needs.
Unless GOGC is set, Go's collector lets the heap grow to five times what
is live (GOGC=400) instead of twice: less CPU per node for some memory.
In a container with a memory limit (cgroup v2 or v1) Go's soft memory limit
is set below what DuckDB leaves of it, unless GOMEMLIMIT is set; a profile
larger than the limit is capped and named in a warning at start
(RAT_PROFILE=auto picks one that fits; rat config shows the limits).`

// serveOpts are rat serve's flags.
type serveOpts struct {
	listen   string
	pgListen string
	noWorker bool
	grace    time.Duration
}

func newServeCmd(g *globals) *cobra.Command {
	var o serveOpts
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR]",
		Short: "Serve the web UI, the HTTP API, health checks and Prometheus metrics",
		Long:  serveLong,
		Example: `  rat serve
  RAT_API_TOKEN=$(openssl rand -hex 32) rat serve --listen 0.0.0.0:3030
  rat serve --pg-listen 127.0.0.1:5433
  psql -h 127.0.0.1 -p 5433 -d dev -c 'SELECT count(*) FROM bronze.sales'
  RAT_ALLOWED_HOSTS=rat.example.com RAT_METRICS_TOKEN=... rat serve --listen 0.0.0.0:3030`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.grace < 0 {
				return &usageError{msg: fmt.Sprintf("rat serve: --shutdown-timeout %s: want 0 (hand running nodes back at once) or a positive duration such as 30s", o.grace)}
			}
			return runServe(cmd, g, o)
		},
	}
	cmd.Flags().BoolVar(&o.noWorker, "no-worker", false, "only enqueue runs; rat worker processes execute them")
	cmd.Flags().DurationVar(&o.grace, "shutdown-timeout", shutdownGrace, "on SIGTERM/SIGINT, how long requests and running nodes may finish before the nodes go back to the queue")
	cmd.Flags().StringVar(&o.pgListen, "pg-listen", "", "also serve read-only SQL to Postgres clients (psql, pgx, BI tools) on host:port, e.g. 127.0.0.1:5433 (default off)")
	cmd.Flags().StringVar(&o.listen, "listen", "", "address to listen on, host:port (default from RAT_LISTEN, else 127.0.0.1:3030)")
	return cmd
}

// runServe opens the queue (executing runs unless --no-worker), the
// metrics and the HTTP server, and serves until the command's context ends.
func runServe(cmd *cobra.Command, g *globals, o serveOpts) error {
	startgc.LongRunning()
	ctx := cmd.Context()
	a, err := g.open(ctx, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	if o.listen != "" {
		a.Config.Listen = o.listen
	}
	log := a.logger(cmd.ErrOrStderr())
	workers := a.Config.MaxParallelPipelines
	if o.noWorker {
		workers = 0
	}
	var q *orchestrator.Queue
	// Scrapes start with the server, once the queue is open.
	waiting := func(ctx context.Context) (int, time.Duration, error) { return q.Waiting(ctx) }
	m, err := a.NewMetrics(workers > 0, true, waiting, buildVersion().Version, log)
	if err != nil {
		return err
	}
	q, err = a.OpenQueue(ctx, workers, a.ServeTick(&q, log), log, m)
	if err != nil {
		return err
	}
	defer q.Close()
	srv, err := a.NewServer(ctx, log, q, m, buildVersion().Version)
	if err != nil {
		return err
	}
	var pg *pgwire.Server
	if o.pgListen != "" {
		if pg, err = pgwire.New(o.pgListen, srv, log); err != nil {
			return err
		}
	}
	a.Store.ObserveCommits(func(c sqlstore.CommitStats) { m.CommitDone(c.Duration, c.Attempts, c.Err) })
	a.OnScheduleFire = m.ScheduleFired
	if err := q.Start(ctx); err != nil {
		return err
	}
	stopBeats, err := a.StartHeartbeats(ctx, q, "serve", buildVersion().Version, m, log)
	if err != nil {
		return err
	}
	defer stopBeats()
	if err := srv.Start(ctx); err != nil {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.grace)
		defer cancel()
		_ = q.Stop(c)
		return err
	}
	log.Info("listening on "+serveURL(srv.Addr()), "address", srv.Addr().String(), "auth", a.authHint())
	if pg != nil {
		if err := pg.Start(ctx); err != nil {
			c, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.grace)
			defer cancel()
			_ = srv.Stop(c)
			_ = q.Stop(c)
			return err
		}
		log.Info("postgres clients on "+pgURL(pg.Addr(), a.Config.Branch), "address", pg.Addr().String(), "auth", a.authHint())
	}
	<-ctx.Done()
	log.Info("shutting down")
	// Stopping is bounded by one deadline: the queue claims no more jobs
	// and its nodes finish (or go back to the queue), while the HTTP
	// requests finish. Requests waiting for a run stop waiting when the
	// queue has stopped (the run goes on elsewhere).
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.grace)
	defer cancel()
	queueStopped := make(chan struct{})
	go func() {
		defer close(queueStopped)
		_ = q.Stop(c)
	}()
	pgStopped := make(chan struct{})
	go func() {
		defer close(pgStopped)
		if pg != nil {
			_ = pg.Stop(c)
		}
	}()
	err = srv.Stop(c)
	<-queueStopped
	<-pgStopped
	return err
}

// pgURL is a connection URL a person can give psql for a bound address.
func pgURL(addr net.Addr, branch string) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	if branch == "" {
		branch = "main"
	}
	return "postgres://" + net.JoinHostPort(host, port) + "/" + branch
}

// logger is the log of rat serve and rat worker on w: text lines, or JSON
// objects with RAT_LOG_FORMAT=json.
func (a *app) logger(w io.Writer) *slog.Logger {
	if a.Config.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// serveURL is a URL a person can open for a bound address: the address
// itself, or localhost when it listens on every interface.
func serveURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// authHint says how to sign in, never with the token itself.
func (a *app) authHint() string {
	var from []string
	if a.Config.APIToken != "" {
		from = append(from, "RAT_API_TOKEN")
	}
	if a.Config.TokenFile != "" {
		from = append(from, "a token from "+a.Config.TokenFile)
	}
	if len(from) == 0 {
		return "off (loopback only; every request may do everything)"
	}
	return "on: sign in with " + strings.Join(from, " or ")
}
