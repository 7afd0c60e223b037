package config

import (
	"time"

	"github.com/ratdata/rat"
)

// Thresholds are the levels rat status judges processes by: memory, CPU
// and disk as ratios (0.7 = 70 %), query latency in seconds.
type Thresholds struct {
	Memory       Levels `json:"memory"`
	CPU          Levels `json:"cpu"`
	Disk         Levels `json:"disk"`
	QueryLatency Levels `json:"query_latency"`
}

// Levels are a warning and a critical level: a value at or above one has
// that status.
type Levels struct {
	Warning  float64 `json:"warning"`
	Critical float64 `json:"critical"`
}

// DefaultThresholds are the operations guide's: memory 70/90 %, CPU 80/95
// %, disk 70/85 %, query latency 5/30 s.
var DefaultThresholds = Thresholds{
	Memory:       Levels{0.70, 0.90},
	CPU:          Levels{0.80, 0.95},
	Disk:         Levels{0.70, 0.85},
	QueryLatency: Levels{5, 30},
}

// DefaultHeartbeatInterval is monitoring.heartbeat_interval's default.
const DefaultHeartbeatInterval = 5 * time.Second

// ParseHeartbeatInterval reads a monitoring.heartbeat_interval value: a
// duration of at least a second.
func ParseHeartbeatInterval(v string) (time.Duration, error) { return parseSeconds(v, "5s") }

// resolve applies the levels set over the defaults and checks them:
// percents in (0, 100], seconds above 0, warning below critical.
func (m MonitoringThreshold) resolve(file string, lines map[string]int) (Thresholds, error) {
	th := DefaultThresholds
	for _, f := range []struct {
		key     string
		set     Threshold
		dst     *Levels
		percent bool
	}{
		{"memory", m.Memory, &th.Memory, true},
		{"cpu", m.CPU, &th.CPU, true},
		{"disk", m.Disk, &th.Disk, true},
		{"query_latency", m.QueryLatency, &th.QueryLatency, false},
	} {
		key := "monitoring.thresholds." + f.key
		scale, unit := 1.0, "seconds above 0"
		if f.percent {
			scale, unit = 100, "a percent above 0 and at most 100"
		}
		for _, l := range []struct {
			name string
			v    *float64
			dst  *float64
		}{{"warning", f.set.Warning, &f.dst.Warning}, {"critical", f.set.Critical, &f.dst.Critical}} {
			if l.v == nil {
				continue
			}
			if *l.v <= 0 || f.percent && *l.v > 100 {
				return th, rat.Errorf(rat.EINVALID, "%s:%d: %s.%s: want %s, got %g", file, lines[key+"."+l.name], key, l.name, unit, *l.v)
			}
			*l.dst = *l.v / scale
		}
		if f.dst.Warning >= f.dst.Critical {
			line := lines[key]
			return th, rat.Errorf(rat.EINVALID, "%s:%d: %s: warning %g is not below critical %g: set warning lower than critical",
				file, line, key, f.dst.Warning*scale, f.dst.Critical*scale)
		}
	}
	return th, nil
}
