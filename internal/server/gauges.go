package server

import (
	"math"

	"github.com/ratdata/rat/internal/config"
)

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

func newGauge(name, unit string, v float64, known bool, l config.Levels) gauge {
	g := gauge{Name: name, Unit: unit, Value: v, Warn: l.Warning, Critical: l.Critical, Status: "ok"}
	switch {
	case !known || math.IsNaN(v):
		g.Status, g.Value = "unknown", 0
	case v >= l.Critical:
		g.Status = "critical"
	case v >= l.Warning:
		g.Status = "warn"
	}
	return g
}
