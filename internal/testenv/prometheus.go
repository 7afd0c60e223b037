package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Prometheus returns the path of the prometheus server for the test that
// scrapes a rat cluster: RAT_TEST_PROMETHEUS, else prometheus on PATH
// (Debian's package). Without one the test skips, but under CI=true it
// fails; scripts/test.sh installs Debian's prometheus and sets the variable.
func Prometheus(t testing.TB) string {
	t.Helper()
	return tool(t, "RAT_TEST_PROMETHEUS", "prometheus")
}

// tool finds a program for tests: the path env names, else name on PATH.
func tool(t testing.TB, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", env, p, err)
		}
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	unavailable(t, "no "+name+": "+env+" not set and no "+name+" on PATH: run scripts/test.sh (it installs Debian's prometheus)")
	return ""
}
