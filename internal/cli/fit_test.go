package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
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

// cgroup makes a cgroup limited to memory bytes and quota/100000 CPUs
// (v2, or v1's memory and cpu controllers), removed when the test ends,
// and returns the shell commands that move the shell into it. It skips
// the test where this process cannot make one (not root, no writable
// cgroup file system, controllers not delegated).
func cgroup(t *testing.T, memory int64, quota int) string {
	t.Helper()
	const root = "/sys/fs/cgroup"
	type file struct{ dir, name, value string }
	var files []file
	mkdir := func(mount string) string {
		dir, err := os.MkdirTemp(mount, "rat-test-")
		if err != nil {
			t.Skipf("cannot make a cgroup here: %v", err)
		}
		t.Cleanup(func() { os.Remove(dir) })
		return dir
	}
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		dir := mkdir(root)
		files = []file{{dir, "memory.max", strconv.FormatInt(memory, 10)}, {dir, "cpu.max", strconv.Itoa(quota) + " 100000"}}
	} else {
		cpu := filepath.Join(root, "cpu")
		if _, err := os.Stat(cpu); err != nil {
			cpu = filepath.Join(root, "cpu,cpuacct")
		}
		mem, cpuDir := mkdir(filepath.Join(root, "memory")), mkdir(cpu)
		files = []file{{mem, "memory.limit_in_bytes", strconv.FormatInt(memory, 10)}, {cpuDir, "cpu.cfs_quota_us", strconv.Itoa(quota)}}
	}
	var enter strings.Builder
	seen := map[string]bool{}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(f.dir, f.name), []byte(f.value), 0o644); err != nil {
			t.Skipf("cannot set a cgroup limit here: %v", err)
		}
		if !seen[f.dir] {
			seen[f.dir] = true
			fmt.Fprintf(&enter, "echo $$ > '%s/cgroup.procs' && ", f.dir)
		}
	}
	return enter.String()
}

// TestMachineFitInCgroup runs rat in a real cgroup of 3 GiB and 1.5 CPUs,
// as in a container: it reads the limit, caps a profile too large for it
// with a warning, picks tiny for auto and sets Go's memory limit.
func TestMachineFitInCgroup(t *testing.T) {
	t.Parallel()
	enter := cgroup(t, 3<<30, 150000)
	u := newUser(t, false)
	inCgroup := func(env string, args ...string) (string, string) {
		t.Helper()
		c := exec.Command("sh", append([]string{"-c", enter + `exec "$0" "$@"`, u.bin}, args...)...)
		c.Dir, c.Env = u.dir, append(u.cmd().Env, env)
		var out, errb strings.Builder
		c.Stdout, c.Stderr = &out, &errb
		if err := c.Run(); err != nil {
			t.Fatalf("rat %v in a cgroup: %v\n%s", args, err, errb.String())
		}
		return out.String(), errb.String()
	}
	out, stderr := inCgroup("RAT_PROFILE=large", "config", "--json")
	var rows []config.Setting
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r.Key] = r.Value + " | " + r.Source
	}
	source := got["memory_limit"][strings.Index(got["memory_limit"], "| ")+2:]
	for key, want := range map[string]string{
		"memory_limit":     "3.0 GiB | " + source,
		"cpu_limit":        "1.5 | " + source,
		"duckdb_memory_mb": "2415 | profile large, capped at 75% of 3.0 GiB memory (" + source + ")",
		"duckdb_threads":   "2 | profile large, capped at 1.5 CPUs (" + source + ")",
		"go_memory_limit":  "0.6 GiB | " + source + " limit less DuckDB's memory",
	} {
		if got[key] != want {
			t.Errorf("%s = %q, want %q", key, got[key], want)
		}
	}
	if !strings.HasPrefix(source, "cgroup-v") {
		t.Errorf("memory_limit from %q, want a cgroup", source)
	}
	if !strings.Contains(stderr, "rat: warning: profile large (env RAT_PROFILE) asks 98304 MB for DuckDB, more than 75% of the 3.0 GiB memory limit") {
		t.Errorf("no warning: %q", stderr)
	}
	out, _ = inCgroup("RAT_PROFILE=auto", "query", "SELECT current_setting('threads') AS t, current_setting('memory_limit') AS m", "--format", "csv")
	if strings.TrimSpace(out) != "t,m\n1,1.9 GiB" {
		t.Errorf("auto in 3 GiB: DuckDB %q, want tiny's 1 thread and 2048 MB", out)
	}
}
