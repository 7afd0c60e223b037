// Package server is rat's HTTP face: the JSON API under /api/v1, health
// checks, /metrics (internal/metrics) and the browser UI (internal/ui). It takes live objects (the catalog store,
// the lake, a run log) and functions injected by the CLI; it never reads
// configuration itself.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/metrics"
	"github.com/ratdata/rat/internal/monitor"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/sysres"
	"github.com/ratdata/rat/internal/trigger"
	"github.com/ratdata/rat/internal/workspace"
)

// Config holds what a Server needs: plain values, live objects and
// functions. Only Store and Lake are required.
type Config struct {
	Listen string  // host:port; "" = 127.0.0.1:3030
	Tokens []Token // API tokens; none = no auth (loopback only)
	// AllowedHosts are host names (RAT_ALLOWED_HOSTS) answered besides
	// localhost and the listen address, and trusted as the origin of
	// browser requests; see guard.go. Enforced on a loopback listen
	// address always, elsewhere only when set.
	AllowedHosts []string
	// MetricsToken, when set, is required by /metrics (RAT_METRICS_TOKEN);
	// the API tokens are accepted there too.
	MetricsToken string
	Version      string // rat's version, shown by the UI's settings page

	Store   Store
	Lake    *lake.Lake
	Landing *ingest.Landing  // the landing area; nil = uploads are refused
	Branch  string           // the default branch of requests; "" = main
	Checks  []Check          // readiness checks (catalog, object store, …)
	Logger  *slog.Logger     // nil = slog.Default()
	Now     func() time.Time // the clock; nil = time.Now
	// Env looks up the environment variables webhook triggers name for
	// their secrets; nil = os.LookupEnv.
	Env func(string) (string, bool)

	// LoadWorkspace loads the workspace as its files are now.
	LoadWorkspace func(ctx context.Context) (*workspace.Workspace, error)
	// Meter measures this process for the overview's memory and CPU
	// gauges; nil = one over the running machine (no volumes).
	Meter *metrics.Meter
	// Thresholds colour the overview's gauges (monitoring.thresholds);
	// zero = config.DefaultThresholds.
	Thresholds config.Thresholds
	// Status gathers the cluster's state for GET /api/v1/status (rat
	// status --server), with the stale tables from stale (the server's
	// freshness, over its cached table list); nil = the endpoint answers 503.
	Status func(ctx context.Context, stale func(context.Context) ([]monitor.Stale, error)) (*monitor.Report, error)
	// StartRun runs pipelines to the end, or waits for the queue to; the
	// server calls it in a goroutine it tracks, with a context Stop
	// cancels (and POST /runs/{id}/cancel when CancelRun is nil).
	StartRun func(ctx context.Context, opts pipeline.Options) (*pipeline.Result, error)
	// CancelRun cancels a run wherever it is queued or runs: it reports
	// whether the run had a job to cancel. When set, it cancels every run,
	// including those this server started. nil = runs this server did not
	// start cannot be cancelled here.
	CancelRun func(ctx context.Context, id string) (bool, error)
	// Settings lists the effective configuration, secrets redacted
	// (config.Config.Settings); nil hides /api/v1/config.
	Settings func() []config.Setting

	// Metrics are the process's metrics, served at /metrics; the server
	// records its queries there and adds the tables' freshness. nil = new
	// ones of the server's own (metrics.Config.Serve, with StateDir and
	// QueueWaiting).
	Metrics *metrics.Metrics
	// StateDir is the directory whose disk the overview's gauge shows.
	StateDir string
	// QueueWaiting reports the runs waiting for a worker and the wait of
	// the oldest, for the overview; nil = not shown.
	QueueWaiting func(ctx context.Context) (int, time.Duration, error)

	Limits Limits
	// IcebergTableConfig is the storage config the Iceberg REST catalog
	// (/iceberg, internal/icebergrest) returns with every table: for an S3
	// warehouse its endpoint, region and path style. No credentials.
	IcebergTableConfig map[string]string
	// Resources are the machine's limits and how the profile fits them,
	// shown by /health/ready (with the warning of a profile chosen larger
	// than the machine); nil = not shown.
	Resources *config.Fit
}

// Limits bound what one request may cost.
type Limits struct {
	QueryRows    int           // rows a query returns at most; 0 = 10,000
	QueryTimeout time.Duration // 0 = 60s
	UploadBytes  int64         // bytes of one upload request; 0 = 1 GiB
	// ResultBytes caps one query's answer (JSON rows, a Parquet download);
	// 0 = 64 MiB.
	ResultBytes int64
}

// Check is one readiness check: the service it names is ready when Fn
// returns nil.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Server serves the API. Build it with New; Start and Stop own the listener
// and the runs it started.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
	metrics *metrics.Metrics
	auth    *authenticator
	guard   *hostGuard
	// sessions keeps UI sign-ins (the catalog database, so every replica
	// shares them); limiter counts failed sign-ins per client address.
	sessions sessionStore
	limiter  signInLimiter
	replay   *trigger.Replay // webhook deliveries seen
	meter    *metrics.Meter  // the overview's memory and CPU gauges
	sums     summaryCache    // table summaries by commit

	base   context.Context // parent of every run; cancelled by Stop when its deadline passes
	cancel context.CancelFunc

	mu     sync.Mutex
	active map[string]context.CancelFunc // runs executing in this process
	wg     sync.WaitGroup                // the goroutines of those runs
	http   *http.Server
	addr   net.Addr
}

// New validates cfg and builds a Server. It refuses a non-loopback listen
// address without any token. It starts nothing.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Lake == nil {
		return nil, errors.New("server: Store and Lake are required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:3030"
	}
	if cfg.Branch == "" {
		cfg.Branch = rat.DefaultBranch
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Limits.QueryRows <= 0 {
		cfg.Limits.QueryRows = 10_000
	}
	if cfg.Limits.QueryTimeout <= 0 {
		cfg.Limits.QueryTimeout = time.Minute
	}
	if cfg.Limits.UploadBytes <= 0 {
		cfg.Limits.UploadBytes = ingest.MaxUploadBytes
	}
	if cfg.Limits.ResultBytes <= 0 {
		cfg.Limits.ResultBytes = 64 << 20
	}
	auth, err := newAuthenticator(cfg.Listen, cfg.Tokens)
	if err != nil {
		return nil, err
	}
	if err := metricsAccessOf(cfg).Check(cfg.Listen); err != nil {
		return nil, err
	}
	if cfg.Metrics == nil {
		mcfg := metrics.Config{StateDir: cfg.StateDir, Serve: true, QueueWaiting: cfg.QueueWaiting, Logger: cfg.Logger}
		if c := cfg.Lake.Cache(); c != nil {
			mcfg.Cache = func() (int64, int64) { return c.Hits(), c.Misses() }
		}
		if cfg.Metrics, err = metrics.New(mcfg); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), metrics: cfg.Metrics, auth: auth, active: map[string]context.CancelFunc{},
		replay: &trigger.Replay{Now: cfg.Now}, guard: newHostGuard(cfg.Listen, cfg.AllowedHosts)}
	s.sessions = cfg.Store
	if s.meter = cfg.Meter; s.meter == nil {
		var err error
		if s.meter, err = metrics.NewMeter(sysres.System(), nil, nil); err != nil {
			return nil, fmt.Errorf("measure this process: %w", err)
		}
	}
	// Every replica refuses a delivery any of them took.
	s.replay.Record = cfg.Store.RecordDelivery
	s.base, s.cancel = context.WithCancel(context.Background())
	if err := cfg.Metrics.WatchFreshness(s.freshnessMetrics); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	if err := s.routes(); err != nil {
		return nil, err
	}
	if err := s.uiRoutes(); err != nil {
		return nil, err
	}
	s.handler = s.recoverPanics(s.guardRequests(s.mux))
	return s, nil
}

// Handler returns the server's HTTP handler (for httptest, or to mount it).
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on the configured address and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return rat.Errorf(rat.EUNAVAILABLE, "listen on %s: %w", s.cfg.Listen, err)
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.http, s.addr = srv, ln.Addr()
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", "err", err)
		}
	}()
	return nil
}

// Addr returns the address Start listens on (useful with port 0), or nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop stops accepting requests, lets running requests and pipeline runs
// finish until ctx is done, then cancels the runs still going (their
// targets stay untouched) and waits for them to end.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv := s.http
	s.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Shutdown(ctx)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("cancelling unfinished runs", "runs", s.activeIDs())
		s.cancel()
		<-done
	}
	s.cancel()
	return err
}

func (s *Server) activeIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.active))
	for id := range s.active {
		ids = append(ids, id)
	}
	return ids
}

// routes declares every endpoint with the role it needs.
func (s *Server) routes() error {
	s.mux.HandleFunc("GET /health/live", s.live)
	// Webhooks authenticate with their trigger's own secret, not API tokens.
	s.mux.Handle("POST /api/v1/webhooks/{pipeline}", s.handle(s.webhook))
	s.mux.HandleFunc("GET /health/ready", s.ready)
	s.mux.Handle("GET /metrics", s.metrics.Handler(metricsAccessOf(s.cfg)))

	api := func(pattern string, role Role, h func(http.ResponseWriter, *http.Request) error) {
		s.mux.Handle(pattern, s.authorize(role, s.bodyTypes(s.handle(h))))
	}
	api("GET /api/v1/workspace", RoleRead, s.getWorkspace)
	api("GET /api/v1/pipelines/{id}", RoleRead, s.getPipeline)
	api("GET /api/v1/lineage", RoleRead, s.getLineage)
	api("GET /api/v1/lineage/status", RoleRead, s.getPipelineStatus)
	api("GET /api/v1/config", RoleRead, s.getConfig)
	api("GET /api/v1/overview", RoleRead, s.getOverview)
	api("GET /api/v1/status", RoleRead, s.getStatus)

	api("GET /api/v1/tables", RoleRead, s.listTables)
	api("GET /api/v1/tables/{id}", RoleRead, s.getTable)
	api("GET /api/v1/tables/{id}/preview", RoleRead, s.previewTable)
	api("GET /api/v1/tables/{id}/snapshots", RoleRead, s.tableSnapshots)
	api("POST /api/v1/query", RoleRun, s.query)
	api("POST /api/v1/query/parquet", RoleRun, s.queryParquet)

	api("GET /api/v1/branches", RoleRead, s.listRefs(rat.Branch))
	api("POST /api/v1/branches", RoleAdmin, s.createRef(rat.Branch))
	api("GET /api/v1/branches/{name...}", RoleRead, s.getRef(rat.Branch))
	api("DELETE /api/v1/branches/{name...}", RoleAdmin, s.deleteRef(rat.Branch))
	api("GET /api/v1/tags", RoleRead, s.listRefs(rat.Tag))
	api("POST /api/v1/tags", RoleAdmin, s.createRef(rat.Tag))
	api("GET /api/v1/tags/{name...}", RoleRead, s.getRef(rat.Tag))
	api("DELETE /api/v1/tags/{name...}", RoleAdmin, s.deleteRef(rat.Tag))
	api("GET /api/v1/commits", RoleRead, s.listCommits)
	api("POST /api/v1/merge", RoleAdmin, s.merge)
	api("GET /api/v1/diff", RoleRead, s.diff)

	api("POST /api/v1/runs", RoleRun, s.createRun)
	api("GET /api/v1/runs", RoleRead, s.listRuns)
	api("GET /api/v1/runs/{id}", RoleRead, s.getRun)
	api("POST /api/v1/runs/{id}/cancel", RoleRun, s.cancelRun)
	api("GET /api/v1/runs/{id}/logs", RoleRead, s.runLogs)

	api("GET /api/v1/landing", RoleRead, s.listLanding)
	api("POST /api/v1/landing/{zone}", RoleRun, s.upload)

	api("GET /api/v1/triggers", RoleRead, s.listTriggers)
	api("GET /api/v1/freshness", RoleRead, s.getFreshness)
	api("POST /api/v1/triggers/{id}/enable", RoleAdmin, s.switchTrigger(false))
	api("POST /api/v1/triggers/{id}/disable", RoleAdmin, s.switchTrigger(true))

	// Anything else under /api/v1 is a JSON 404, not the mux's text page.
	api("/api/v1/", RoleRead, func(w http.ResponseWriter, r *http.Request) error {
		return rat.Errorf(rat.ENOTFOUND, "no endpoint %s %s: the API lives under /api/v1 (overview, workspace, pipelines, lineage, tables, query, branches, tags, commits, merge, diff, runs, landing, triggers, freshness); the web UI is at /", r.Method, r.URL.Path)
	})
	return s.icebergRoutes()
}

// recoverPanics turns a panicking handler into a 500 with the JSON shape,
// so one bad request never takes the server down.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// Store is what the server needs of the catalog database: refs, commits
// and tables, run records and logs, trigger states, sign-in sessions and
// webhook deliveries. The SQLite and Postgres stores implement it (asserted
// where they are built, internal/cli).
type Store interface {
	catalog.Store
	pipeline.RunLog
	TriggerStates
	sessionStore
	deliveryRecorder
	runLogReader
	runDocuments
}

// deliveryRecorder is what the catalog stores keep webhook deliveries with.
type deliveryRecorder interface {
	RecordDelivery(ctx context.Context, id string, at, forget time.Time) (bool, error)
}
