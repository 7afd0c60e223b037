package server

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFreshness(t *testing.T) {
	var mu sync.Mutex
	clock := time.Now()
	files := map[string]string{
		"pipelines/silver/fresh.sql":  "SELECT 1 AS id\n",
		"pipelines/silver/fresh.yaml": "freshness:\n  warn_after: {hours: 1}\n  error_after: {hours: 2}\n",
		"pipelines/silver/never.sql":  "SELECT 1 AS id\n",
		"pipelines/silver/never.yaml": "freshness: {warn_after: {minutes: 30}}\n",
		"pipelines/silver/plain.sql":  "SELECT 1 AS id\n",
	}
	e := newTestEnv(t, files, func(c *Config) {
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	})
	e.load("silver.fresh", "SELECT 1 AS id")
	status := func(after time.Duration) (map[string]string, map[string]float64) {
		t.Helper()
		mu.Lock()
		clock = time.Now().Add(after)
		mu.Unlock()
		got := map[string]string{}
		for _, tb := range list(t, e.want(e.do("GET", "/api/v1/freshness", nil), http.StatusOK), "tables") {
			got[tb["table"].(string)] = tb["status"].(string)
		}
		metrics := map[string]float64{}
		for _, m := range scrape(t, e)["rat_table_freshness_status"].GetMetric() {
			metrics[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
		return got, metrics
	}
	for _, c := range []struct {
		after  time.Duration
		status string
		metric float64
	}{{0, "ok", 0}, {90 * time.Minute, "warn", 1}, {3 * time.Hour, "error", 2}} {
		got, metrics := status(c.after)
		if len(got) != 2 || got["silver.fresh"] != c.status || got["silver.never"] != "unknown" {
			t.Fatalf("after %s: freshness %v, want silver.fresh %s and silver.never unknown", c.after, got, c.status)
		}
		if metrics["silver.fresh"] != c.metric || metrics["silver.never"] != -1 || len(metrics) != 2 {
			t.Fatalf("after %s: rat_table_freshness_status %v", c.after, metrics)
		}
	}
}

// TestInvalidCron: a workspace with a bad schedule answers 400 with the
// place and the fix, and the server keeps serving.
func TestInvalidCron(t *testing.T) {
	e := newTestEnv(t, map[string]string{
		"pipelines/silver/x.sql":  "SELECT 1 AS id\n",
		"pipelines/silver/x.yaml": "triggers:\n  - {type: schedule, cron: '0 25 * * *'}\n",
	}, nil)
	for _, path := range []string{"/api/v1/triggers", "/api/v1/workspace"} {
		r := e.do("GET", path, nil)
		if r.status != http.StatusBadRequest || r.errCode() != "invalid" || !strings.Contains(r.raw, "pipelines/silver/x.yaml:2") || !strings.Contains(r.raw, "cron") {
			t.Fatalf("GET %s: %d %s", path, r.status, r.raw)
		}
	}
	if r := e.do("POST", "/api/v1/runs", map[string]any{}); r.status != http.StatusBadRequest {
		t.Fatalf("POST /runs: %d %s", r.status, r.raw)
	}
	if r := e.do("GET", "/health/live", nil); r.status != http.StatusOK {
		t.Fatalf("the server stopped serving: %d", r.status)
	}
}
