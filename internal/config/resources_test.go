package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/sysres"
)

const gib = int64(1) << 30

func container(memory int64, cpus float64) *sysres.Limits {
	return &sysres.Limits{MemoryBytes: memory, MemorySource: sysres.CgroupV2, HostMemoryBytes: 64 * gib, CPUs: cpus, CPUSource: sysres.CgroupV2}
}

func host(memory int64, cpus float64) *sysres.Limits {
	return &sysres.Limits{MemoryBytes: memory, MemorySource: sysres.Host, HostMemoryBytes: memory, CPUs: cpus, CPUSource: sysres.Host}
}

// loadOn loads with a fake environment on a machine with the given limits.
func loadOn(t *testing.T, dir string, l *sysres.Limits, e env, flags map[string]string) *config.Config {
	t.Helper()
	c, err := loadMachine(t, dir, l, e, flags)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return c
}

// TestAutoProfile: auto picks the largest profile whose DuckDB memory fits
// 75 % of the limit; the seed's machines for the profiles pick their own.
func TestAutoProfile(t *testing.T) {
	t.Parallel()
	dir := noWorkspace(t)
	for _, tc := range []struct {
		memory int64
		want   string
	}{
		{1 * gib, "tiny"}, // nothing fits: the smallest
		{4 * gib, "tiny"},
		{10 * gib, "tiny"},
		{16 * gib, "small"},
		{20 * gib, "small"},
		{64 * gib, "medium"},
		{128 * gib, "large"},
		{1024 * gib, "large"},
	} {
		c := loadOn(t, dir, container(tc.memory, 8), env{"RAT_PROFILE": "auto"}, nil)
		if c.Profile != tc.want || c.Fit.Profile != tc.want {
			t.Errorf("auto on %d GiB = %s (fit %s), want %s", tc.memory/gib, c.Profile, c.Fit.Profile, tc.want)
		}
		contains(t, "profile source", c.Source("profile"), "env RAT_PROFILE (auto: ", "GiB memory from cgroup-v2)")
		if c.Fit.Warning != "" {
			t.Errorf("auto on %d GiB warns: %s", tc.memory/gib, c.Fit.Warning)
		}
		if got := int64(c.DuckDBMemoryMB) * 1_000_000; got > tc.memory {
			t.Errorf("auto on %d GiB gives DuckDB %d MB, more than the limit", tc.memory/gib, c.DuckDBMemoryMB)
		}
	}
	// Unknown memory (not Linux): the default profile.
	if c := loadOn(t, dir, &sysres.Limits{CPUs: 4, CPUSource: sysres.Host}, env{"RAT_PROFILE": "AUTO"}, nil); c.Profile != config.DefaultProfile {
		t.Errorf("auto with unknown memory = %s, want %s", c.Profile, config.DefaultProfile)
	}
	// The flag and workspace.yaml say auto too.
	if c := loadOn(t, dir, container(64*gib, 8), nil, map[string]string{"profile": "auto"}); c.Profile != "medium" || c.Source("profile") != "flag --profile (auto: 64.0 GiB memory from cgroup-v2)" {
		t.Errorf("--profile auto = %s from %q", c.Profile, c.Source("profile"))
	}
	ws := workspace(t, "resources:\n  profile: auto\n")
	if c := loadOn(t, ws, host(20*gib, 8), nil, nil); c.Profile != "small" || !strings.HasPrefix(c.Source("profile"), "workspace.yaml:2 (auto: ") {
		t.Errorf("workspace profile auto = %s from %q", c.Profile, c.Source("profile"))
	}
}

// TestProfileTooLarge: an explicit profile larger than the machine gets
// DuckDB memory and threads capped by the limits, and a warning saying so.
func TestProfileTooLarge(t *testing.T) {
	t.Parallel()
	dir := noWorkspace(t)
	c := loadOn(t, dir, host(23*gib, 2), env{"RAT_PROFILE": "large"}, nil)
	share := 23 * gib / 100 * 75 / 1_000_000
	if c.DuckDBMemoryMB != int(share) || c.DuckDBThreads != 2 {
		t.Errorf("large on a 23 GiB, 2-CPU host: DuckDB %d MB, %d threads; want %d MB, 2 threads", c.DuckDBMemoryMB, c.DuckDBThreads, share)
	}
	contains(t, "memory source", c.Source("duckdb_memory_mb"), "profile large, capped at 75% of 23.0 GiB memory (host)")
	contains(t, "threads source", c.Source("duckdb_threads"), "profile large, capped at 2 CPUs (host)")
	contains(t, "warning", c.Fit.Warning, "profile large (env RAT_PROFILE) asks 98304 MB for DuckDB", "23.0 GiB memory limit (host)",
		"choose profile auto (here: small)")
	want := config.Fit{MemoryLimitBytes: 23 * gib, Source: "host", CPULimit: 2, CPUSource: "host", Profile: "large",
		ProfileMemoryBytes: 98304 * 1_000_000, DuckDBMemoryBytes: share * 1_000_000, Warning: c.Fit.Warning}
	if c.Fit != want {
		t.Errorf("Fit = %+v\nwant %+v", c.Fit, want)
	}

	// A CPU quota of 1.5 cores allows two threads.
	if c := loadOn(t, dir, container(64*gib, 1.5), env{"RAT_PROFILE": "medium"}, nil); c.DuckDBThreads != 2 || c.Fit.Warning != "" {
		t.Errorf("medium on 1.5 CPUs: %d threads, warning %q; want 2, none", c.DuckDBThreads, c.Fit.Warning)
	}
	// The default profile is capped without a warning: nobody chose it.
	c = loadOn(t, dir, container(4*gib, 1), nil, nil)
	if c.Profile != "small" || c.DuckDBMemoryMB != int(4*gib/100*75/1_000_000) || c.DuckDBThreads != 1 || c.Fit.Warning != "" {
		t.Errorf("default on 4 GiB: %s, %d MB, %d threads, warning %q", c.Profile, c.DuckDBMemoryMB, c.DuckDBThreads, c.Fit.Warning)
	}
	// A profile that fits: no cap, no warning.
	c = loadOn(t, dir, host(23*gib, 2), env{"RAT_PROFILE": "small"}, nil)
	if c.DuckDBMemoryMB != 8192 || c.Source("duckdb_memory_mb") != "profile small" || c.Fit.Warning != "" {
		t.Errorf("small on 23 GiB: %d MB from %q, warning %q", c.DuckDBMemoryMB, c.Source("duckdb_memory_mb"), c.Fit.Warning)
	}
}

// TestDuckDBMemoryTooLarge: a value the user set is kept, with a warning
// when it is more than the whole limit.
func TestDuckDBMemoryTooLarge(t *testing.T) {
	t.Parallel()
	dir := noWorkspace(t)
	c := loadOn(t, dir, container(2*gib, 1), env{"RAT_DUCKDB_MEMORY_MB": "4000"}, nil)
	if c.DuckDBMemoryMB != 4000 {
		t.Errorf("duckdb_memory_mb = %d, want the user's 4000", c.DuckDBMemoryMB)
	}
	contains(t, "warning", c.Fit.Warning, "duckdb_memory_mb 4000 (env RAT_DUCKDB_MEMORY_MB) is more than the 2.0 GiB memory limit (cgroup-v2)", "lower it below 1610")
	if c := loadOn(t, dir, container(2*gib, 1), env{"RAT_DUCKDB_MEMORY_MB": "1500"}, nil); c.Fit.Warning != "" {
		t.Errorf("1500 MB in 2 GiB warns: %s", c.Fit.Warning)
	}
}

// TestGoMemoryLimit: in a cgroup, the Go runtime's limit is set below what
// DuckDB leaves, unless the user set GOMEMLIMIT; on a host it is not set.
func TestGoMemoryLimit(t *testing.T) {
	t.Parallel()
	dir := noWorkspace(t)
	c := loadOn(t, dir, container(4*gib, 2), env{"RAT_PROFILE": "tiny"}, nil)
	want := (4*gib - 2048*1_000_000) / 5 * 4
	if c.Fit.GoMemoryLimitBytes != want {
		t.Errorf("tiny in 4 GiB: Go limit %d, want %d", c.Fit.GoMemoryLimitBytes, want)
	}
	if s := setting(t, c, "go_memory_limit"); s.Value != "1.7 GiB" || s.Source != "cgroup-v2 limit less DuckDB's memory" {
		t.Errorf("go_memory_limit row = %+v", s)
	}
	c = loadOn(t, dir, container(4*gib, 2), env{"RAT_PROFILE": "tiny", "GOMEMLIMIT": "3GiB"}, nil)
	if s := setting(t, c, "go_memory_limit"); c.Fit.GoMemoryLimitBytes != 0 || s.Value != "3GiB" || s.Source != "env GOMEMLIMIT" {
		t.Errorf("with GOMEMLIMIT set: Go limit %d, row %+v; want 0 and the user's value", c.Fit.GoMemoryLimitBytes, s)
	}
	if c := loadOn(t, dir, host(16*gib, 2), nil, nil); c.Fit.GoMemoryLimitBytes != 0 {
		t.Errorf("on a host: Go limit %d, want none", c.Fit.GoMemoryLimitBytes)
	}
	// DuckDB set larger than the container: a tenth of the limit, not less.
	if got := config.GoMemoryLimit(gib, 2*gib); got != gib/10 {
		t.Errorf("GoMemoryLimit(1 GiB, 2 GiB) = %d, want %d", got, gib/10)
	}
}

func TestProfileNamesAuto(t *testing.T) {
	t.Parallel()
	msg := loadErr(t, noWorkspace(t), env{"RAT_PROFILE": "huge"}, nil)
	contains(t, "error", msg, `env RAT_PROFILE: unknown profile "huge"`, "tiny, small, medium, large, or auto")
	ws := workspace(t, "resources:\n  profile: autoo\n")
	contains(t, "error", loadErr(t, ws, nil, nil), "workspace.yaml:2: resources.profile", `"autoo"`, "or auto")
}

// TestMachineUnreadable: limits that cannot be read fail profile auto,
// which cannot pick without them, with the cause and the fix; any other
// profile loads uncapped, and the warning says why.
func TestMachineUnreadable(t *testing.T) {
	t.Parallel()
	dir := noWorkspace(t)
	broken := func() (sysres.Limits, error) {
		return sysres.Limits{}, errors.New(`/sys/fs/cgroup/memory.max: "lots": want a number of bytes or max`)
	}
	opts := config.Options{Dir: dir, Env: env{"RAT_PROFILE": "auto"}.lookup, Environ: []string{}, Machine: broken}
	_, err := config.Load(opts)
	if code := rat.ErrorCode(err); code != rat.EINVALID {
		t.Fatalf("auto with unreadable limits: %v (code %q), want EINVALID", err, code)
	}
	contains(t, "error", err.Error(), "env RAT_PROFILE: profile auto: /sys/fs/cgroup/memory.max", "choose a profile by name (tiny, small, medium, large)")
	opts.Env = env{"RAT_PROFILE": "large"}.lookup
	c, err := config.Load(opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.DuckDBMemoryMB != 98304 || c.Fit.MemoryLimitBytes != 0 {
		t.Errorf("large with unreadable limits: %d MB, limit %d; want the profile's, unknown", c.DuckDBMemoryMB, c.Fit.MemoryLimitBytes)
	}
	contains(t, "warning", c.Fit.Warning, "memory limit unknown (/sys/fs/cgroup/memory.max", "DuckDB's memory is not capped")
}

// TestLoadRealMachine: without Machine, Load reads this machine, and what
// it reports is sane.
func TestLoadRealMachine(t *testing.T) {
	t.Parallel()
	dir := noWorkspace(t)
	c, err := config.Load(config.Options{Dir: dir, Env: env{"RAT_PROFILE": "auto"}.lookup, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("auto here: %s, %+v", c.Profile, c.Fit)
	if c.Fit.CPULimit <= 0 || c.Fit.Source == "" || c.DuckDBThreads < 1 {
		t.Errorf("Fit = %+v", c.Fit)
	}
	if c.Fit.MemoryLimitBytes > 0 && int64(c.DuckDBMemoryMB)*1_000_000 > c.Fit.MemoryLimitBytes {
		t.Errorf("DuckDB gets %d MB, more than the %d bytes limit", c.DuckDBMemoryMB, c.Fit.MemoryLimitBytes)
	}
}
