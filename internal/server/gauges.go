package server

import "math"

// gauge is one resource against the thresholds operators are told to
// watch. Status is ok, warn, critical, or unknown when it cannot be
// measured here.
type gauge struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"` // a ratio 0–1, or seconds for latency
	Unit     string  `json:"unit"`  // ratio or seconds
	Warn     float64 `json:"warn"`
	Critical float64 `json:"critical"`
	Status   string  `json:"status"`
}

// Thresholds of the overview's gauges (the operations guide's numbers).
var gaugeLimits = map[string][2]float64{
	"memory":            {0.70, 0.90},
	"cpu":               {0.80, 0.95},
	"disk":              {0.70, 0.85},
	"query_latency_p95": {5, 30},
}

func newGauge(name, unit string, v float64, known bool) gauge {
	l := gaugeLimits[name]
	g := gauge{Name: name, Unit: unit, Value: v, Warn: l[0], Critical: l[1], Status: "ok"}
	switch {
	case !known || math.IsNaN(v):
		g.Status, g.Value = "unknown", 0
	case v >= l[1]:
		g.Status = "critical"
	case v >= l[0]:
		g.Status = "warn"
	}
	return g
}
