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
