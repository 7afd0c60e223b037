package metrics

import (
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/ratdata/rat/internal/sysres"
)

// Volume is a directory whose file system a process reports: the local
// warehouse, DuckDB's spill directory, the S3 read cache.
type Volume struct {
	Name string // warehouse, spill or cache: the volume label
	Dir  string
}

// Snapshot is what a process uses against what it may use, as /metrics,
// heartbeats and rat status report it.
type Snapshot struct {
	MemoryBytes      int64   `json:"memory_bytes"`       // working set (sysres.Usage)
	MemoryLimitBytes int64   `json:"memory_limit_bytes"` // the cgroup's limit, else the host's RAM; 0 = unknown
	CPURatio         float64 `json:"cpu_ratio"`          // CPU used over the last interval, as a share of CPUs
	CPUs             float64 `json:"cpus"`               // the cgroup's quota in cores, else the CPU count
	Disks            []Disk  `json:"disks,omitempty"`
	// QueryP95Seconds is rat serve's p95 API query latency; 0 = none
	// measured (a worker, or no query yet). The caller sets it.
	QueryP95Seconds float64 `json:"query_p95_seconds,omitempty"`
	// ProfileWarning says the configured profile does not fit the
	// memory limit (config.Fit.Warning); "" = it fits. The caller sets it.
	ProfileWarning string `json:"profile_warning,omitempty"`
}

// MemoryRatio is the memory used as a share of the limit; 0 when unknown.
func (s Snapshot) MemoryRatio() float64 {
	if s.MemoryLimitBytes <= 0 {
		return 0
	}
	return float64(s.MemoryBytes) / float64(s.MemoryLimitBytes)
}

// Disk is the use of the file system holding a volume.
type Disk struct {
	Volume    string `json:"volume"`
	UsedBytes uint64 `json:"used_bytes"`
	FreeBytes uint64 `json:"free_bytes"`
}

// UsedRatio is the used share of the file system.
func (d Disk) UsedRatio() float64 {
	if d.UsedBytes+d.FreeBytes == 0 {
		return 0
	}
	return float64(d.UsedBytes) / float64(d.UsedBytes+d.FreeBytes)
}

// minCPUInterval is the shortest interval a CPU share is measured over:
// closer reads answer the last share again.
const minCPUInterval = time.Second

// Meter measures a process's resources against its limits, for /metrics
// and heartbeats. Its CPU share is over the interval since the previous
// measure (at least a second), the first since NewMeter.
type Meter struct {
	fs      sysres.FS
	limits  sysres.Limits
	volumes []Volume
	now     func() time.Time

	mu       sync.Mutex
	cpuAt    time.Time
	cpuSecs  float64
	cpuRatio float64
	usageErr error
}

// NewMeter reads the limits of fs once (they do not change while the
// process runs) and the CPU time used so far. now nil = time.Now.
func NewMeter(fs sysres.FS, volumes []Volume, now func() time.Time) (*Meter, error) {
	if now == nil {
		now = time.Now
	}
	limits, err := fs.Read()
	if err != nil {
		return nil, err
	}
	m := &Meter{fs: fs, limits: limits, volumes: volumes, now: now}
	u, err := fs.ReadUsage()
	if err != nil {
		return nil, err
	}
	m.cpuAt, m.cpuSecs = now(), u.CPUSeconds
	return m, nil
}

// Snapshot measures now. A usage file that stops reading leaves memory
// and CPU at zero (the error is kept for Err).
func (m *Meter) Snapshot() Snapshot {
	s := Snapshot{MemoryLimitBytes: m.limits.MemoryBytes, CPUs: m.limits.CPUs}
	u, err := m.fs.ReadUsage()
	m.mu.Lock()
	m.usageErr = err
	if err == nil {
		s.MemoryBytes = u.MemoryBytes
		if t := m.now(); t.Sub(m.cpuAt) >= minCPUInterval && s.CPUs > 0 {
			m.cpuRatio = max(0, u.CPUSeconds-m.cpuSecs) / t.Sub(m.cpuAt).Seconds() / s.CPUs
			m.cpuAt, m.cpuSecs = t, u.CPUSeconds
		}
		s.CPURatio = m.cpuRatio
	}
	m.mu.Unlock()
	for _, v := range m.volumes {
		if used, free, ok := diskUsage(v.Dir); ok {
			s.Disks = append(s.Disks, Disk{Volume: v.Name, UsedBytes: used, FreeBytes: free})
		}
	}
	return s
}

// Err is the error of the last usage read, nil when it read.
func (m *Meter) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.usageErr
}

// resourceCollector reports a Meter's snapshot at each scrape.
type resourceCollector struct {
	meter                                           *Meter
	memUsed, memLimit, memRatio, cpuRatio, cpuLimit *prometheus.Desc
	diskUsed, diskFree, diskRatio                   *prometheus.Desc
}

func newResourceCollector(m *Meter) *resourceCollector {
	vol := []string{"volume"}
	return &resourceCollector{meter: m,
		memUsed:   prometheus.NewDesc("rat_memory_used_bytes", "Memory the process's cgroup uses (working set: less the inactive file cache), or the process's resident set outside a cgroup.", nil, nil),
		memLimit:  prometheus.NewDesc("rat_memory_limit_bytes", "The memory limit: the cgroup's, else the host's RAM.", nil, nil),
		memRatio:  prometheus.NewDesc("rat_memory_used_ratio", "rat_memory_used_bytes / rat_memory_limit_bytes.", nil, nil),
		cpuRatio:  prometheus.NewDesc("rat_cpu_used_ratio", "CPU used since the previous scrape (at least 1s), as a share of rat_cpu_limit_cores.", nil, nil),
		cpuLimit:  prometheus.NewDesc("rat_cpu_limit_cores", "The CPUs the process may keep busy: the cgroup's quota, else the CPU count.", nil, nil),
		diskUsed:  prometheus.NewDesc("rat_disk_used_bytes", "Bytes used on the file system holding a volume (warehouse: the local warehouse; spill: DuckDB's spill directory; cache: the S3 read cache).", vol, nil),
		diskFree:  prometheus.NewDesc("rat_disk_free_bytes", "Bytes free for rat on the file system holding a volume.", vol, nil),
		diskRatio: prometheus.NewDesc("rat_disk_used_ratio", "Used share of the file system holding a volume.", vol, nil),
	}
}

func (c *resourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.memUsed, c.memLimit, c.memRatio, c.cpuRatio, c.cpuLimit, c.diskUsed, c.diskFree, c.diskRatio} {
		ch <- d
	}
}

func (c *resourceCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.meter.Snapshot()
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if c.meter.Err() == nil {
		g(c.memUsed, float64(s.MemoryBytes))
		g(c.cpuRatio, s.CPURatio)
		if s.MemoryLimitBytes > 0 {
			g(c.memRatio, s.MemoryRatio())
		}
	}
	if s.MemoryLimitBytes > 0 {
		g(c.memLimit, float64(s.MemoryLimitBytes))
	}
	g(c.cpuLimit, s.CPUs)
	for _, d := range s.Disks {
		g(c.diskUsed, float64(d.UsedBytes), d.Volume)
		g(c.diskFree, float64(d.FreeBytes), d.Volume)
		g(c.diskRatio, d.UsedRatio(), d.Volume)
	}
}

// buildInfo is rat_build_info: 1, labelled with rat's version and Go's.
func buildInfo(version string) prometheus.Collector {
	revision := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rat_build_info", Help: "Always 1; the labels say which rat runs: version, Go version, VCS revision.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version(), "revision": revision},
	})
	g.Set(1)
	return g
}
