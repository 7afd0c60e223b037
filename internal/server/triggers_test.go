package server

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTriggerIDsFollowTriggers: the API names a trigger by its name: (or
// its type and defining fields), so a trigger switched off stays off, and
// keeps its id, when the pipeline's triggers are reordered.
func TestTriggerIDsFollowTriggers(t *testing.T) {
	t.Parallel()
	const nightly = "  - {type: schedule, cron: '0 2 * * *', name: nightly}\n"
	const landing = "  - {type: landing, zone: orders}\n"
	e := newTestEnv(t, map[string]string{
		"pipelines/silver/x.sql":  "SELECT 1 AS x\n",
		"pipelines/silver/x.yaml": "triggers:\n" + nightly + landing,
	}, nil)
	state := func() map[string]bool {
		out := map[string]bool{}
		for _, tr := range list(t, e.want(e.do("GET", "/api/v1/triggers", nil), http.StatusOK), "triggers") {
			out[tr["id"].(string)] = tr["enabled"].(bool)
		}
		return out
	}
	before := state()
	if _, ok := before["silver.x:nightly"]; !ok || len(before) != 2 {
		t.Fatalf("trigger ids = %v, want silver.x:nightly and the landing trigger's", before)
	}
	var landingID string
	for id := range before {
		if strings.HasPrefix(id, "silver.x:landing-") {
			landingID = id
		}
	}
	e.want(e.do("POST", "/api/v1/triggers/silver.x:nightly/disable", nil), http.StatusOK)
	if err := os.WriteFile(filepath.Join(e.dir, "pipelines", "silver", "x.yaml"), []byte("triggers:\n"+landing+nightly), 0o644); err != nil {
		t.Fatal(err)
	}
	if after := state(); len(after) != 2 || after["silver.x:nightly"] || !after[landingID] {
		t.Fatalf("after the reorder: %v, want nightly disabled and %s enabled", after, landingID)
	}
	// The place in the list still designates a trigger (ids before names).
	on := e.want(e.do("POST", "/api/v1/triggers/silver.x:1/enable", nil), http.StatusOK)
	if on.body["id"] != "silver.x:nightly" || on.body["enabled"] != true {
		t.Fatalf("enable silver.x:1: %s", on.raw)
	}
	r := e.want(e.do("POST", "/api/v1/triggers/silver.x:hourly/disable", nil), http.StatusNotFound)
	if !strings.Contains(r.errMessage(), "nightly") {
		t.Fatalf("unknown trigger: %s, want the triggers there are named", r.raw)
	}
}
