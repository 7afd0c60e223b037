package metrics

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"

	dto "github.com/prometheus/client_model/go"
)

// The overview page shows the host's memory, CPU and data disk and the
// queries' p95 against thresholds; these measure them (the thresholds are
// the overview's, internal/server).

// histogramQuantile estimates a quantile of a histogram by linear
// interpolation inside its bucket, as Prometheus' histogram_quantile does.
func histogramQuantile(h interface{ Write(*dto.Metric) error }, q float64) (float64, bool) {
	var m dto.Metric
	if err := h.Write(&m); err != nil || m.Histogram == nil || m.Histogram.GetSampleCount() == 0 {
		return 0, false
	}
	total := float64(m.Histogram.GetSampleCount())
	rank := q * total
	prevBound, prevCount := 0.0, 0.0
	for _, b := range m.Histogram.Bucket {
		c := float64(b.GetCumulativeCount())
		if c >= rank {
			if c == prevCount {
				return b.GetUpperBound(), true
			}
			return prevBound + (b.GetUpperBound()-prevBound)*(rank-prevCount)/(c-prevCount), true
		}
		prevBound, prevCount = b.GetUpperBound(), c
	}
	return prevBound, true // beyond the last bucket: at least that much
}

// MemoryUsed is the used fraction of the machine's memory, or of the
// cgroup's limit when one is set (a container sees the host's meminfo).
func MemoryUsed() (float64, bool) {
	if used, ok := readInt("/sys/fs/cgroup/memory.current"); ok {
		if limit, ok := readInt("/sys/fs/cgroup/memory.max"); ok && limit > 0 {
			return float64(used) / float64(limit), true
		}
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var total, avail float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "MemTotal:":
			total = v
		case "MemAvailable:":
			avail = v
		}
	}
	if total == 0 {
		return 0, false
	}
	return 1 - avail/total, true
}

func readInt(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

// CPUMeter measures the machine's CPU use between two calls of Used (the
// first call measures since boot), from /proc/stat. The zero value is
// ready.
type CPUMeter struct {
	mu          sync.Mutex
	busy, total float64
	last        float64 // the last measure, answered again when calls come too close
	known       bool
}

// Used is the fraction of CPU time busy since the last call; false when
// it cannot be read here.
func (c *CPUMeter) Used() (float64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, false
	}
	var total, idle float64
	for i, f := range fields[1:] {
		v, _ := strconv.ParseFloat(f, 64)
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	busy := total - idle
	c.mu.Lock()
	defer c.mu.Unlock()
	db, dt := busy-c.busy, total-c.total
	if dt < 100 { // under about a second of one core's ticks: too noisy
		return c.last, c.known
	}
	c.busy, c.total = busy, total
	c.last, c.known = db/dt, true
	return c.last, true
}
