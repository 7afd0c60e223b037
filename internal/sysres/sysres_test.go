package sysres_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratdata/rat/internal/sysres"
)

const gib = 1 << 30

// fixture is the file-system tree testdata/name as a machine with cpus CPUs.
func fixture(name string, cpus int) sysres.FS {
	root := filepath.Join("testdata", name)
	return sysres.FS{Proc: filepath.Join(root, "proc"), CgroupFS: filepath.Join(root, "cgroup"), NumCPU: cpus}
}

func TestRead(t *testing.T) {
	t.Parallel()
	host := int64(16 * gib)
	for _, tc := range []struct {
		fixture string
		want    sysres.Limits
	}{
		{"v2", sysres.Limits{MemoryBytes: 2 * gib, MemorySource: sysres.CgroupV2, HostMemoryBytes: host, CPUs: 1.5, CPUSource: sysres.CgroupV2}},
		// The limits sit on ancestors of the process's cgroup: the
		// smallest one along the way wins.
		{"v2-nested", sysres.Limits{MemoryBytes: 1 * gib, MemorySource: sysres.CgroupV2, HostMemoryBytes: host, CPUs: 0.5, CPUSource: sysres.CgroupV2}},
		{"v2-namespaced", sysres.Limits{MemoryBytes: 768 << 20, MemorySource: sysres.CgroupV2, HostMemoryBytes: host, CPUs: 1, CPUSource: sysres.CgroupV2}},
		{"v2-nolimit", sysres.Limits{MemoryBytes: host, MemorySource: sysres.Host, HostMemoryBytes: host, CPUs: 4, CPUSource: sysres.Host}},
		{"v1", sysres.Limits{MemoryBytes: 512 << 20, MemorySource: sysres.CgroupV1, HostMemoryBytes: host, CPUs: 2, CPUSource: sysres.CgroupV1}},
		{"v1-nolimit", sysres.Limits{MemoryBytes: host, MemorySource: sysres.Host, HostMemoryBytes: host, CPUs: 4, CPUSource: sysres.Host}},
		{"over-host", sysres.Limits{MemoryBytes: host, MemorySource: sysres.Host, HostMemoryBytes: host, CPUs: 4, CPUSource: sysres.Host}},
		{"none", sysres.Limits{MemoryBytes: host, MemorySource: sysres.Host, HostMemoryBytes: host, CPUs: 4, CPUSource: sysres.Host}},
		{"missing", sysres.Limits{MemorySource: sysres.Host, CPUs: 4, CPUSource: sysres.Host}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			got, err := fixture(tc.fixture, 4).Read()
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Read() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// A quota above the CPU count leaves the CPU count.
func TestReadQuotaAboveCPUs(t *testing.T) {
	t.Parallel()
	got, err := fixture("v1", 1).Read()
	if err != nil {
		t.Fatal(err)
	}
	if got.CPUs != 1 || got.CPUSource != sysres.Host {
		t.Errorf("CPUs = %v from %s, want 1 from host", got.CPUs, got.CPUSource)
	}
}

func TestReadMalformed(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"bad-memory": filepath.Join("bad-memory", "cgroup", "x", "memory.max") + `: "lots": want a number of bytes or max`,
		"bad-cpu":    filepath.Join("bad-cpu", "cgroup", "cpu", "x", "cpu.cfs_quota_us") + `: quota "fast" period "100000"`,
		"bad-self":   filepath.Join("bad-self", "proc", "self", "cgroup") + `: line "garbage": want id:controllers:path`,
	} {
		_, err := fixture(name, 2).Read()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Read() error = %v, want one containing %q", name, err, want)
		}
	}
}

func TestCgroupDirs(t *testing.T) {
	t.Parallel()
	g, err := fixture("v1", 2).Cgroup()
	if err != nil || g == nil {
		t.Fatalf("Cgroup() = %v, %v", g, err)
	}
	mem := filepath.Join("testdata", "v1", "cgroup", "memory")
	want := []string{filepath.Join(mem, "docker", "abc"), filepath.Join(mem, "docker"), mem}
	if g.Version != sysres.CgroupV1 || strings.Join(g.Memory, " ") != strings.Join(want, " ") {
		t.Errorf("Cgroup() = %s %v, want cgroup-v1 %v", g.Version, g.Memory, want)
	}
	if len(g.CPU) != 3 || !strings.Contains(g.CPU[0], "cpu,cpuacct") {
		t.Errorf("CPU dirs = %v, want the three under cpu,cpuacct", g.CPU)
	}
	if g, err := fixture("none", 2).Cgroup(); g != nil || err != nil {
		t.Errorf("no /proc/self/cgroup: Cgroup() = %+v, %v; want nil, nil", g, err)
	}
}

// TestDetect reads the machine the test runs on: whatever it reports must
// be a sane machine.
func TestDetect(t *testing.T) {
	t.Parallel()
	l, err := sysres.Detect()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("this machine: %+v", l)
	if l.CPUs <= 0 || l.CPUs > 4096 {
		t.Errorf("CPUs = %v: want a positive count", l.CPUs)
	}
	if l.HostMemoryBytes == 0 {
		if l.MemoryBytes != 0 {
			t.Errorf("MemoryBytes = %d without host memory", l.MemoryBytes)
		}
		t.Skip("no /proc/meminfo: not Linux")
	}
	if l.MemoryBytes < 64<<20 || l.MemoryBytes > l.HostMemoryBytes {
		t.Errorf("MemoryBytes = %d: want between 64 MiB and the host's %d", l.MemoryBytes, l.HostMemoryBytes)
	}
	switch l.MemorySource {
	case sysres.Host:
		if l.MemoryBytes != l.HostMemoryBytes {
			t.Errorf("memory from host = %d, host = %d", l.MemoryBytes, l.HostMemoryBytes)
		}
	case sysres.CgroupV1, sysres.CgroupV2:
	default:
		t.Errorf("MemorySource = %q", l.MemorySource)
	}
}
