package server

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/ratdata/rat/internal/config"
)

// TestReadinessResources: /health/ready shows the machine's limits and the
// profile's fit, with its warning, whether ready or not.
func TestReadinessResources(t *testing.T) {
	t.Parallel()
	fit := &config.Fit{MemoryLimitBytes: 4 << 30, Source: "cgroup-v2", CPULimit: 1.5, CPUSource: "cgroup-v2", Profile: "large",
		ProfileMemoryBytes: 98304 * 1_000_000, DuckDBMemoryBytes: 3221225000, GoMemoryLimitBytes: 858993459,
		Warning: "profile large (env RAT_PROFILE) asks 98304 MB for DuckDB"}
	var down atomic.Bool
	e := newTestEnv(t, nil, func(c *Config) {
		c.Resources = fit
		c.Checks = append(c.Checks, Check{Name: "queue", Fn: func(context.Context) error {
			if down.Load() {
				return errors.New("down")
			}
			return nil
		}})
	})
	want := map[string]any{"memory_limit_bytes": float64(4 << 30), "source": "cgroup-v2", "cpu_limit": 1.5, "cpu_source": "cgroup-v2",
		"profile": "large", "profile_memory_bytes": float64(98304 * 1_000_000), "duckdb_memory_bytes": float64(3221225000),
		"go_memory_limit_bytes": float64(858993459), "warning": fit.Warning}
	check := func(r response) {
		t.Helper()
		got, _ := r.body["resources"].(map[string]any)
		if len(got) != len(want) {
			t.Fatalf("resources = %v, want %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("resources.%s = %v, want %v", k, got[k], v)
			}
		}
	}
	check(e.want(e.do("GET", "/health/ready", nil), http.StatusOK))
	down.Store(true)
	check(e.want(e.do("GET", "/health/ready", nil), http.StatusServiceUnavailable))

	plain := newTestEnv(t, nil, nil)
	if r := plain.want(plain.do("GET", "/health/ready", nil), http.StatusOK); r.body["resources"] != nil {
		t.Errorf("no Resources configured: ready = %s", r.raw)
	}
}
