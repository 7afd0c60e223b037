package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
)

// Tokens of a server off loopback: at least 32 bytes.
const (
	readTok  = "read-secret-1-0123456789abcdef0123"
	runTok   = "run-secret-2-0123456789abcdef01234"
	adminTok = "admin-secret-3-0123456789abcdef0123"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, func(c *Config) {
		c.Listen = "0.0.0.0:3030"
		c.Tokens = []Token{
			{Name: "viewer", Secret: readTok, Role: RoleRead},
			{Name: "ci", Secret: runTok, Role: RoleRun},
			{Name: "ops", Secret: adminTok, Role: RoleAdmin},
		}
		c.Settings = func() []config.Setting {
			return []config.Setting{{Key: "api_token", Value: config.Secret(adminTok).String(), Source: "env RAT_API_TOKEN"}}
		}
	})
	e.load("bronze.raw", "SELECT 1 AS id, 1 AS amount")

	for _, c := range []struct {
		token, method, path string
		body                any
		status              int
	}{
		{"", "GET", "/api/v1/tables", nil, http.StatusUnauthorized},
		{"wrong-secret", "GET", "/api/v1/tables", nil, http.StatusUnauthorized},
		{readTok + "x", "GET", "/api/v1/tables", nil, http.StatusUnauthorized},
		{readTok, "GET", "/api/v1/tables", nil, http.StatusOK},
		{readTok, "POST", "/api/v1/runs", map[string]any{}, http.StatusForbidden},
		{readTok, "POST", "/api/v1/query", map[string]any{"sql": "SELECT 1"}, http.StatusForbidden},
		{runTok, "POST", "/api/v1/query", map[string]any{"sql": "SELECT 1"}, http.StatusOK},
		{runTok, "POST", "/api/v1/branches", map[string]any{"name": "dev"}, http.StatusForbidden},
		{adminTok, "POST", "/api/v1/branches", map[string]any{"name": "dev"}, http.StatusCreated},
		{adminTok, "DELETE", "/api/v1/branches/dev", nil, http.StatusNoContent},
	} {
		e.token = c.token
		r := e.do(c.method, c.path, c.body)
		if r.status != c.status {
			t.Errorf("%s %s with %q: %d %s, want %d", c.method, c.path, c.token, r.status, r.raw, c.status)
		}
		if c.status == http.StatusUnauthorized && r.errCode() != rat.EUNAUTHORIZED {
			t.Errorf("401 body: %s", r.raw)
		}
		if c.status == http.StatusForbidden && (r.errCode() != "forbidden" || !strings.Contains(r.errMessage(), "needs")) {
			t.Errorf("403 body: %s", r.raw)
		}
		for _, secret := range []string{readTok, runTok, adminTok} {
			if strings.Contains(r.raw, secret) {
				t.Errorf("%s %s: a token appears in the response: %s", c.method, c.path, r.raw)
			}
		}
	}
	e.token = adminTok
	if r := e.want(e.do("GET", "/api/v1/config", nil), http.StatusOK); strings.Contains(r.raw, adminTok) || !strings.Contains(r.raw, "api_token") {
		t.Fatalf("config leaks or lacks the token: %s", r.raw)
	}
	// Health and metrics need no token.
	e.token = ""
	e.want(e.do("GET", "/health/live", nil), http.StatusOK)
	if resp, err := http.Get(e.http.URL + "/metrics"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics without a token: %v %v", resp, err)
	}
}

func TestListenNeedsTokenOffLoopback(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil, nil)
	base := e.srv.cfg
	for _, addr := range []string{"0.0.0.0:3030", ":3030", "192.168.1.10:3030", "[::]:3030"} {
		cfg := base
		cfg.Listen, cfg.Metrics = addr, nil
		_, err := New(cfg)
		want := "refusing to listen on " + addr + " without a token: set RAT_API_TOKEN"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(%s) = %v, want %q", addr, err, want)
		}
	}
	cfg := base
	cfg.Listen, cfg.Metrics = "3030", nil
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "want host:port") {
		t.Errorf("New(3030) = %v, want a host:port error", err)
	}
	for _, addr := range []string{"127.0.0.1:3030", "localhost:3030", "[::1]:3030"} {
		cfg := base
		cfg.Listen, cfg.Metrics = addr, nil
		if _, err := New(cfg); err != nil {
			t.Errorf("New(%s) without tokens: %v", addr, err)
		}
	}

	// Start owns a real listener; Stop releases it.
	cfg = base
	cfg.Listen, cfg.Metrics = "127.0.0.1:0", nil
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	url := "http://" + s.Addr().String()
	resp, err := http.Get(url + "/api/v1/tables")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"tables"`) {
		t.Fatalf("loopback without tokens: %d %s", resp.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url + "/health/live"); err == nil {
		t.Fatal("still serving after Stop")
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	var storeDown atomic.Bool
	e := newTestEnv(t, nil, func(c *Config) {
		c.Checks = append(c.Checks, Check{Name: "object_store", Fn: func(context.Context) error {
			if storeDown.Load() {
				return errors.New("dial tcp 10.0.0.1:9000: secret-endpoint unreachable")
			}
			return nil
		}})
	})
	r := e.want(e.do("GET", "/health/ready", nil), http.StatusOK)
	if checks := r.body["checks"].(map[string]any); checks["catalog"] != "ok" || checks["object_store"] != "ok" {
		t.Fatalf("ready = %s", r.raw)
	}
	storeDown.Store(true)
	r = e.want(e.do("GET", "/health/ready", nil), http.StatusServiceUnavailable)
	checks := r.body["checks"].(map[string]any)
	if checks["object_store"] != "unavailable" || checks["catalog"] != "ok" || r.errCode() != rat.EUNAVAILABLE ||
		!strings.Contains(r.errMessage(), "object_store") {
		t.Fatalf("not ready = %s", r.raw)
	}
	if strings.Contains(r.raw, "secret-endpoint") {
		t.Fatalf("readiness leaks the cause: %s", r.raw)
	}
	e.want(e.do("GET", "/health/live", nil), http.StatusOK)
}

// TestShortTokensOffLoopback: a token others could guess is refused on an
// address others can reach; on loopback any length will do.
func TestShortTokensOffLoopback(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil, nil)
	short := []Token{{Name: "ops", Secret: adminTok, Role: RoleAdmin}, {Name: "dash", Secret: "sixteen-chars-ok", Role: RoleRead}}
	for _, addr := range []string{"0.0.0.0:3030", "192.168.1.10:3030", "[::]:3030"} {
		cfg := e.srv.cfg
		cfg.Listen, cfg.Metrics, cfg.Tokens = addr, nil, short
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), `token "dash" is 16 bytes long`) || !strings.Contains(err.Error(), "at least 32 bytes") || strings.Contains(err.Error(), "sixteen-chars-ok") {
			t.Errorf("New(%s) with a 16-byte token = %v", addr, err)
		}
		cfg.Tokens, cfg.MetricsToken = short[:1], "short-metrics"
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "RAT_METRICS_TOKEN is 13 bytes long") {
			t.Errorf("New(%s) with a short metrics token = %v", addr, err)
		}
		cfg.MetricsToken = ""
		if _, err := New(cfg); err != nil {
			t.Errorf("New(%s) with a 35-byte token: %v", addr, err)
		}
	}
	cfg := e.srv.cfg
	cfg.Listen, cfg.Metrics, cfg.Tokens, cfg.MetricsToken = "127.0.0.1:3030", nil, short, "short-metrics"
	if _, err := New(cfg); err != nil {
		t.Errorf("loopback with short tokens: %v", err)
	}
}

// TestMetricsToken: with RAT_METRICS_TOKEN set, /metrics of rat serve
// answers only to it or an API token (rat worker --listen: the same test
// in internal/metrics).
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	const metricsTok = "metrics-token-0123456789abcdef012345"
	e := newTestEnv(t, nil, func(c *Config) {
		c.Listen = "0.0.0.0:3030"
		c.Tokens = []Token{{Name: "viewer", Secret: readTok, Role: RoleRead}}
		c.MetricsToken = metricsTok
	})
	for name, base := range map[string]string{"serve": e.http.URL} {
		for tok, want := range map[string]int{"": 401, "wrong": 401, metricsTok + "x": 401, metricsTok: 200, readTok: 200} {
			req, _ := http.NewRequest("GET", base+"/metrics", nil)
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s /metrics with %q: %d, want %d", name, tok, resp.StatusCode, want)
			}
			if want == 401 && (!strings.Contains(string(body), "RAT_METRICS_TOKEN") || strings.Contains(string(body), "go_goroutines")) {
				t.Errorf("%s /metrics refused: %s", name, body)
			}
			if want == 200 && !strings.Contains(string(body), "go_goroutines") {
				t.Errorf("%s /metrics: %.200s", name, body)
			}
		}
		// Health stays open for probes.
		if resp, err := http.Get(base + "/health/live"); err != nil || resp.StatusCode != 200 {
			t.Errorf("%s /health/live: %v %v", name, resp, err)
		}
	}
	// On loopback without API tokens only the metrics token opens it:
	// "no tokens" means every API caller is admin, not every scraper.
	local := newTestEnv(t, nil, func(c *Config) { c.MetricsToken = metricsTok })
	if resp, err := http.Get(local.http.URL + "/metrics"); err != nil || resp.StatusCode != 401 {
		t.Errorf("loopback /metrics without the metrics token: %v %v", resp, err)
	}
}
