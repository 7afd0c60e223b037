package metrics

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/ratdata/rat/internal/sysres"
)

// cgroupTree writes a cgroup v2 machine with 16 GiB of RAM and 4 CPUs
// whose process sits in a cgroup limited to 1 GiB and 2 CPUs; set writes
// one of its cgroup's files.
func cgroupTree(t *testing.T) (fs sysres.FS, set func(file, content string)) {
	t.Helper()
	root := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("proc/meminfo", "MemTotal:       16777216 kB\n")
	write("proc/self/cgroup", "0::/rat\n")
	write("cgroup/cgroup.controllers", "cpu memory\n")
	write("cgroup/rat/memory.max", "1073741824\n")
	write("cgroup/rat/cpu.max", "200000 100000\n")
	write("cgroup/rat/memory.stat", "anon 1\ninactive_file 0\n")
	write("cgroup/rat/memory.current", "0\n")
	write("cgroup/rat/cpu.stat", "usage_usec 0\n")
	return sysres.FS{Proc: filepath.Join(root, "proc"), CgroupFS: filepath.Join(root, "cgroup"), NumCPU: 4},
		func(file, content string) { write(filepath.Join("cgroup", "rat", file), content) }
}

// TestResources: /metrics reports the cgroup's memory and CPU against its
// limits, the volumes' disks and the build, with the values the files and
// the clock imply.
func TestResources(t *testing.T) {
	t.Parallel()
	fs, set := cgroupTree(t)
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	dir := t.TempDir()
	meter, err := NewMeter(fs, []Volume{{"warehouse", dir}, {"spill", filepath.Join(dir, "tmp", "duckdb")}}, clock)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Meter: meter, Version: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	// 768 MiB charged, 256 MiB of it inactive file cache: 512 MiB of 1 GiB.
	set("memory.current", "805306368\n")
	set("memory.stat", "anon 1\ninactive_file 268435456\n")
	// 3 s of CPU in 2 s on a quota of 2 CPUs: 75 %.
	set("cpu.stat", "usage_usec 3000000\nuser_usec 1\n")
	now = now.Add(2 * time.Second)
	fams := scrape(t, m)
	for name, want := range map[string]float64{
		"rat_memory_used_bytes": 512 << 20, "rat_memory_limit_bytes": 1 << 30, "rat_memory_used_ratio": 0.5,
		"rat_cpu_used_ratio": 0.75, "rat_cpu_limit_cores": 2,
	} {
		if got, ok := series(fams, name, ""); !ok || got != want {
			t.Errorf("%s = %v (%v), want %v", name, got, ok, want)
		}
		if fams[name].GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
	}
	if len(fams["rat_build_info"].GetMetric()) != 1 || fams["rat_build_info"].GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Fatalf("rat_build_info: %v", fams["rat_build_info"])
	}
	labels := map[string]string{}
	for _, l := range fams["rat_build_info"].GetMetric()[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["version"] != "v1.2.3" || labels["goversion"] != runtime.Version() || labels["revision"] == "" {
		t.Errorf("rat_build_info labels = %v", labels)
	}
	// Both volumes are measured, the spill directory (not made yet) on
	// the file system above it.
	for _, v := range []string{"warehouse", "spill"} {
		used, ok1 := series(fams, "rat_disk_used_bytes", v)
		free, ok2 := series(fams, "rat_disk_free_bytes", v)
		ratio, ok3 := series(fams, "rat_disk_used_ratio", v)
		if !ok1 || !ok2 || !ok3 || used <= 0 || ratio <= 0 || ratio >= 1 || ratio != used/(used+free) {
			t.Errorf("volume %s: used %v free %v ratio %v (%v %v %v)", v, used, free, ratio, ok1, ok2, ok3)
		}
	}
	// A scrape within a second answers the last share; after 4 s more
	// with 2 s of CPU, 25 %.
	set("cpu.stat", "usage_usec 5000000\n")
	if got, _ := series(scrape(t, m), "rat_cpu_used_ratio", ""); got != 0.75 {
		t.Errorf("rat_cpu_used_ratio at once = %v, want the last 0.75", got)
	}
	now = now.Add(4 * time.Second)
	if got, _ := series(scrape(t, m), "rat_cpu_used_ratio", ""); got != 0.25 {
		t.Errorf("rat_cpu_used_ratio = %v, want 0.25", got)
	}
	// A usage file that stops parsing drops memory and CPU from the
	// scrape rather than reporting zeros; the limits stay.
	set("cpu.stat", "usage_usec later\n")
	fams = scrape(t, m)
	if _, ok := series(fams, "rat_memory_used_bytes", ""); ok {
		t.Error("rat_memory_used_bytes reported from a cgroup whose usage does not read")
	}
	if _, ok := series(fams, "rat_memory_limit_bytes", ""); !ok || meter.Err() == nil {
		t.Errorf("the limit should stay and Err say why: %v", meter.Err())
	}
}

// BenchmarkSnapshot is the cost of measuring this process's resources on
// the machine the benchmark runs on (a scrape and a heartbeat each take one).
func BenchmarkSnapshot(b *testing.B) {
	m, err := NewMeter(sysres.System(), []Volume{{"warehouse", b.TempDir()}, {"spill", b.TempDir()}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		m.Snapshot()
	}
}
