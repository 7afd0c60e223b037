package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat/internal/proc"
	"github.com/ratdata/rat/internal/testenv"
	"gopkg.in/yaml.v3"
)

// monitoringDir holds the rules and the dashboard shipped for Prometheus.
var monitoringDir = filepath.Join("..", "..", "deploy", "monitoring")

// TestPrometheusScrapesCluster starts Debian's prometheus against one rat
// serve and two rat workers on loopback, with deploy/monitoring's rules
// loaded, and evaluates every PromQL expression of the rules and the
// dashboard through Prometheus' HTTP API: each returns data, so no alert
// or panel names a series a rat cluster does not have. (An alert's
// expression is evaluated without its comparison: a healthy cluster fires
// none.)
func TestPrometheusScrapesCluster(t *testing.T) {
	t.Parallel()
	prom := testenv.Prometheus(t)
	u := newUser(t, false)
	u.write("workspace.yaml", "name: prom\n")
	u.write("pipelines/silver/one.sql", "SELECT 1 AS n\n")
	u.write("pipelines/silver/one.yaml", "freshness: {warn_after: {hours: 1}}\n")
	u.ok("run") // the table exists: its age is reported
	base := startServe(t, u)
	var targets []string
	for range 2 {
		m := startDaemon(t, u, regexp.MustCompile(`metrics on (http://127\.0\.0\.1:\d+)/metrics`), "worker", "--listen", "127.0.0.1:0")
		targets = append(targets, strings.TrimPrefix(m, "http://"))
	}
	// A query, so that the latency histogram has a sample.
	resp, err := http.Post(base+"/api/v1/query", "application/json", strings.NewReader(`{"sql": "SELECT 1"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("query: %v %v", resp, err)
	}
	resp.Body.Close()

	rules, err := filepath.Abs(filepath.Join(monitoringDir, "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - {job_name: rat-serve, static_configs: [{targets: [%q]}]}
  - {job_name: rat-worker, static_configs: [{targets: [%q, %q]}]}
`, rules, strings.TrimPrefix(base, "http://"), targets[0], targets[1])
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=info")
	if _, err := proc.StartAndWait(cmd, regexp.MustCompile(`(Server is ready to receive web requests)`), 60*time.Second); err != nil {
		t.Fatalf("prometheus: %v", err)
	}
	t.Cleanup(func() { stopDaemon(cmd) })

	query := func(expr string) (int, error) {
		resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(expr))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var r struct {
			Status string
			Error  string
			Data   struct{ Result []json.RawMessage }
		}
		if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
			return 0, fmt.Errorf("%s: %v %s", expr, err, body)
		}
		return len(r.Data.Result), nil
	}
	exprs := ruleExprs(t)
	if len(exprs) < 15 {
		t.Fatalf("only %d expressions in the rules and the dashboard", len(exprs))
	}
	deadline := time.Now().Add(90 * time.Second)
	for _, e := range append([]string{`count(up{job=~"rat.*"} == 1) == 3`}, exprs...) {
		for {
			n, err := query(e)
			if err != nil {
				t.Fatal(err) // a malformed expression fails at once
			}
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("no data for %s", e)
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// comparison is where an alert's condition starts.
var comparison = regexp.MustCompile(`\s(>=|<=|==|!=|>|<)\s`)

// ruleExprs are the expressions of rules.yml (alerts without their
// comparison) and of the dashboard's panels.
func ruleExprs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(monitoringDir, "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Record, Expr string }
		}
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			e := r.Expr
			if r.Alert != "" {
				e = comparison.Split(e, 2)[0]
			}
			out = append(out, strings.TrimSpace(e))
		}
	}
	data, err = os.ReadFile(filepath.Join(monitoringDir, "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct{ Targets []struct{ Expr string } }
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	return out
}
