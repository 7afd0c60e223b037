package sysres_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat/internal/sysres"
)

func TestReadUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fixture string
		want    sysres.Usage
	}{
		// 1.5 GiB charged, 512 MiB of it inactive file cache; 12.5 s of CPU.
		{"v2", sysres.Usage{MemoryBytes: 1 * gib, CPUSeconds: 12.5, Source: sysres.CgroupV2}},
		// 384 MiB charged, 128 MiB inactive; cpuacct.usage in nanoseconds.
		{"v1", sysres.Usage{MemoryBytes: 256 << 20, CPUSeconds: 3.25, Source: sysres.CgroupV1}},
		// A memory cgroup of its own, the CPU accounting at the host's
		// root (as in some sandboxes): the cgroup's memory, the process's
		// CPU time (250+125 ticks), not the host's 0.99 s.
		{"v1-rootacct", sysres.Usage{MemoryBytes: 256 << 20, CPUSeconds: 3.75, Source: sysres.CgroupV1}},
		// No cgroup: the process's resident set and utime+stime ticks.
		{"none", sysres.Usage{MemoryBytes: 200 << 20, CPUSeconds: 3.75, Source: sysres.Process}},
		// A cgroup without usage files (v2's root): the process's, here none.
		{"v2-nolimit", sysres.Usage{Source: sysres.Process}},
	} {
		got, err := fixture(tc.fixture, 4).ReadUsage()
		if err != nil {
			t.Fatalf("%s: %v", tc.fixture, err)
		}
		if got != tc.want {
			t.Errorf("%s: ReadUsage() = %+v, want %+v", tc.fixture, got, tc.want)
		}
	}
}

func TestReadUsageMalformed(t *testing.T) {
	t.Parallel()
	_, err := fixture("bad-usage", 2).ReadUsage()
	want := filepath.Join("bad-usage", "cgroup", "x", "cpu.stat") + `: usage_usec "soon"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ReadUsage() error = %v, want one containing %q", err, want)
	}
}

// TestReadUsageHere reads the machine the test runs on: a process that has
// run uses some memory and some CPU.
func TestReadUsageHere(t *testing.T) {
	t.Parallel()
	// Some CPU time first: the process's own counter (read where the CPU
	// accounting cgroup is the host's root) counts in 10 ms ticks.
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
	}
	u, err := sysres.System().ReadUsage()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("this process: %+v", u)
	if u.Source == sysres.Process && u.MemoryBytes == 0 {
		t.Skip("no /proc: not Linux")
	}
	if u.MemoryBytes < 1<<20 || u.CPUSeconds <= 0 {
		t.Errorf("ReadUsage() = %+v: want some memory and CPU time", u)
	}
}
