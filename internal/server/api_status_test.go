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

// TestStatusEndpointGuards tries GET /api/v1/status as an attacker would:
// a forged Host on loopback, no or a short token off loopback, and a
// report too large to send.
func TestStatusEndpointGuards(t *testing.T) {
	t.Parallel()
	small := func(ctx context.Context, _ func(context.Context) ([]monitor.Stale, error)) (*monitor.Report, error) {
		return &monitor.Report{Generated: time.Now(), Status: monitor.OK}, nil
	}
	local := newTestEnv(t, uiFiles, func(c *Config) { c.Status = small })
	if r := local.raw("GET", "/api/v1/status", "", map[string]string{"Host": "evil.example:" + local.port()}); r.status != http.StatusMisdirectedRequest {
		t.Errorf("forged Host: %d %s", r.status, r.raw)
	}
	open := newTestEnv(t, uiFiles, func(c *Config) {
		c.Status = small
		c.Listen = "0.0.0.0:3030"
		c.Tokens = []Token{{Name: "viewer", Secret: readTok, Role: RoleRead}}
	})
	for token, want := range map[string]int{"": http.StatusUnauthorized, "short": http.StatusUnauthorized, readTok + "x": http.StatusUnauthorized, readTok: http.StatusOK} {
		open.token = token
		if r := open.do("GET", "/api/v1/status", nil); r.status != want {
			t.Errorf("token %q: %d %s, want %d", token, r.status, r.raw, want)
		}
	}
	// A report over the byte cap is an error, never a cut answer (its
	// cause goes to the server log, like every internal error).
	huge := newTestEnv(t, uiFiles, func(c *Config) {
		c.Status = func(ctx context.Context, _ func(context.Context) ([]monitor.Stale, error)) (*monitor.Report, error) {
			r := &monitor.Report{Generated: time.Now()}
			for i := 0; i < 20000; i++ {
				r.Processes = append(r.Processes, monitor.Process{Role: "worker", Host: strings.Repeat("h", 200)})
			}
			return r, nil
		}
	})
	r := huge.do("GET", "/api/v1/status", nil)
	if r.status != http.StatusInternalServerError || r.errCode() != "internal" || len(r.raw) > 4096 || strings.Contains(r.raw, "hhhh") {
		t.Errorf("a status over the cap: %d %.300s", r.status, r.raw)
	}
}
