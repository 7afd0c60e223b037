// Package sysres reads the resources this process may use: the memory
// limit and CPU quota of its cgroup (v2 or v1) when it runs in a container,
// else the host's RAM and CPU count. It reads files only, under roots it is
// given, so tests run it against fixture trees.
package sysres

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Where a limit comes from.
const (
	CgroupV2 = "cgroup-v2" // the unified hierarchy: memory.max, cpu.max
	CgroupV1 = "cgroup-v1" // memory.limit_in_bytes, cpu.cfs_quota_us / cpu.cfs_period_us
	Host     = "host"      // /proc/meminfo's MemTotal, the CPU count
)

// Limits are the resources the process may use.
type Limits struct {
	// MemoryBytes is the smaller of the cgroup's memory limit and the
	// host's RAM; 0 when neither is known (not Linux).
	MemoryBytes  int64
	MemorySource string // CgroupV2, CgroupV1 or Host
	// HostMemoryBytes is the host's RAM (MemTotal); 0 when unknown.
	HostMemoryBytes int64
	// CPUs is how many cores the process may keep busy: the cgroup's CPU
	// quota when it is below the CPU count, else the CPU count.
	CPUs      float64
	CPUSource string // CgroupV2, CgroupV1 or Host
}

// FS names where Read looks.
type FS struct {
	Proc     string // procfs: self/cgroup, meminfo
	CgroupFS string // the cgroup mount: /sys/fs/cgroup
	NumCPU   int    // the CPUs the process may run on
}

// System is the running machine: /proc, /sys/fs/cgroup and
// runtime.NumCPU (which honours the CPU affinity mask, so cpusets too).
func System() FS {
	return FS{Proc: "/proc", CgroupFS: "/sys/fs/cgroup", NumCPU: runtime.NumCPU()}
}

// Detect reads the running machine's limits.
func Detect() (Limits, error) { return System().Read() }

// Read reads the limits: those of the process's cgroup and every cgroup
// above it (the smallest wins, as the kernel enforces it), bounded by the
// host's RAM and CPU count. A file that is missing counts as no limit; a
// file that says something else than a limit is an error naming it.
func (f FS) Read() (Limits, error) {
	l := Limits{CPUs: float64(max(f.NumCPU, 1)), CPUSource: Host, MemorySource: Host}
	host, err := f.hostMemory()
	if err != nil {
		return Limits{}, err
	}
	l.HostMemoryBytes, l.MemoryBytes = host, host
	g, err := f.Cgroup()
	if err != nil {
		return Limits{}, err
	}
	if g == nil {
		return l, nil
	}
	mem, err := g.memoryLimit()
	if err != nil {
		return Limits{}, err
	}
	if mem > 0 && (host == 0 || mem < host) {
		l.MemoryBytes, l.MemorySource = mem, g.Version
	}
	cpus, err := g.cpuLimit()
	if err != nil {
		return Limits{}, err
	}
	if cpus > 0 && cpus < l.CPUs {
		l.CPUs, l.CPUSource = cpus, g.Version
	}
	return l, nil
}

// hostMemory reads MemTotal from meminfo: 0 without the file.
func (f FS) hostMemory() (int64, error) {
	file := filepath.Join(f.Proc, "meminfo")
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read host memory: %w", err)
	}
	for line := range strings.Lines(string(data)) {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		kb, ok := strings.CutSuffix(strings.TrimSpace(rest), " kB")
		n, err := strconv.ParseInt(strings.TrimSpace(kb), 10, 64)
		if !ok || err != nil || n <= 0 {
			return 0, fmt.Errorf("%s: MemTotal %q: want a number of kB", file, strings.TrimSpace(rest))
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("%s: no MemTotal line", file)
}

// unlimited is where a v1 limit stops meaning anything: the kernel writes
// "no limit" as the largest page-aligned int64 (9223372036854771712).
const unlimited = 1 << 62

// parseBytes reads a memory limit: "max" or a huge number is no limit (0).
func parseBytes(file, s string) (int64, error) {
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(s, "-") {
		return 0, nil // above int64: no limit
	}
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: %q: want a number of bytes or max", file, s)
	}
	if n >= unlimited {
		return 0, nil
	}
	return n, nil
}

// parseQuota reads a CPU quota and period in microseconds: "max" or a
// negative quota (v1's -1) is no limit (0).
func parseQuota(file, quota, period string) (float64, error) {
	if quota == "max" || strings.HasPrefix(quota, "-") {
		return 0, nil
	}
	q, err1 := strconv.ParseInt(quota, 10, 64)
	p, err2 := strconv.ParseInt(period, 10, 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return 0, fmt.Errorf("%s: quota %q period %q: want two numbers of microseconds, or max", file, quota, period)
	}
	return math.Round(float64(q)/float64(p)*100) / 100, nil
}

// scanLines calls fn with each line of a small file.
func scanLines(file string, fn func(string)) error {
	fd, err := os.Open(file)
	if err != nil {
		return err
	}
	defer fd.Close()
	s := bufio.NewScanner(fd)
	for s.Scan() {
		fn(s.Text())
	}
	return s.Err()
}
