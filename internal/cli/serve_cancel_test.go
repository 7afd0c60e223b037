package cli

import (
	"net/http"
	"testing"
)

// TestServeCancelsItsOwnRun: POST /runs/{id}/cancel to the rat serve that
// started the run (and executes it) stops it: the run fails and its target
// keeps its previous state.
func TestServeCancelsItsOwnRun(t *testing.T) {
	u := newUser(t, false)
	u.write("workspace.yaml", "name: cancel\n")
	u.write("pipelines/gold/slow.sql", "SELECT count(*) AS n FROM range(3000000000) t(i) WHERE hash(i) % 7 = 0\n")
	base := startServe(t, u)
	id := postRun(t, base, `{"selectors": ["gold.slow"]}`)
	waitRunStatus(t, u, id, "running")
	resp, err := http.Post(base+"/api/v1/runs/"+id+"/cancel", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("cancel = %d, want 202", resp.StatusCode)
	}
	waitRunStatus(t, u, id, "failed")
	if _, _, code := u.run("query", "SELECT * FROM gold.slow"); code == 0 {
		t.Error("the cancelled run published gold.slow")
	}
}
