package trigger

import "time"

// Freshness states.
const (
	Fresh   = "ok"
	Stale   = "warn"  // older than warn_after
	Expired = "error" // older than error_after
	Unknown = "unknown"
)

// FreshnessOf says how fresh a table is whose data last changed at
// updated, for the thresholds warnAfter and errorAfter (0 = not set).
func FreshnessOf(updated time.Time, warnAfter, errorAfter time.Duration, now time.Time) string {
	if updated.IsZero() {
		return Unknown
	}
	age := now.Sub(updated)
	switch {
	case errorAfter > 0 && age > errorAfter:
		return Expired
	case warnAfter > 0 && age > warnAfter:
		return Stale
	}
	return Fresh
}
