package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Promtool returns the path of Prometheus' promtool for the alert rules'
// tests: RAT_TEST_PROMTOOL, else promtool on PATH (Debian's prometheus
// package). Without one the test skips, but under CI=true it fails;
// scripts/test.sh installs Debian's prometheus and sets the variable.
func Promtool(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("RAT_TEST_PROMTOOL"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("RAT_TEST_PROMTOOL=%s: %v", p, err)
		}
		return p
	}
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	unavailable(t, "no promtool: RAT_TEST_PROMTOOL not set and no promtool on PATH: run scripts/test.sh (it installs Debian's prometheus)")
	return ""
}
