package startgc

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestLongRunning(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	t.Setenv("GOGC", "")
	if p := LongRunning(); p != 100 {
		t.Errorf("GOGC set (empty): LongRunning() = %d, want the 100 in effect kept", p)
	}
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("GOGC set: the collector was changed to %d", p)
	}
	// t.Setenv restores GOGC afterwards; unset it for this part.
	if err := os.Unsetenv("GOGC"); err != nil {
		t.Fatal(err)
	}
	if p := LongRunning(); p != LongRunningPercent {
		t.Errorf("no GOGC: LongRunning() = %d, want %d", p, LongRunningPercent)
	}
	if p := debug.SetGCPercent(100); p != LongRunningPercent {
		t.Errorf("no GOGC: the collector runs at %d, want %d", p, LongRunningPercent)
	}
}
