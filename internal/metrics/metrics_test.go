package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"

	dto "github.com/prometheus/client_model/go"
	"github.com/ratdata/rat/internal/metrics/metricstest"
)

// scrape parses a Metrics' /metrics with Prometheus's own text parser.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler(Access{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return metricstest.Parse(t, rec.Code, rec.Body)
}

// series returns the value of a counter or gauge with one label, and
// whether the series exists.
func series(fams map[string]*dto.MetricFamily, name, label string) (float64, bool) {
	for _, m := range fams[name].GetMetric() {
		if label == "" && len(m.GetLabel()) == 0 || len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label {
			if c := m.GetCounter(); c != nil {
				return c.GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// TestGroups: each process reports what it does — every process its
// memory, cache and disk; a worker its runs and nodes; rat serve its
// queries, commits, scheduler lag and queue — and nothing else.
func TestGroups(t *testing.T) {
	t.Parallel()
	cache := func() (int64, int64) { return 3, 4 }
	waiting := func(context.Context) (int, time.Duration, error) { return 2, 1500 * time.Millisecond, nil }
	for _, c := range []struct {
		name    string
		cfg     Config
		has     []string
		hasNone []string
	}{
		{"bare", Config{}, []string{"go_goroutines", "process_resident_memory_bytes"},
			[]string{"rat_cache_hits_total", "rat_data_disk_used_ratio", "rat_runs_total", "rat_catalog_commits_total", "rat_queue_depth"}},
		{"worker", Config{Cache: cache, StateDir: t.TempDir(), Exec: true},
			[]string{"rat_cache_hits_total", "rat_cache_misses_total", "rat_data_disk_used_ratio", "rat_runs_total", "rat_nodes_total", "rat_run_duration_seconds", "rat_node_duration_seconds"},
			[]string{"rat_query_duration_seconds", "rat_catalog_commits_total", "rat_scheduler_lag_seconds", "rat_queue_depth"}},
		{"serve --no-worker", Config{Serve: true, QueueWaiting: waiting},
			[]string{"rat_query_duration_seconds", "rat_catalog_commits_total", "rat_catalog_commit_retries_total", "rat_catalog_commit_duration_seconds", "rat_scheduler_lag_seconds", "rat_queue_depth", "rat_queue_oldest_wait_seconds"},
			[]string{"rat_runs_total", "rat_nodes_total"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := New(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			// Histograms appear once they have a sample.
			m.QueryDone(QueryAPI, time.Millisecond)
			m.ScheduleFired(time.Second)
			m.CommitDone(time.Millisecond, 1, nil)
			m.RunFinished("success", time.Second)
			m.NodeSettled("success", time.Second)
			fams := scrape(t, m)
			for _, name := range c.has {
				if fams[name] == nil {
					t.Errorf("%s missing", name)
				}
			}
			for _, name := range c.hasNone {
				if fams[name] != nil {
					t.Errorf("%s reported", name)
				}
			}
		})
	}
	m, err := New(Config{Cache: cache, QueueWaiting: waiting})
	if err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, m)
	for name, want := range map[string]float64{"rat_cache_hits_total": 3, "rat_cache_misses_total": 4, "rat_queue_depth": 2, "rat_queue_oldest_wait_seconds": 1.5} {
		if got, _ := series(fams, name, ""); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// A queue that cannot answer leaves its series out rather than reporting
// an empty queue.
func TestQueueUnavailable(t *testing.T) {
	t.Parallel()
	m, err := New(Config{QueueWaiting: func(context.Context) (int, time.Duration, error) { return 0, 0, errors.New("down") }})
	if err != nil {
		t.Fatal(err)
	}
	if fams := scrape(t, m); fams["rat_queue_depth"] != nil || fams["rat_queue_oldest_wait_seconds"] != nil {
		t.Errorf("an unavailable queue reports %v %v", fams["rat_queue_depth"], fams["rat_queue_oldest_wait_seconds"])
	}
}

// TestExecCounts: every status series exists from the start, so rates
// work at once; a skipped node counts but takes no duration sample.
func TestExecCounts(t *testing.T) {
	t.Parallel()
	m, err := New(Config{Exec: true})
	if err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, m)
	for _, s := range []struct{ name, status string }{
		{"rat_runs_total", "success"}, {"rat_runs_total", "failed"},
		{"rat_nodes_total", "success"}, {"rat_nodes_total", "failed"}, {"rat_nodes_total", "skipped"},
	} {
		if v, ok := series(fams, s.name, s.status); !ok || v != 0 {
			t.Errorf("%s{status=%s} at start = %v, %v; want 0", s.name, s.status, v, ok)
		}
	}
	m.NodeSettled("success", 2*time.Second)
	m.NodeSettled("skipped", 0)
	m.NodeSettled("failed", time.Second)
	m.RunFinished("failed", 3*time.Second)
	fams = scrape(t, m)
	for _, s := range []struct {
		name, status string
		want         float64
	}{{"rat_nodes_total", "success", 1}, {"rat_nodes_total", "skipped", 1}, {"rat_nodes_total", "failed", 1}, {"rat_runs_total", "failed", 1}, {"rat_runs_total", "success", 0}} {
		if v, _ := series(fams, s.name, s.status); v != s.want {
			t.Errorf("%s{status=%s} = %v, want %v", s.name, s.status, v, s.want)
		}
	}
	h := fams["rat_node_duration_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 3 {
		t.Errorf("rat_node_duration_seconds: %d samples summing to %v, want 2 summing to 3 (the skipped node not sampled)", h.GetSampleCount(), h.GetSampleSum())
	}
	// A process that counts nothing may still be called.
	var none *Metrics
	none.RunFinished("success", time.Second)
	none.NodeSettled("success", time.Second)
	none.CommitDone(time.Second, 1, nil)
	none.ScheduleFired(time.Second)
	none.QueryDone(QueryCLI, time.Second)
}

// TestMaintenanceCounts: maintenance runs count by task and status; a
// skipped one (another run of the task was running) takes no sample.
func TestMaintenanceCounts(t *testing.T) {
	t.Parallel()
	m, err := New(Config{Exec: true})
	if err != nil {
		t.Fatal(err)
	}
	m.MaintenanceFinished("expire", "success", 2*time.Second)
	m.MaintenanceFinished("expire", "success", time.Second)
	m.MaintenanceFinished("expire", "skipped", 0)
	m.MaintenanceFinished("orphans", "failed", time.Second)
	counts := map[string]float64{}
	samples := map[string]uint64{}
	fams := scrape(t, m)
	for _, s := range fams["rat_maintenance_runs_total"].GetMetric() {
		l := map[string]string{}
		for _, p := range s.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		counts[l["task"]+"/"+l["status"]] = s.GetCounter().GetValue()
	}
	for _, s := range fams["rat_maintenance_duration_seconds"].GetMetric() {
		samples[s.GetLabel()[0].GetValue()] = s.GetHistogram().GetSampleCount()
	}
	if fmt.Sprint(counts) != "map[expire/skipped:1 expire/success:2 orphans/failed:1]" {
		t.Errorf("rat_maintenance_runs_total: %v", counts)
	}
	if fmt.Sprint(samples) != "map[expire:2 orphans:1]" {
		t.Errorf("rat_maintenance_duration_seconds samples: %v, want the skipped run not sampled", samples)
	}
	var none *Metrics
	none.MaintenanceFinished("expire", "success", time.Second)
}

// TestCommitResults: a commit ends ok, in a conflict (by error code) or
// in an error; retries count the transactions beyond the first.
func TestCommitResults(t *testing.T) {
	t.Parallel()
	m, err := New(Config{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	m.CommitDone(time.Millisecond, 1, nil)
	m.CommitDone(time.Millisecond, 3, nil)
	m.CommitDone(time.Millisecond, 1, rat.Errorf(rat.ECONFLICT, "table moved"))
	m.CommitDone(time.Millisecond, 2, errors.New("disk full"))
	fams := scrape(t, m)
	for result, want := range map[string]float64{"ok": 2, "conflict": 1, "error": 1} {
		if v, _ := series(fams, "rat_catalog_commits_total", result); v != want {
			t.Errorf("rat_catalog_commits_total{result=%s} = %v, want %v", result, v, want)
		}
	}
	if v, _ := series(fams, "rat_catalog_commit_retries_total", ""); v != 3 {
		t.Errorf("rat_catalog_commit_retries_total = %v, want 3", v)
	}
	if n := fams["rat_catalog_commit_duration_seconds"].GetMetric()[0].GetHistogram().GetSampleCount(); n != 4 {
		t.Errorf("rat_catalog_commit_duration_seconds has %d samples, want 4", n)
	}
}

// TestQueryLatency estimates quantiles as Prometheus' histogram_quantile
// does: inside the bucket the rank falls in.
func TestQueryLatency(t *testing.T) {
	t.Parallel()
	m, err := New(Config{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.QueryLatency(.95); ok {
		t.Fatal("an empty histogram has a p95")
	}
	for i := 0; i < 95; i++ {
		m.QueryDone(QueryAPI, 20*time.Millisecond) // bucket (0.01, 0.025]
	}
	for i := 0; i < 5; i++ {
		m.QueryDone(QueryCLI, 20*time.Second) // bucket (10, 30]: the kinds are summed
	}
	if v, _ := m.QueryLatency(.95); v <= 0.01 || v > 0.025 {
		t.Errorf("p95 = %v, want inside (0.01, 0.025]", v)
	}
	if v, _ := m.QueryLatency(.99); v <= 10 || v > 30 {
		t.Errorf("p99 = %v, want inside (10, 30]", v)
	}
	// Each kind is its own series.
	fams := scrape(t, m)
	counts := map[string]uint64{}
	for _, metric := range fams["rat_query_duration_seconds"].GetMetric() {
		for _, l := range metric.GetLabel() {
			if l.GetName() == "kind" {
				counts[l.GetValue()] = metric.GetHistogram().GetSampleCount()
			}
		}
	}
	if counts[QueryAPI] != 95 || counts[QueryCLI] != 5 {
		t.Errorf("rat_query_duration_seconds by kind: %v, want api 95 and cli 5", counts)
	}
	if _, ok := (&Metrics{}).QueryLatency(.95); ok {
		t.Error("a process without the API has a p95")
	}
}

// TestMetricsToken: with RAT_METRICS_TOKEN set, the /metrics of rat worker
// --listen answers only to it or an API token; /health/live stays open
// (rat serve: the same test in internal/server).
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	const metricsTok, readTok = "metrics-token-0123456789abcdef012345", "read-token-0123456789abcdef0123456"
	m, err := New(Config{Exec: true})
	if err != nil {
		t.Fatal(err)
	}
	addr, stop, err := m.Serve(t.Context(), "127.0.0.1:0", Access{Token: metricsTok, Secrets: []string{readTok}})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	base := "http://" + addr.String()
	metricstest.CheckTokenGate(t, base, metricsTok, readTok, `rat_runs_total{status="success"} 0`)
	// Without a metrics token, /metrics is open.
	rec := httptest.NewRecorder()
	m.Handler(Access{Secrets: []string{readTok}}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Errorf("open /metrics: %d", rec.Code)
	}
}

// A metrics token others could guess is refused on an address they can
// reach (rat worker --listen 0.0.0.0); on loopback any length will do.
func TestShortMetricsTokenOffLoopback(t *testing.T) {
	t.Parallel()
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Serve(t.Context(), "0.0.0.0:0", Access{Token: "short-metrics"}); err == nil || !strings.Contains(err.Error(), "RAT_METRICS_TOKEN is 13 bytes long") || strings.Contains(err.Error(), "short-metrics") {
		t.Errorf("rat worker --listen 0.0.0.0 with a short metrics token: %v", err)
	}
	_, stop, err := m.Serve(t.Context(), "127.0.0.1:0", Access{Token: "short-metrics"})
	if err != nil {
		t.Fatalf("loopback with a short metrics token: %v", err)
	}
	stop()
}

// TestFreshness: each table with a policy reports its status code, and its
// age once built.
func TestFreshness(t *testing.T) {
	t.Parallel()
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	err = m.WatchFreshness(func(context.Context) ([]Freshness, error) {
		return []Freshness{
			{Table: "a.ok", Status: "ok", AgeSeconds: 60, Built: true},
			{Table: "a.warn", Status: "warn", AgeSeconds: 7200, Built: true},
			{Table: "a.error", Status: "error", AgeSeconds: 90000, Built: true},
			{Table: "a.never", Status: "unknown"},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, m)
	for table, want := range map[string]float64{"a.ok": 0, "a.warn": 1, "a.error": 2, "a.never": -1} {
		if v, ok := series(fams, "rat_table_freshness_status", table); !ok || v != want {
			t.Errorf("rat_table_freshness_status{table=%s} = %v, %v; want %v", table, v, ok, want)
		}
	}
	if v, _ := series(fams, "rat_table_age_seconds", "a.warn"); v != 7200 {
		t.Errorf("rat_table_age_seconds{table=a.warn} = %v", v)
	}
	if _, ok := series(fams, "rat_table_age_seconds", "a.never"); ok {
		t.Error("a table never built has an age")
	}
}
