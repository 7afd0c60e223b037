package sysres

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
)

// Process is the source of a Usage read from the process itself
// (/proc/self), outside any cgroup.
const Process = "process"

// Usage is what the process uses now: its cgroup's, when it runs in one
// (a container's memory and CPU are the cgroup's, whatever the process),
// else its own.
type Usage struct {
	// MemoryBytes is the working set: the cgroup's memory less the file
	// cache the kernel can drop (what its limit is enforced against, as
	// the kubelet counts it), or the process's resident set.
	MemoryBytes int64
	// CPUSeconds is the CPU time used since the cgroup (or the process)
	// began; two reads give the CPU share in between.
	CPUSeconds float64
	Source     string // CgroupV2, CgroupV1 or Process
}

// ReadUsage reads the memory and CPU the process's cgroup uses, or the
// process's own when it has no cgroup with usage files (cgroup v2's root
// has none). Like Read, a malformed file is an error naming it.
func (f FS) ReadUsage() (Usage, error) {
	g, err := f.Cgroup()
	if err != nil {
		return Usage{}, err
	}
	if g != nil && len(g.Memory) > 0 {
		u, ok, err := g.usage()
		if err != nil || (ok && g.CPUAcct != "") {
			return u, err
		}
		if ok { // the cgroup's memory, the process's CPU time
			p, err := f.processUsage()
			u.CPUSeconds = p.CPUSeconds
			return u, err
		}
	}
	return f.processUsage()
}

// usage reads the cgroup's counters; ok is false when they are missing.
func (g *Cgroup) usage() (Usage, bool, error) {
	u := Usage{Source: g.Version}
	current, stat, inactive := "memory.current", "memory.stat", "inactive_file"
	cpuFile := filepath.Join(g.CPUAcct, "cpu.stat")
	if g.Version == CgroupV1 {
		current, inactive = "memory.usage_in_bytes", "total_inactive_file"
		cpuFile = filepath.Join(g.CPUAcct, "cpuacct.usage")
	}
	file := filepath.Join(g.Memory[0], current)
	s, ok, err := readValue(file)
	if err != nil || !ok {
		return u, false, err
	}
	if u.MemoryBytes, err = parseCount(file, s); err != nil {
		return u, false, err
	}
	// The inactive file cache is reclaimed before the limit is hit.
	file = filepath.Join(g.Memory[0], stat)
	if err := scanLines(file, func(line string) {
		if v, ok := strings.CutPrefix(line, inactive+" "); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n <= u.MemoryBytes {
				u.MemoryBytes -= n
			}
		}
	}); err != nil && !isNotExist(err) {
		return u, false, fmt.Errorf("read cgroup memory: %w", err)
	}
	if g.CPUAcct == "" {
		return u, true, nil // no CPU counter of its own: the caller reads the process's
	}
	if g.Version == CgroupV1 {
		s, ok, err := readValue(cpuFile)
		if err != nil || !ok {
			return u, false, err
		}
		ns, err := parseCount(cpuFile, s)
		u.CPUSeconds = float64(ns) / 1e9
		return u, err == nil, err
	}
	var usec int64 = -1
	var bad string
	if err := scanLines(cpuFile, func(line string) {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				bad = v
				return
			}
			usec = n
		}
	}); err != nil {
		if isNotExist(err) {
			return u, false, nil
		}
		return u, false, fmt.Errorf("read cgroup CPU time: %w", err)
	}
	if bad != "" || usec < 0 {
		return u, false, fmt.Errorf("%s: usage_usec %q: want a number of microseconds", cpuFile, bad)
	}
	u.CPUSeconds = float64(usec) / 1e6
	return u, true, nil
}

// clockTicks is USER_HZ, the unit of /proc/self/stat's CPU times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// processUsage reads the process's resident set (/proc/self/status) and
// CPU time (/proc/self/stat); zero without procfs (not Linux).
func (f FS) processUsage() (Usage, error) {
	u := Usage{Source: Process}
	status := filepath.Join(f.Proc, "self", "status")
	var bad string
	err := scanLines(status, func(line string) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strings.CutSuffix(strings.TrimSpace(v), " kB")
			n, err := strconv.ParseInt(strings.TrimSpace(kb), 10, 64)
			if err != nil {
				bad = line
			}
			u.MemoryBytes = n << 10
		}
	})
	if isNotExist(err) {
		return u, nil
	}
	if err == nil && bad != "" {
		err = fmt.Errorf("%s: %q: want VmRSS in kB", status, bad)
	}
	if err != nil {
		return Usage{}, err
	}
	file := filepath.Join(f.Proc, "self", "stat")
	s, ok, err := readValue(file)
	if err != nil || !ok {
		return u, err
	}
	// The command name (field 2) may hold spaces; fields count after it.
	_, rest, _ := strings.Cut(s, ") ")
	fields := strings.Fields(rest)
	if len(fields) < 13 {
		return Usage{}, fmt.Errorf("%s: %d fields after the command name: want utime and stime (fields 14, 15)", file, len(fields))
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return Usage{}, fmt.Errorf("%s: utime %q stime %q: want clock ticks", file, fields[11], fields[12])
	}
	u.CPUSeconds = float64(utime+stime) / clockTicks
	return u, nil
}

// parseCount reads a non-negative counter.
func parseCount(file, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: %q: want a number", file, s)
	}
	return n, nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
