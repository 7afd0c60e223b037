// Package metrics is every Prometheus collector of rat, registered the
// same way by rat serve and rat worker: what every process reports
// (memory, CPU, Go runtime, read cache, data disk), what a process that
// executes nodes counts (runs, nodes, durations), and what the API server
// measures (queries, catalog commits, scheduler lag, queue backlog, table
// freshness). The names, labels and help texts are a contract with
// dashboards: change them only on purpose.
//
// The constructor takes plain values and functions; the code that sees an
// event (a run finished, a node settled, a commit landed) calls a small
// method. Handler serves /metrics behind the token rule. The package links
// neither DuckDB nor the HTTP server.
package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/ratdata/rat"
)

// Config says what a process reports. Every field is optional.
type Config struct {
	// Registry receives the collectors; nil = a new one.
	Registry *prometheus.Registry
	// Cache reports the read cache's hits and misses (rat_cache_*); nil =
	// no read cache.
	Cache func() (hits, misses int64)
	// StateDir is the directory whose disk rat_data_disk_used_ratio
	// reports; "" = no such metric.
	StateDir string
	// Exec: this process executes nodes (rat serve with workers, rat
	// worker), so it counts runs and nodes.
	Exec bool
	// Serve: this process serves the API and schedules runs (rat serve),
	// so it measures queries, catalog commits and scheduler lag.
	Serve bool
	// QueueWaiting reports the runs waiting for a worker and the wait of
	// the oldest (rat_queue_depth, rat_queue_oldest_wait_seconds), asked
	// once per scrape; nil = no such metrics.
	QueueWaiting func(ctx context.Context) (int, time.Duration, error)
	// Meter reports the process's memory, CPU and volumes against their
	// limits (rat_memory_*, rat_cpu_*, rat_disk_*); nil = not reported.
	Meter *Meter
	// Version is rat's version, for rat_build_info; "" = not reported.
	Version string
	// Logger receives the errors of scrapes (freshness); nil = slog.Default().
	Logger *slog.Logger
}

// Metrics holds rat's instruments. Its methods may be called on a nil
// *Metrics, and those of a group the process does not report do nothing.
type Metrics struct {
	reg   *prometheus.Registry
	log   *slog.Logger
	exec  *execMetrics
	serve *serveMetrics
}

// durationBuckets span a 10 ms query to a two-hour run.
var durationBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200}

// The statuses a run or node ends with (pipeline.Status values), whose
// series exist from the start so that rates work at once.
const (
	statusSuccess = "success"
	statusFailed  = "failed"
	statusSkipped = "skipped"
)

// New registers the collectors cfg asks for. It starts nothing.
func New(cfg Config) (*Metrics, error) {
	m := &Metrics{reg: cfg.Registry, log: cfg.Logger}
	if m.reg == nil {
		m.reg = prometheus.NewRegistry()
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	cs := processCollectors(cfg)
	if cfg.Exec {
		m.exec = newExecMetrics()
		cs = append(cs, m.exec.collectors()...)
	}
	if cfg.Serve {
		m.serve = newServeMetrics()
		cs = append(cs, m.serve.collectors()...)
	}
	if cfg.QueueWaiting != nil {
		cs = append(cs, newQueueCollector(cfg.QueueWaiting))
	}
	if err := m.register(cs...); err != nil {
		return nil, err
	}
	return m, nil
}

// Registry is the registry the collectors are in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

func (m *Metrics) register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// processCollectors are what every rat process reports: memory, CPU and
// Go runtime, the read cache's hits and misses, and the use of the disk
// holding the state directory.
func processCollectors(cfg Config) []prometheus.Collector {
	cs := []prometheus.Collector{
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	}
	if stats := cfg.Cache; stats != nil {
		cs = append(cs,
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "rat_cache_hits_total", Help: "Data file reads served by the local read cache.",
			}, func() float64 { h, _ := stats(); return float64(h) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "rat_cache_misses_total", Help: "Data file reads that downloaded the file into the read cache.",
			}, func() float64 { _, n := stats(); return float64(n) }),
		)
	}
	if cfg.Meter != nil {
		cs = append(cs, newResourceCollector(cfg.Meter))
	}
	if cfg.Version != "" {
		cs = append(cs, buildInfo(cfg.Version))
	}
	if dir := cfg.StateDir; dir != "" {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rat_data_disk_used_ratio", Help: "Used fraction of the file system holding rat's state directory.",
		}, func() float64 { return DiskUsed(dir) }))
	}
	return cs
}

// execMetrics count the runs and nodes a process executes: rat serve with
// its workers, rat worker. In a cluster each worker reports the nodes it
// built and the runs it finished; sum them over the processes.
type execMetrics struct {
	runs         *prometheus.CounterVec
	nodes        *prometheus.CounterVec
	runDuration  prometheus.Histogram
	nodeDuration prometheus.Histogram
	// maintenance runs (rat_maintenance_*), by task
	maintenance         *prometheus.CounterVec
	maintenanceDuration *prometheus.HistogramVec
}

func newExecMetrics() *execMetrics {
	e := &execMetrics{
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
	e.maintenance = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rat_maintenance_runs_total", Help: "Maintenance runs (maintenance.<task>.schedule) finished by this process, by task and status.",
	}, []string{"task", "status"})
	e.maintenanceDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "rat_maintenance_duration_seconds", Help: "Duration of maintenance runs, by task.", Buckets: durationBuckets,
	}, []string{"task"})
	for _, st := range []string{statusSuccess, statusFailed} {
		e.runs.WithLabelValues(st)
		e.nodes.WithLabelValues(st)
	}
	e.nodes.WithLabelValues(statusSkipped)
	return e
}

func (e *execMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{e.runs, e.nodes, e.runDuration, e.nodeDuration, e.maintenance, e.maintenanceDuration}
}

// RunFinished counts a finished run by its status.
func (m *Metrics) RunFinished(status string, d time.Duration) {
	if m == nil || m.exec == nil {
		return
	}
	m.exec.runs.WithLabelValues(status).Inc()
	m.exec.runDuration.Observe(d.Seconds())
}

// MaintenanceFinished counts a finished maintenance run by its task and
// status; a skipped one took no time worth a sample.
func (m *Metrics) MaintenanceFinished(task, status string, d time.Duration) {
	if m == nil || m.exec == nil {
		return
	}
	m.exec.maintenance.WithLabelValues(task, status).Inc()
	if status != statusSkipped {
		m.exec.maintenanceDuration.WithLabelValues(task).Observe(d.Seconds())
	}
}

// NodeSettled counts a node that ended (built, failed or skipped); a
// skipped node took no time worth a sample.
func (m *Metrics) NodeSettled(status string, d time.Duration) {
	if m == nil || m.exec == nil {
		return
	}
	m.exec.nodes.WithLabelValues(status).Inc()
	if status != statusSkipped {
		m.exec.nodeDuration.Observe(d.Seconds())
	}
}

// serveMetrics are what the API server measures.
type serveMetrics struct {
	queryDuration  *prometheus.HistogramVec
	commits        *prometheus.CounterVec
	commitRetries  prometheus.Counter
	commitDuration prometheus.Histogram
	schedulerLag   prometheus.Histogram
}

func newServeMetrics() *serveMetrics {
	s := &serveMetrics{
		queryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rat_query_duration_seconds", Buckets: durationBuckets,
			Help: "Duration of the queries rat serve answers, by kind: cli (rat's own client: rat query --server) or api (the UI, table previews and other API clients). A pipeline's queries are its nodes: rat_node_duration_seconds.",
		}, []string{"kind"}),
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
	for _, k := range []string{QueryAPI, QueryCLI} {
		s.queryDuration.WithLabelValues(k)
	}
	for _, r := range []string{"ok", "conflict", "error"} {
		s.commits.WithLabelValues(r)
	}
	return s
}

func (s *serveMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.queryDuration, s.commits, s.commitRetries, s.commitDuration, s.schedulerLag}
}

// Query kinds: the label of rat_query_duration_seconds.
const (
	QueryAPI = "api" // the UI, table previews, other API clients
	QueryCLI = "cli" // rat's own client (rat query --server)
	QueryPG  = "pg"  // Postgres clients (rat serve --pg-listen)
)

// QueryDone records the duration of a query of kind QueryAPI or QueryCLI.
func (m *Metrics) QueryDone(kind string, d time.Duration) {
	if m == nil || m.serve == nil {
		return
	}
	m.serve.queryDuration.WithLabelValues(kind).Observe(d.Seconds())
}

// QueryLatency estimates a quantile (0.95: p95) of the durations of the
// queries rat serve answered (both kinds) in seconds; false before any.
func (m *Metrics) QueryLatency(q float64) (float64, bool) {
	if m == nil || m.serve == nil {
		return 0, false
	}
	return histogramQuantile(q, m.serve.queryDuration.WithLabelValues(QueryAPI), m.serve.queryDuration.WithLabelValues(QueryCLI))
}

// CommitDone records one catalog commit: its duration, the transactions
// it took and how it ended.
func (m *Metrics) CommitDone(d time.Duration, attempts int, err error) {
	if m == nil || m.serve == nil {
		return
	}
	result := "ok"
	switch {
	case rat.IsCode(err, rat.ECONFLICT):
		result = "conflict"
	case err != nil:
		result = "error"
	}
	m.serve.commits.WithLabelValues(result).Inc()
	m.serve.commitDuration.Observe(d.Seconds())
	if attempts > 1 {
		m.serve.commitRetries.Add(float64(attempts - 1))
	}
}

// ScheduleFired records how late a schedule tick was enqueued.
func (m *Metrics) ScheduleFired(lag time.Duration) {
	if m == nil || m.serve == nil {
		return
	}
	m.serve.schedulerLag.Observe(lag.Seconds())
}
