package orchestrator

import (
	"testing"
	"time"
)

// A big run's record is rewritten less often than a small one's, and a
// node's progress never waits longer than maxProgressFlush to show.
func TestFlushEveryGrowsWithTheRecord(t *testing.T) {
	for _, c := range []struct {
		nodes int
		want  time.Duration
	}{
		{0, 250 * time.Millisecond},
		{10, 260 * time.Millisecond},
		{1000, 1250 * time.Millisecond},
		{100_000, 2 * time.Second},
	} {
		if got := flushEvery(c.nodes); got != c.want {
			t.Errorf("flushEvery(%d) = %s, want %s", c.nodes, got, c.want)
		}
	}
}
