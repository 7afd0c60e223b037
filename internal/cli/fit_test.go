package cli

import (
	"encoding/json"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/sysres"
)

// machine reads the limits of the machine the tests run on.
func machine(t *testing.T) sysres.Limits {
	t.Helper()
	l, err := sysres.Detect()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// machineCPUs is the threads a profile may give DuckDB here.
func machineCPUs(t *testing.T) int { return int(math.Ceil(machine(t).CPUs)) }

// configValues runs rat config --json with env added and returns its
// values by key, and stderr.
func configValues(t *testing.T, u *ratUser, env ...string) (map[string]config.Setting, string) {
	t.Helper()
	out, stderr, code := u.runEnv(env, "config", "--json")
	if code != 0 {
		t.Fatalf("rat config %v: exit %d\n%s", env, code, stderr)
	}
	var rows []config.Setting
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	m := map[string]config.Setting{}
	for _, r := range rows {
		m[r.Key] = r
	}
	return m, stderr
}

// TestMachineFit: rat knows the machine it runs on. rat config shows its
// limits, profile auto picks what fits them, a profile larger than the
// machine is capped with one warning on stderr, and a DuckDB memory set
// larger than the machine warns once, from a command that runs DuckDB.
func TestMachineFit(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	l := machine(t)
	v, _ := configValues(t, u, "RAT_PROFILE=auto")
	if got, want := v["profile"].Value, config.AutoProfileFor(l.MemoryBytes); got != want {
		t.Errorf("auto here = %s, want %s (%+v)", got, want, l)
	}
	if v["memory_limit"].Source != l.MemorySource || v["cpu_limit"].Value != strconv.FormatFloat(l.CPUs, 'f', -1, 64) {
		t.Errorf("memory_limit %+v, cpu_limit %+v; machine %+v", v["memory_limit"], v["cpu_limit"], l)
	}

	share := l.MemoryBytes / 100 * config.DuckDBSharePercent / 1_000_000
	if l.MemoryBytes > 0 && share < 98304 {
		v, stderr := configValues(t, u, "RAT_PROFILE=large")
		if got := v["duckdb_memory_mb"].Value; got != strconv.FormatInt(share, 10) {
			t.Errorf("large here: duckdb_memory_mb %s, want %d", got, share)
		}
		if n := strings.Count(stderr, "rat: warning: profile large (env RAT_PROFILE) asks 98304 MB for DuckDB"); n != 1 {
			t.Errorf("large here: %d warnings, want 1:\n%s", n, stderr)
		}
	}

	stdout, stderr, code := u.runEnv([]string{"RAT_DUCKDB_MEMORY_MB=100000000"}, "query", "SELECT 1 AS x", "--format", "csv")
	if code != 0 || strings.TrimSpace(stdout) != "x\n1" {
		t.Fatalf("query: exit %d, %q\n%s", code, stdout, stderr)
	}
	if n := strings.Count(stderr, "rat: warning: duckdb_memory_mb 100000000 (env RAT_DUCKDB_MEMORY_MB) is more than the"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, stderr)
	}
}

// TestFitMachine: the Go runtime's soft memory limit becomes the one the
// configuration computed for its container, and the warning prints once a
// process however many times a command opens the app. Not parallel: the
// limit belongs to the whole process.
func TestFitMachine(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	var stderr strings.Builder
	g := &globals{stderr: &stderr}
	cfg := &config.Config{Fit: config.Fit{GoMemoryLimitBytes: 3 << 30, Warning: "profile large asks too much"}}
	g.fitMachine(cfg)
	g.fitMachine(cfg)
	if got := debug.SetMemoryLimit(-1); got != 3<<30 {
		t.Errorf("Go memory limit = %d, want %d", got, 3<<30)
	}
	if got := stderr.String(); got != "rat: warning: profile large asks too much\n" {
		t.Errorf("stderr = %q, want the warning once", got)
	}
	// No limit computed (a host, or GOMEMLIMIT set): the runtime's stays.
	debug.SetMemoryLimit(before)
	(&globals{stderr: &stderr}).fitMachine(&config.Config{})
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("Go memory limit = %d, want the runtime's %d", got, before)
	}
}
