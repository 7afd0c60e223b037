package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Snapshot expiry defaults (maintenance.expire): snapshots younger than a
// week, and the last 10 of each table on each branch, are kept.
const (
	DefaultExpireOlderThan  = 7 * 24 * time.Hour
	DefaultExpireRetainLast = 10
)

// DefaultOrphansOlderThan is maintenance.orphans.older_than's default:
// orphan cleanup keeps files modified within 3 days.
const DefaultOrphansOlderThan = 3 * 24 * time.Hour

// CheckOrphanGrace refuses a grace period for orphan cleanup shorter than
// the run lease: a run whose process stopped heartbeating counts as
// running for that long, and a writer could still commit its files.
func CheckOrphanGrace(grace, lease time.Duration) error {
	if grace < lease {
		return fmt.Errorf("%s is shorter than the run lease (runs.lease, %s): a run counts as running that long after its last heartbeat, and its writer could still commit those files; set at least %s (default %s)",
			FormatAge(grace), lease, FormatAge(lease), FormatAge(DefaultOrphansOlderThan))
	}
	return nil
}

// Compaction defaults (maintenance.optimize): the target file size is the
// profile's (Profile.TargetFileSizeMB).
const (
	DefaultMinSmallFiles = 2
	MaxTargetFileSizeMB  = 16384
)

// ParseAge reads an age such as 7d, 36h or 90m: a whole number of days
// (d) or a Go duration, at least 0.
func ParseAge(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 && days <= 100_000 {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d, nil
	}
	return 0, fmt.Errorf("want an age such as 7d, 36h or 90m, got %q", v)
}

// FormatAge writes an age the way ParseAge reads it: 7d, 36h0m0s.
func FormatAge(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
