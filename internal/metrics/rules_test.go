package metrics

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat/internal/testenv"
)

// rulesDir holds the alert rules shipped for Prometheus.
var rulesDir = filepath.Join("..", "..", "deploy", "monitoring")

// TestAlertRules runs the rules' unit tests with Prometheus' promtool:
// every alert fires at its threshold and not just below it.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	promtool := testenv.Promtool(t)
	cmd := exec.Command(promtool, "test", "rules", "rules_test.yml")
	cmd.Dir = rulesDir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// TestAlertRulesNameRealMetrics: every rat_ metric the rules and the
// scrape files name is one a rat process exposes, so no alert watches a
// series that cannot exist.
func TestAlertRulesNameRealMetrics(t *testing.T) {
	t.Parallel()
	fs, _ := cgroupTree(t)
	meter, err := NewMeter(fs, []Volume{{"spill", t.TempDir()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Exec: true, Serve: true, Meter: meter, Version: "v", StateDir: t.TempDir(),
		Cache:        func() (int64, int64) { return 0, 0 },
		QueueWaiting: func(context.Context) (int, time.Duration, error) { return 0, 0, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WatchFreshness(func(context.Context) ([]Freshness, error) {
		return []Freshness{{Table: "silver.t", Status: "ok", Built: true}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	m.QueryDone(QueryAPI, time.Second)
	fams := scrape(t, m)
	var names []string
	for _, file := range []string{"rules.yml", "grafana-dashboard.json"} {
		data, err := os.ReadFile(filepath.Join(rulesDir, file))
		if os.IsNotExist(err) && file != "rules.yml" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, regexp.MustCompile(`\brat_[a-z_]+`).FindAllString(string(data), -1)...)
	}
	if len(names) < 10 {
		t.Fatalf("found only %v in the rules", names)
	}
	for _, n := range names {
		base := n
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(n, suffix); ok && fams[b] != nil {
				base = b
			}
		}
		if fams[base] == nil {
			var have []string
			for k := range fams {
				have = append(have, k)
			}
			slices.Sort(have)
			t.Errorf("the rules name %s, which no rat process exposes (it has %v)", n, have)
		}
	}
}
