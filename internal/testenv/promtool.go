package testenv

import "testing"

// Promtool returns the path of Prometheus' promtool for the alert rules'
// tests: RAT_TEST_PROMTOOL, else promtool on PATH (Debian's prometheus
// package). Without one the test skips, but under CI=true it fails;
// scripts/test.sh installs Debian's prometheus and sets the variable.
func Promtool(t testing.TB) string {
	t.Helper()
	return tool(t, "RAT_TEST_PROMTOOL", "promtool")
}
