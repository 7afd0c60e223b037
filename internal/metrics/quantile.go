package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The overview page shows the queries' p95 against its thresholds.

// histogramQuantile estimates a quantile of the sum of histograms with the
// same buckets by linear interpolation inside its bucket, as Prometheus'
// histogram_quantile does over sum by (le).
func histogramQuantile(q float64, hs ...prometheus.Observer) (float64, bool) {
	var total float64
	var bounds, counts []float64
	for _, h := range hs {
		w, ok := h.(interface{ Write(*dto.Metric) error })
		if !ok {
			continue
		}
		var m dto.Metric
		if err := w.Write(&m); err != nil || m.Histogram == nil {
			continue
		}
		total += float64(m.Histogram.GetSampleCount())
		for i, b := range m.Histogram.Bucket {
			if i == len(bounds) {
				bounds, counts = append(bounds, b.GetUpperBound()), append(counts, 0)
			}
			counts[i] += float64(b.GetCumulativeCount())
		}
	}
	if total == 0 {
		return 0, false
	}
	rank := q * total
	prevBound, prevCount := 0.0, 0.0
	for i, c := range counts {
		if c >= rank {
			if c == prevCount {
				return bounds[i], true
			}
			return prevBound + (bounds[i]-prevBound)*(rank-prevCount)/(c-prevCount), true
		}
		prevBound, prevCount = bounds[i], c
	}
	return prevBound, true // beyond the last bucket: at least that much
}
