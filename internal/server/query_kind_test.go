package server

import (
	"bytes"
	"net/http"
	"testing"
)

// TestQueryKinds: rat_query_duration_seconds counts a query from rat's own
// client (its User-Agent) as kind cli and any other as kind api.
func TestQueryKinds(t *testing.T) {
	e := newTestEnv(t, nil, nil)
	kinds := func() map[string]uint64 {
		out := map[string]uint64{}
		for _, m := range scrape(t, e)["rat_query_duration_seconds"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" {
					out[l.GetValue()] = m.GetHistogram().GetSampleCount()
				}
			}
		}
		return out
	}
	before := kinds()
	e.scalar("main", "SELECT 1")
	req, err := http.NewRequest("POST", e.http.URL+"/api/v1/query", bytes.NewBufferString(`{"sql": "SELECT 2"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rat-client/1")
	e.want(e.send(req), http.StatusOK)
	after := kinds()
	if after["api"]-before["api"] != 1 || after["cli"]-before["cli"] != 1 {
		t.Fatalf("rat_query_duration_seconds by kind went from %v to %v, want one more api and one more cli", before, after)
	}
}
