package server

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/metrics"
	"github.com/ratdata/rat/internal/monitor"
)

// TestStatusEndpoint: GET /api/v1/status serves the report the app
// gathers, 503 without one; the overview's gauges follow the configured
// thresholds.
func TestStatusEndpoint(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, uiFiles, func(c *Config) {
		c.Status = func(ctx context.Context, stale func(context.Context) ([]monitor.Stale, error)) (*monitor.Report, error) {
			r := &monitor.Report{Generated: time.Now(), Processes: []monitor.Process{{Role: "worker", Host: "w-2",
				Resources: metrics.Snapshot{MemoryBytes: 93, MemoryLimitBytes: 100}}}}
			var err error
			if r.Stale, err = stale(ctx); err != nil {
				return nil, err
			}
			monitor.Evaluate(r, config.DefaultThresholds)
			return r, nil
		}
		c.Thresholds = config.Thresholds{Memory: config.Levels{Warning: 0.01, Critical: 0.02}, CPU: config.DefaultThresholds.CPU,
			Disk: config.Levels{Warning: 0.001, Critical: 0.002}, QueryLatency: config.DefaultThresholds.QueryLatency}
	})
	st := e.want(e.do("GET", "/api/v1/status", nil), http.StatusOK)
	ws := list(t, st, "warnings")
	// The server's freshness says gold.total was never built.
	if st.body["status"] != "critical" || len(ws) != 2 || !strings.Contains(ws[0]["message"].(string), "worker w-2 at 93 % memory") ||
		ws[1]["message"] != "table gold.total never built" {
		t.Fatalf("status = %v", st.body)
	}
	for _, g := range list(t, e.want(e.do("GET", "/api/v1/overview", nil), http.StatusOK), "gauges") {
		if g["name"] == "disk" && (g["warn"] != 0.001 || g["status"] != "critical") {
			t.Errorf("disk gauge with lowered thresholds = %v", g)
		}
		// This process's memory against its limit is measured (where
		// there is a /proc).
		if _, err := os.Stat("/proc/self/status"); err == nil && g["name"] == "memory" && (g["status"] == "unknown" || g["value"].(float64) <= 0) {
			t.Errorf("memory gauge = %v", g)
		}
	}
	bare := newTestEnv(t, uiFiles, nil)
	bare.want(bare.do("GET", "/api/v1/status", nil), http.StatusServiceUnavailable)
}
