package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/sysres"
)

// AutoProfile selects the largest profile whose DuckDB memory fits the
// memory limit (RAT_PROFILE=auto, resources.profile: auto).
const AutoProfile = "auto"

// DuckDBSharePercent is the part of the memory limit (the container's, else
// the host's RAM) DuckDB may take. DuckDB's memory_limit bounds its buffer
// manager, not every allocation it makes, and the same process holds rat's
// Go heap (iceberg-go's manifests, HTTP, the queue), the binary's mapped
// pages and the page cache a cgroup is charged for; DuckDB's own default is
// 80 % of RAM with nothing else in the process. At 75 % the seed's machines
// for the profiles (4, 20, 64 and 128 GB) each fit their own profile:
// large's 98304 MB is 72 % of 128 GiB.
const DuckDBSharePercent = 75

// mb is DuckDB's megabyte: rat sets memory_limit as "<n>MB", which DuckDB
// reads as n·10⁶ bytes.
const mb = 1_000_000

// Fit is the machine or container rat runs in and how the profile fits
// it: rat config, /health/ready and the start-up warning show it.
type Fit struct {
	// MemoryLimitBytes is the cgroup's memory limit, else the host's RAM;
	// 0 when unknown (not Linux).
	MemoryLimitBytes int64  `json:"memory_limit_bytes"`
	Source           string `json:"source"` // cgroup-v2, cgroup-v1 or host
	// CPULimit is the cgroup's CPU quota in cores, else the CPU count.
	CPULimit  float64 `json:"cpu_limit"`
	CPUSource string  `json:"cpu_source"`
	Profile   string  `json:"profile"`
	// ProfileMemoryBytes is the DuckDB memory the profile asks for;
	// DuckDBMemoryBytes what DuckDB gets (capped, or set by the user).
	ProfileMemoryBytes int64 `json:"profile_memory_bytes"`
	DuckDBMemoryBytes  int64 `json:"duckdb_memory_bytes"`
	// GoMemoryLimitBytes is the Go runtime's soft memory limit rat sets
	// (debug.SetMemoryLimit): 0 outside a cgroup or when GOMEMLIMIT is set.
	GoMemoryLimitBytes int64 `json:"go_memory_limit_bytes"`
	// Warning says what does not fit and how to fix it; "" when all does.
	Warning string `json:"warning,omitempty"`
}

// duckDBShare is the DuckDB memory, in bytes, that fits a memory limit.
func duckDBShare(limit int64) int64 { return limit / 100 * DuckDBSharePercent }

// AutoProfileFor is the largest profile whose DuckDB memory fits the memory
// limit (tiny when none does); the default profile when the limit is
// unknown (0).
func AutoProfileFor(limitBytes int64) string {
	if limitBytes <= 0 {
		return DefaultProfile
	}
	best := "tiny"
	for _, name := range ProfileNames() {
		if int64(profiles[name].DuckDBMemoryMB)*mb <= duckDBShare(limitBytes) {
			best = name
		}
	}
	return best
}

// resolveAuto replaces RAT_PROFILE=auto (from wherever it came) by the
// profile it picks, and says why in the profile's source.
func (c *Config) resolveAuto(l sysres.Limits) {
	if !strings.EqualFold(c.Profile, AutoProfile) {
		return
	}
	name := AutoProfileFor(l.MemoryBytes)
	why := fmt.Sprintf("auto: %s memory from %s", gib(l.MemoryBytes), l.MemorySource)
	if l.MemoryBytes <= 0 {
		why = "auto: memory unknown"
	}
	c.set("profile", &c.Profile, name, c.sources["profile"]+" ("+why+")")
}

// fitResources caps what the profile gives DuckDB by the machine's limits,
// sets the Go runtime's memory limit below a cgroup's, and says what does
// not fit. explicit: the user chose the profile (not the default, not auto).
func (c *Config) fitResources(l sysres.Limits, explicit bool, env func(string) (string, bool)) {
	c.Fit = Fit{MemoryLimitBytes: l.MemoryBytes, Source: l.MemorySource, CPULimit: l.CPUs, CPUSource: l.CPUSource,
		Profile: c.Profile, ProfileMemoryBytes: int64(profiles[c.Profile].DuckDBMemoryMB) * mb}
	c.capMemory(l, explicit)
	if cpus := int(math.Ceil(l.CPUs)); cpus > 0 && c.fromProfile("duckdb_threads") && c.DuckDBThreads > cpus {
		c.setInt("duckdb_threads", &c.DuckDBThreads, cpus, fmt.Sprintf("profile %s, capped at %s CPUs (%s)", c.Profile, trimFloat(l.CPUs), l.CPUSource))
	}
	c.Fit.DuckDBMemoryBytes = int64(c.DuckDBMemoryMB) * mb
	if _, set := env("GOMEMLIMIT"); !set && l.MemorySource != sysres.Host {
		c.Fit.GoMemoryLimitBytes = GoMemoryLimit(l.MemoryBytes, c.Fit.DuckDBMemoryBytes)
	}
}

// fromProfile reports whether a key's value is the profile's own.
func (c *Config) fromProfile(key string) bool { return strings.HasPrefix(c.sources[key], "profile ") }

// capMemory caps the profile's DuckDB memory at DuckDBSharePercent of the
// limit (with a warning when the user chose the profile), and warns of a
// DuckDB memory the user set above the whole limit.
func (c *Config) capMemory(l sysres.Limits, explicit bool) {
	if l.MemoryBytes <= 0 {
		return
	}
	asked, share := c.DuckDBMemoryMB, duckDBShare(l.MemoryBytes)
	limit := fmt.Sprintf("%s memory limit (%s)", gib(l.MemoryBytes), l.MemorySource)
	switch {
	case c.fromProfile("duckdb_memory_mb") && int64(asked)*mb > share:
		c.setInt("duckdb_memory_mb", &c.DuckDBMemoryMB, int(share/mb), fmt.Sprintf("profile %s, capped at %d%% of %s memory (%s)",
			c.Profile, DuckDBSharePercent, gib(l.MemoryBytes), l.MemorySource))
		if explicit {
			c.Fit.Warning = fmt.Sprintf("profile %s (%s) asks %d MB for DuckDB, more than %d%% of the %s: DuckDB gets %d MB; "+
				"choose profile auto (here: %s) or a smaller one", c.Profile, c.sources["profile"], asked,
				DuckDBSharePercent, limit, c.DuckDBMemoryMB, AutoProfileFor(l.MemoryBytes))
		}
	case !c.fromProfile("duckdb_memory_mb") && int64(asked)*mb > l.MemoryBytes:
		c.Fit.Warning = fmt.Sprintf("duckdb_memory_mb %d (%s) is more than the %s: the process can be killed for lack of memory; "+
			"lower it below %d", asked, c.sources["duckdb_memory_mb"], limit, share/mb)
	}
}

// GoMemoryLimit is the Go runtime's soft memory limit in a container of
// limit bytes whose DuckDB may take duckdb bytes: four fifths of what
// DuckDB leaves (the rest is cgo, stacks outside the heap and the binary's
// pages), and no less than a tenth of the limit, so that a DuckDB set too
// large does not leave the collector running without end.
func GoMemoryLimit(limit, duckdb int64) int64 {
	if limit <= 0 {
		return 0
	}
	return max((limit-duckdb)/5*4, limit/10)
}

// limitSettings are rat config's rows for the machine's limits.
func (c *Config) limitSettings() []Setting {
	r := c.Fit
	mem, goMem, goSrc := "unknown", "", "unset (not in a cgroup)"
	if r.MemoryLimitBytes > 0 {
		mem = gib(r.MemoryLimitBytes)
	}
	switch {
	case r.GoMemoryLimitBytes > 0:
		goMem, goSrc = gib(r.GoMemoryLimitBytes), fmt.Sprintf("%s limit less DuckDB's memory", r.Source)
	case c.goMemEnv != "":
		goMem, goSrc = c.goMemEnv, "env GOMEMLIMIT"
	}
	return []Setting{
		{"memory_limit", mem, r.Source},
		{"cpu_limit", trimFloat(r.CPULimit), r.CPUSource},
		{"go_memory_limit", goMem, goSrc},
	}
}

// loadLimits reads the machine's limits for Load: a failure to read them
// is an error only for profile auto, which cannot pick without them;
// otherwise the limits are unknown and the warning says why.
func loadLimits(opts Options, profile string) (sysres.Limits, string, error) {
	read := opts.Machine
	if read == nil {
		read = sysres.Detect
	}
	l, err := read()
	if err == nil {
		return l, "", nil
	}
	if strings.EqualFold(profile, AutoProfile) {
		return l, "", rat.Errorf(rat.EINVALID, "profile auto: %v: choose a profile by name (%s)", err, strings.Join(ProfileNames(), ", "))
	}
	unknown := sysres.Limits{MemorySource: "unknown", CPUSource: "unknown"}
	return unknown, fmt.Sprintf("memory limit unknown (%v): DuckDB's memory is not capped", err), nil
}

func gib(n int64) string { return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30)) }

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
