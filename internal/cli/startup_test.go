package cli

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestFewGCsDuringInit: rat's packages initialise with the garbage
// collector off until the heap nears 40 MB (iceberg-go's table/substrait
// alone allocates about 30 MB parsing YAML before main, which with the
// default GOGC set off eight collections on every command), and the
// collector runs as GOGC says from main on.
func TestFewGCsDuringInit(t *testing.T) {
	cmd := exec.Command(ratBinary(t), "--help")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1,gctrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rat --help: %v\n%s", err, out)
	}
	var inits, gcs []int // line numbers
	startgc, substrait := -1, -1
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "init "):
			inits = append(inits, i)
			if strings.HasPrefix(l, "init github.com/ratdata/rat/internal/startgc ") {
				startgc = i
			}
			if strings.HasPrefix(l, "init github.com/apache/iceberg-go/table/substrait ") {
				substrait = i
			}
		case strings.HasPrefix(l, "gc "):
			gcs = append(gcs, i)
		}
	}
	if startgc < 0 || substrait < 0 {
		t.Fatalf("GODEBUG=inittrace=1 shows no init of startgc (line %d) or of iceberg-go's table/substrait (line %d):\n%s", startgc, substrait, out)
	}
	if startgc > substrait {
		t.Errorf("startgc initialised after iceberg-go's table/substrait (lines %d, %d): the collector ran during its init", startgc, substrait)
	}
	var during []string
	for _, g := range gcs {
		if g > startgc && g < inits[len(inits)-1] {
			during = append(during, lines[g])
		}
	}
	if len(during) > 2 {
		t.Errorf("%d collections during package initialisation, want at most 2:\n%s", len(during), strings.Join(during, "\n"))
	}
}

// TestBenchQueryWholeProcess: rat bench query also times what a user waits
// for — rat query as a new process against DuckDB alone as a new process
// over the same files — for SELECT 1, a count and a group-by, with the
// binary's own start reported apart.
func TestBenchQueryWholeProcess(t *testing.T) {
	u := newUser(t, false)
	out := u.ok("bench", "query", "--rows", "2000", "--files", "2", "--reps", "1", "--tables", "1", "--process-reps", "1")
	i := strings.Index(out, "whole process")
	if i < 0 {
		t.Fatalf("no whole-process comparison:\n%s", out)
	}
	for _, want := range []string{"RAT QUERY", "DUCKDB ONLY", "SELECT 1", "count", "sum by region", "'rat --help'"} {
		if !strings.Contains(out[i:], want) {
			t.Errorf("the whole-process comparison lacks %q:\n%s", want, out[i:])
		}
	}
	if got := u.ok("bench", "duckdb-only", "SELECT 40 + 2 AS answer"); !strings.Contains(got, "answer") || !strings.Contains(got, "42") {
		t.Errorf("rat bench duckdb-only printed %q", got)
	}
	if strings.Contains(u.ok("bench", "--help"), "duckdb-only") {
		t.Error("the plain-DuckDB side of the bench shows in 'rat bench --help'")
	}
}
