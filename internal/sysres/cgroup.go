package sysres

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Cgroup is the process's cgroup: its version and, per controller, the
// directories from the process's own cgroup up to the root of the mount,
// the process's first (usage, such as memory.current, is read there).
type Cgroup struct {
	Version string   // CgroupV2 or CgroupV1
	Memory  []string // the memory controller's directories
	CPU     []string // the CPU controller's directories
	// CPUAcct is the directory whose CPU time counter is the process's
	// cgroup's: on v2 CPU[0] (cpu.stat), on v1 the cpuacct controller's
	// (cpuacct.usage); "" when there is none or it is the host's root.
	CPUAcct string
}

// v1CPUMounts are the names the v1 CPU controller is mounted under.
var v1CPUMounts = []string{"cpu", "cpu,cpuacct", "cpuacct,cpu"}

// v1AcctMounts are the names the v1 CPU accounting controller is mounted
// under.
var v1AcctMounts = []string{"cpuacct", "cpu,cpuacct", "cpuacct,cpu"}

// Cgroup finds the process's cgroup: nil when it has none (not Linux, or
// no cgroup file system where f.CgroupFS says).
func (f FS) Cgroup() (*Cgroup, error) {
	paths, err := f.selfCgroup()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// The unified hierarchy (v2 only) has cgroup.controllers at its root;
	// a hybrid machine mounts v1 controllers there and v2 below, empty.
	if _, err := os.Stat(filepath.Join(f.CgroupFS, "cgroup.controllers")); err == nil {
		p, ok := paths[""]
		if !ok {
			return nil, nil
		}
		dirs := chain(f.CgroupFS, p)
		return &Cgroup{Version: CgroupV2, Memory: dirs, CPU: dirs, CPUAcct: dirs[0]}, nil
	}
	g := &Cgroup{Version: CgroupV1}
	if p, ok := paths["memory"]; ok {
		g.Memory = chain(filepath.Join(f.CgroupFS, "memory"), p)
	}
	if p, ok := paths["cpu"]; ok {
		for _, name := range v1CPUMounts {
			if mount := filepath.Join(f.CgroupFS, name); isDir(mount) {
				g.CPU = chain(mount, p)
				break
			}
		}
	}
	// A v1 CPU accounting cgroup at its hierarchy's root counts the whole
	// host's CPU time, not the process's: ReadUsage then reads the
	// process's own (CPUAcct stays "").
	if p, ok := paths["cpuacct"]; ok && p != "/" {
		for _, name := range v1AcctMounts {
			if mount := filepath.Join(f.CgroupFS, name); isDir(mount) {
				g.CPUAcct = chain(mount, p)[0]
				break
			}
		}
	}
	if g.Memory == nil && g.CPU == nil {
		return nil, nil
	}
	return g, nil
}

// selfCgroup reads /proc/self/cgroup ("id:controllers:path" lines) into
// the path of each controller; the v2 line ("0::path") is under "".
func (f FS) selfCgroup() (map[string]string, error) {
	file := filepath.Join(f.Proc, "self", "cgroup")
	paths := map[string]string{}
	var bad string
	err := scanLines(file, func(line string) {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			bad = line
			return
		}
		if parts[0] == "0" && parts[1] == "" {
			paths[""] = parts[2]
			return
		}
		for _, c := range strings.Split(parts[1], ",") {
			paths[c] = parts[2]
		}
	})
	if err == nil && bad != "" {
		err = fmt.Errorf("%s: line %q: want id:controllers:path", file, bad)
	}
	return paths, err
}

// chain lists the directories from the cgroup at path under mount up to
// mount. A path that is not under the mount (a container that sees only its
// own cgroup, mounted as the root) starts at the mount itself.
func chain(mount, path string) []string {
	dir := filepath.Join(mount, path)
	if rel, err := filepath.Rel(mount, dir); err != nil || strings.HasPrefix(rel, "..") || !isDir(dir) {
		dir = mount
	}
	dirs := []string{dir}
	for dir != mount {
		dir = filepath.Dir(dir)
		dirs = append(dirs, dir)
	}
	return dirs
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// memoryLimit is the smallest memory limit along the chain; 0 = none.
func (g *Cgroup) memoryLimit() (int64, error) {
	name := "memory.max"
	if g.Version == CgroupV1 {
		name = "memory.limit_in_bytes"
	}
	var limit int64
	for _, dir := range g.Memory {
		file := filepath.Join(dir, name)
		s, ok, err := readValue(file)
		if err != nil || !ok {
			if err != nil {
				return 0, err
			}
			continue
		}
		n, err := parseBytes(file, s)
		if err != nil {
			return 0, err
		}
		if n > 0 && (limit == 0 || n < limit) {
			limit = n
		}
	}
	return limit, nil
}

// cpuLimit is the smallest CPU quota along the chain, in cores; 0 = none.
func (g *Cgroup) cpuLimit() (float64, error) {
	var limit float64
	for _, dir := range g.CPU {
		file, quota, period, ok, err := g.readQuota(dir)
		if err != nil {
			return 0, err
		}
		if !ok {
			continue
		}
		n, err := parseQuota(file, quota, period)
		if err != nil {
			return 0, err
		}
		if n > 0 && (limit == 0 || n < limit) {
			limit = n
		}
	}
	return limit, nil
}

// readQuota reads a directory's CPU quota and period: cpu.max ("quota
// period") on v2, cpu.cfs_quota_us and cpu.cfs_period_us on v1.
func (g *Cgroup) readQuota(dir string) (file, quota, period string, ok bool, err error) {
	if g.Version == CgroupV2 {
		file = filepath.Join(dir, "cpu.max")
		s, ok, err := readValue(file)
		if err != nil || !ok {
			return file, "", "", false, err
		}
		quota, period, _ = strings.Cut(s, " ")
		if period == "" {
			period = "100000" // the kernel's default period
		}
		return file, quota, period, true, nil
	}
	file = filepath.Join(dir, "cpu.cfs_quota_us")
	if quota, ok, err = readValue(file); err != nil || !ok {
		return file, "", "", false, err
	}
	if period, ok, err = readValue(filepath.Join(dir, "cpu.cfs_period_us")); err != nil || !ok {
		return file, "", "", false, err
	}
	return file, quota, period, true, nil
}

// maxValue bounds what readValue reads: cgroup limits are one short line.
const maxValue = 4096

// readValue reads a one-line cgroup file; ok is false when it is missing.
func readValue(file string) (string, bool, error) {
	fd, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read cgroup limit: %w", err)
	}
	defer fd.Close()
	data, err := io.ReadAll(io.LimitReader(fd, maxValue+1))
	if err != nil {
		return "", false, fmt.Errorf("read cgroup limit: %w", err)
	}
	if len(data) > maxValue {
		return "", false, fmt.Errorf("%s: more than %d bytes: want one short line", file, maxValue)
	}
	return strings.TrimSpace(string(data)), true, nil
}
