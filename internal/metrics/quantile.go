package metrics

import dto "github.com/prometheus/client_model/go"

// The overview page shows the queries' p95 against its thresholds.

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
