package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium returns the path of a Chromium (or Chrome) browser for the
// browser tests: RAT_TEST_CHROMIUM, else chromium on PATH (Debian's
// package). Without one the test skips, but under CI=true it fails;
// scripts/test.sh installs Debian's chromium and sets the variable.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("RAT_TEST_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("RAT_TEST_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	unavailable(t, "no browser: RAT_TEST_CHROMIUM not set and no chromium on PATH: run scripts/test.sh (it installs Debian's chromium)")
	return ""
}
