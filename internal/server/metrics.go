package server

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/pipeline"
)

// metrics are the server's Prometheus instruments.
type metrics struct {
	queryDuration prometheus.Histogram

	commits        *prometheus.CounterVec
	commitRetries  prometheus.Counter
	commitDuration prometheus.Histogram
	schedulerLag   prometheus.Histogram
}

// durationBuckets span a 10 ms query to a two-hour run.
var durationBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200}

func newMetrics(reg *prometheus.Registry, l *lake.Lake, stateDir string, waiting func(context.Context) (int, time.Duration, error)) (*metrics, error) {
	m := &metrics{
		queryDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rat_query_duration_seconds", Help: "Duration of API queries and table previews.", Buckets: durationBuckets,
		}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rat_catalog_commits_total",
			Help: "Catalog commits by this process, by result: ok, conflict (another writer won; the writer reloads and retries) or error.",
		}, []string{"result"}),
		commitRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rat_catalog_commit_retries_total", Help: "Commit transactions rerun because the catalog database was locked or busy.",
		}),
		schedulerLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rat_scheduler_lag_seconds", Help: "How late schedule ticks were enqueued after their due time (missed ticks caught up count their whole delay).",
			Buckets: []float64{.1, .25, .5, 1, 2, 5, 10, 30, 60, 300, 3600},
		}),
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rat_catalog_commit_duration_seconds", Help: "Duration of catalog commits, retries included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}
	cs := []prometheus.Collector{
		m.queryDuration, m.commits, m.commitRetries, m.commitDuration, m.schedulerLag,
	}
	if waiting != nil {
		cs = append(cs, &queueCollector{waiting: waiting,
			depth: prometheus.NewDesc("rat_queue_depth", "Runs waiting for a worker (available, retrying or scheduled).", nil, nil),
			wait:  prometheus.NewDesc("rat_queue_oldest_wait_seconds", "How long the oldest run ready to start has waited for a worker.", nil, nil),
		})
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	if err := RegisterProcessMetrics(reg, l, stateDir); err != nil {
		return nil, err
	}
	for _, r := range []string{"ok", "conflict", "error"} {
		m.commits.WithLabelValues(r)
	}
	return m, nil
}

// RegisterProcessMetrics registers what every rat process reports:
// memory, CPU and Go runtime, the read cache's hits and misses, and the
// use of the disk holding the state directory.
func RegisterProcessMetrics(reg prometheus.Registerer, l *lake.Lake, stateDir string) error {
	cs := []prometheus.Collector{
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	}
	if c := l.Cache(); c != nil {
		cs = append(cs,
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "rat_cache_hits_total", Help: "Data file reads served by the local read cache.",
			}, func() float64 { return float64(c.Hits()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "rat_cache_misses_total", Help: "Data file reads that downloaded the file into the read cache.",
			}, func() float64 { return float64(c.Misses()) }),
		)
	}
	if stateDir != "" {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rat_data_disk_used_ratio", Help: "Used fraction of the file system holding rat's state directory.",
		}, func() float64 { return diskUsedRatio(stateDir) }))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// ExecMetrics count the runs and nodes a process executes: rat serve with
// its workers, rat worker. In a cluster each worker reports the nodes it
// built and the runs it finished; sum them over the processes.
type ExecMetrics struct {
	runs         *prometheus.CounterVec
	nodes        *prometheus.CounterVec
	runDuration  prometheus.Histogram
	nodeDuration prometheus.Histogram
}

// NewExecMetrics registers the execution metrics.
func NewExecMetrics(reg prometheus.Registerer) (*ExecMetrics, error) {
	m := &ExecMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rat_runs_total", Help: "Pipeline runs finished by this process, by status.",
		}, []string{"status"}),
		nodes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rat_nodes_total", Help: "Pipeline nodes settled by this process, by status.",
		}, []string{"status"}),
		runDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rat_run_duration_seconds", Help: "Duration of pipeline runs.", Buckets: durationBuckets,
		}),
		nodeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rat_node_duration_seconds", Help: "Duration of pipeline nodes.", Buckets: durationBuckets,
		}),
	}
	for _, c := range []prometheus.Collector{m.runs, m.nodes, m.runDuration, m.nodeDuration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Make every status series exist from the start, so rates work at once.
	for _, st := range []pipeline.Status{pipeline.StatusSuccess, pipeline.StatusFailed} {
		m.runs.WithLabelValues(string(st))
		m.nodes.WithLabelValues(string(st))
	}
	m.nodes.WithLabelValues(string(pipeline.StatusSkipped))
	return m, nil
}

// ObserveNode counts a settled node.
func (m *ExecMetrics) ObserveNode(n pipeline.NodeResult) {
	m.nodes.WithLabelValues(string(n.Status)).Inc()
	if n.Status != pipeline.StatusSkipped {
		m.nodeDuration.Observe(time.Duration(n.Duration).Seconds())
	}
}

// ObserveRun counts a finished run.
func (m *ExecMetrics) ObserveRun(res *pipeline.Result) {
	m.runs.WithLabelValues(string(res.Status)).Inc()
	m.runDuration.Observe(time.Duration(res.Duration).Seconds())
}

// MetricsHandler serves a registry in Prometheus' text format.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// live answers 200 while the process serves HTTP at all.
func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ready runs every check; 503 names the ones that failed. The details go
// to the log only: this endpoint needs no token.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	checks := map[string]string{}
	var failed []string
	for _, c := range s.cfg.Checks {
		if err := c.Fn(ctx); err != nil {
			s.log.Warn("readiness check failed", "check", c.Name, "err", err)
			checks[c.Name] = "unavailable"
			failed = append(failed, c.Name)
			continue
		}
		checks[c.Name] = "ok"
	}
	if len(failed) > 0 {
		var body errorBody
		body.Error.Code = rat.EUNAVAILABLE
		body.Error.Message = "not ready: " + strings.Join(failed, ", ") + " unavailable"
		writeJSON(w, statusOf[rat.EUNAVAILABLE], struct {
			errorBody
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		}{body, "unavailable", checks})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "checks": checks})
}

// queueCollector asks the queue once per scrape; a queue that cannot answer
// leaves both series out of that scrape rather than reporting zeros.
type queueCollector struct {
	waiting     func(context.Context) (int, time.Duration, error)
	depth, wait *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.depth; ch <- c.wait }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, oldest, err := c.waiting(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.wait, prometheus.GaugeValue, oldest.Seconds())
}

// ObserveCommit records one catalog commit: its duration, the transactions
// it took and how it ended.
func (s *Server) ObserveCommit(d time.Duration, attempts int, err error) {
	result := "ok"
	switch {
	case rat.IsCode(err, rat.ECONFLICT):
		result = "conflict"
	case err != nil:
		result = "error"
	}
	s.metrics.commits.WithLabelValues(result).Inc()
	s.metrics.commitDuration.Observe(d.Seconds())
	if attempts > 1 {
		s.metrics.commitRetries.Add(float64(attempts - 1))
	}
}

// ObserveScheduleFire records how late a schedule tick was enqueued.
func (s *Server) ObserveScheduleFire(lag time.Duration) {
	s.metrics.schedulerLag.Observe(lag.Seconds())
}

// ServeMetrics serves /metrics (behind access) and /health/live on addr,
// for a process without the API (rat worker). It returns the bound address
// and a function that stops the listener.
func ServeMetrics(ctx context.Context, addr string, reg *prometheus.Registry, access MetricsAccess) (net.Addr, func(), error) {
	if err := access.check(addr); err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, rat.Errorf(rat.EINVALID, "listen on %s: %v", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", access.wrap(MetricsHandler(reg)))
	mux.HandleFunc("GET /health/live", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr(), func() {
		stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(stop)
	}, nil
}
