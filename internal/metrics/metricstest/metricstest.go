// Package metricstest holds the checks that rat serve's and rat worker's
// /metrics tests share: both gate the endpoint with the same token rule.
package metricstest

import (
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Parse parses a /metrics answer with Prometheus's own text parser, and
// fails t unless it answered 200 and parses.
func Parse(t testing.TB, code int, body io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// CheckTokenGate asks base+"/metrics" with no token, wrong tokens, the
// metrics token and an API token, and fails t unless only the last two are
// answered, a refusal names RAT_METRICS_TOKEN and shows no series, and an
// answer holds every string in want. /health/live must stay open.
func CheckTokenGate(t testing.TB, base, metricsTok, apiTok string, want ...string) {
	t.Helper()
	for tok, code := range map[string]int{"": 401, "wrong": 401, metricsTok + "x": 401, metricsTok: 200, apiTok: 200} {
		req, _ := http.NewRequest("GET", base+"/metrics", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Errorf("%s/metrics with %q: %d, want %d", base, tok, resp.StatusCode, code)
			continue
		}
		if code == 401 && (!strings.Contains(string(body), "RAT_METRICS_TOKEN") || strings.Contains(string(body), "go_goroutines") || resp.Header.Get("WWW-Authenticate") == "") {
			t.Errorf("%s/metrics refused: %s", base, body)
		}
		if code == 200 {
			for _, w := range append([]string{"go_goroutines"}, want...) {
				if !strings.Contains(string(body), w) {
					t.Errorf("%s/metrics lacks %q: %.200s", base, w, body)
				}
			}
		}
	}
	if resp, err := http.Get(base + "/health/live"); err != nil || resp.StatusCode != 200 {
		t.Errorf("%s/health/live: %v %v", base, resp, err)
	} else {
		resp.Body.Close()
	}
}
