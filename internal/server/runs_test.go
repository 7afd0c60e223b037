package server

import (
	"bytes"
	"context"
	"github.com/ratdata/rat/internal/metrics/metricstest"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratdata/rat/internal/pipeline"

	dto "github.com/prometheus/client_model/go"
)

func TestRunThroughAPI(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, nil)
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 10), (2, NULL), (3, 5)) t(id, amount)")
	before := scrape(t, e)

	r := e.want(e.do("POST", "/api/v1/runs", map[string]any{"selectors": []string{"+gold.total"}, "branch": "main"}), http.StatusAccepted)
	id, _ := r.body["id"].(string)
	if id == "" {
		t.Fatalf("no run id: %s", r.raw)
	}
	done := e.waitRun(id)
	if done.body["status"] != "success" || done.body["id"] != id || len(done.body["nodes"].([]any)) != 2 {
		t.Fatalf("run = %s", done.raw)
	}
	runs := list(t, e.want(e.do("GET", "/api/v1/runs?status=success&target=main&limit=5", nil), http.StatusOK), "runs")
	if len(runs) != 1 || runs[0]["id"] != id || runs[0]["trigger"] != "api" || runs[0]["finished"] == nil {
		t.Fatalf("runs = %v", runs)
	}
	if got := list(t, e.want(e.do("GET", "/api/v1/runs?status=failed", nil), http.StatusOK), "runs"); len(got) != 0 {
		t.Fatalf("failed runs = %v", got)
	}
	if got := e.scalar("main", "SELECT total FROM gold.total"); got != "15" {
		t.Fatalf("gold.total = %s", got)
	}

	// The record is final a moment before the run returns (it deletes its
	// run branch after recording) and the metrics count it.
	after := scrape(t, e)
	for deadline := time.Now().Add(10 * time.Second); counter(after, "rat_runs_total", "success") == counter(before, "rat_runs_total", "success") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		after = scrape(t, e)
	}
	if d := counter(after, "rat_runs_total", "success") - counter(before, "rat_runs_total", "success"); d != 1 {
		t.Fatalf("rat_runs_total{status=success} moved by %v, want 1", d)
	}
	if d := counter(after, "rat_nodes_total", "success") - counter(before, "rat_nodes_total", "success"); d != 2 {
		t.Fatalf("rat_nodes_total{status=success} moved by %v, want 2", d)
	}
	// Two tables built on the run branch: at least two catalog commits.
	if d := counter(after, "rat_catalog_commits_total", "ok") - counter(before, "rat_catalog_commits_total", "ok"); d < 2 {
		t.Fatalf("rat_catalog_commits_total{result=ok} moved by %v, want at least 2", d)
	}
	if after["rat_catalog_commit_retries_total"] == nil || after["rat_catalog_commits_total"] == nil {
		t.Errorf("catalog commit metrics missing")
	}
	for _, h := range []string{"rat_run_duration_seconds", "rat_node_duration_seconds", "rat_query_duration_seconds", "rat_catalog_commit_duration_seconds"} {
		if n := after[h].GetMetric()[0].GetHistogram().GetSampleCount(); n == 0 {
			t.Errorf("%s has no samples", h)
		}
	}
	for _, name := range []string{"rat_cache_hits_total", "rat_cache_misses_total", "rat_scheduler_lag_seconds", "go_goroutines", "process_resident_memory_bytes"} {
		if after[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	if v := after["rat_data_disk_used_ratio"].GetMetric()[0].GetGauge().GetValue(); v <= 0 || v > 1 {
		t.Errorf("rat_data_disk_used_ratio = %v", v)
	}

	// Bad requests: each a 4xx with the JSON shape, and the server goes on.
	for name, c := range map[string]struct {
		body   any
		status int
	}{
		"unknown pipeline": {map[string]any{"selectors": []string{"gold.nope"}}, http.StatusNotFound},
		"unknown branch":   {map[string]any{"branch": "nope"}, http.StatusNotFound},
		"unknown field":    {map[string]any{"selector": "x"}, http.StatusBadRequest},
	} {
		if r := e.do("POST", "/api/v1/runs", c.body); r.status != c.status || r.errCode() == "" {
			t.Errorf("%s: %d %s, want %d", name, r.status, r.raw, c.status)
		}
	}
	if r := e.want(e.do("POST", "/api/v1/runs/"+id+"/cancel", nil), http.StatusConflict); !strings.Contains(r.errMessage(), "already finished") {
		t.Fatalf("cancel a finished run: %s", r.raw)
	}
	e.want(e.do("GET", "/api/v1/runs/nope", nil), http.StatusNotFound)
	e.want(e.do("POST", "/api/v1/runs/nope/cancel", nil), http.StatusNotFound)
}

func TestCancelRunLeavesTargetUntouched(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, nil)
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 10)) t(id, amount)")
	headBefore := e.want(e.do("GET", "/api/v1/branches/main", nil), http.StatusOK).body["head"]

	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.runner = func(_ context.Context, r *pipeline.Runner) {
		r.Progress = func(ev pipeline.Event) {
			if ev.Kind == "node_started" {
				once.Do(func() { close(started) })
				<-release // the node runs after the cancel
			}
		}
	}
	id := e.want(e.do("POST", "/api/v1/runs", map[string]any{}), http.StatusAccepted).body["id"].(string)
	<-started
	c := e.want(e.do("POST", "/api/v1/runs/"+id+"/cancel", nil), http.StatusAccepted)
	close(release)
	if c.body["status"] != "cancelling" {
		t.Fatalf("cancel = %s", c.raw)
	}
	done := e.waitRun(id)
	if done.body["status"] != "failed" || !strings.Contains(done.raw, "canceled") {
		t.Fatalf("cancelled run = %s", done.raw)
	}
	if head := e.want(e.do("GET", "/api/v1/branches/main", nil), http.StatusOK).body["head"]; head != headBefore {
		t.Fatalf("main moved from %v to %v after a cancelled run", headBefore, head)
	}
	e.want(e.do("GET", "/api/v1/tables/silver.orders?branch=main", nil), http.StatusNotFound)
	if n := counter(scrape(t, e), "rat_runs_total", "failed"); n != 1 {
		t.Fatalf("rat_runs_total{status=failed} = %v", n)
	}
}

func TestStopCancelsRunsAfterDeadline(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, nil)
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 10)) t(id, amount)")
	started := make(chan struct{})
	var once sync.Once
	e.runner = func(ctx context.Context, r *pipeline.Runner) {
		r.Progress = func(ev pipeline.Event) {
			if ev.Kind == "node_started" {
				once.Do(func() { close(started) })
				<-ctx.Done() // a node that only ends when cancelled
			}
		}
	}
	id := e.want(e.do("POST", "/api/v1/runs", map[string]any{}), http.StatusAccepted).body["id"].(string)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := e.srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// Stop returned: the run has ended, recorded as failed, main untouched.
	if r := e.want(e.do("GET", "/api/v1/runs/"+id, nil), http.StatusOK); r.body["status"] != "failed" {
		t.Fatalf("run after Stop = %s", r.raw)
	}
	e.want(e.do("GET", "/api/v1/tables/silver.orders", nil), http.StatusNotFound)
	if r := e.do("POST", "/api/v1/runs", map[string]any{}); r.status != http.StatusServiceUnavailable {
		t.Fatalf("a run after Stop: %d %s, want 503", r.status, r.raw)
	}
}

func TestUploadThenRunReadsLanding(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, map[string]string{
		"pipelines/bronze/orders.sql": "SELECT id, amount, _source_file FROM {{ landing('orders') }}\n",
	}, func(c *Config) { c.Limits.UploadBytes = 4096 })

	up := e.want(e.upload("orders", map[string]string{"orders-1.csv": "id,amount\n1,10\n2,20\n"}), http.StatusCreated)
	files := list(t, up, "files")
	if len(files) != 1 || files[0]["name"] != "orders-1.csv" || files[0]["size"] != float64(20) {
		t.Fatalf("upload = %s", up.raw)
	}
	id := e.want(e.do("POST", "/api/v1/runs", map[string]any{"selectors": []string{"bronze.orders"}}), http.StatusAccepted).body["id"].(string)
	if done := e.waitRun(id); done.body["status"] != "success" {
		t.Fatalf("run = %s", done.raw)
	}
	if got := e.scalar("main", "SELECT sum(amount) FROM bronze.orders WHERE _source_file = 'orders/orders-1.csv'"); got != "30" {
		t.Fatalf("sum(amount) = %s", got)
	}

	for name, c := range map[string]struct {
		files  map[string]string
		status int
	}{
		"backslash":    {map[string]string{`..\evil.csv`: "a\n1\n"}, http.StatusBadRequest},
		"hidden":       {map[string]string{".env.csv": "a\n1\n"}, http.StatusBadRequest},
		"unknown type": {map[string]string{"run.sh": "rm -rf /\n"}, http.StatusBadRequest},
		"too large":    {map[string]string{"big.csv": strings.Repeat("x", 8192)}, http.StatusRequestEntityTooLarge},
		"no file":      {map[string]string{}, http.StatusBadRequest},
	} {
		if r := e.upload("orders", c.files); r.status != c.status || r.errCode() == "" {
			t.Errorf("%s: %d %s, want %d", name, r.status, r.raw, c.status)
		}
	}
	// A directory in the name is dropped: the file lands inside the zone.
	e.want(e.upload("orders", map[string]string{"../../escape.csv": "id,amount\n3,1\n"}), http.StatusCreated)
	if _, err := os.Stat(filepath.Join(e.dir, "landing", "orders", "escape.csv")); err != nil {
		t.Fatalf("sanitised upload not in the zone: %v", err)
	}
	for _, p := range []string{filepath.Join(e.dir, "escape.csv"), filepath.Join(e.dir, "landing", "escape.csv")} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("upload escaped the zone to %s", p)
		}
	}
	e.want(e.upload(".hidden", map[string]string{"a.csv": "a\n1\n"}), http.StatusBadRequest)
	if ls, _ := os.ReadDir(filepath.Join(e.dir, "landing", "orders")); len(ls) != 2 {
		t.Fatalf("landing zone holds %d files, want 2 (refused uploads must store nothing)", len(ls))
	}
}

// upload posts files as multipart/form-data to a landing zone.
func (e *testEnv) upload(zone string, files map[string]string) response {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("note", "a plain field is ignored")
	for name, content := range files {
		fw, err := mw.CreateFormFile("file", name)
		if err != nil {
			e.t.Fatal(err)
		}
		fw.Write([]byte(content))
	}
	mw.Close()
	req, err := http.NewRequestWithContext(context.Background(), "POST", e.http.URL+"/api/v1/landing/"+zone, &buf)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return e.send(req)
}

// scrape parses /metrics with Prometheus's own text parser.
func scrape(t *testing.T, e *testEnv) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(e.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return metricstest.Parse(t, resp.StatusCode, resp.Body)
}

// counter returns a counter's value for a status label, 0 when absent.
func counter(fams map[string]*dto.MetricFamily, name, value string) float64 {
	for _, m := range fams[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if (l.GetName() == "status" || l.GetName() == "result") && l.GetValue() == value {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
