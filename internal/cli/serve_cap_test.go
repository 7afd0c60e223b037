package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServeResultCap: resources.max_result_bytes in workspace.yaml caps
// what rat serve answers a query with; rat config shows where it came from.
func TestServeResultCap(t *testing.T) {
	u := newUser(t, false)
	u.write("workspace.yaml", "name: cap\nresources:\n  max_result_bytes: 65536\n")
	u.write("pipelines/bronze/wide.sql", "SELECT range AS i, repeat('x', 1000) AS s FROM range(200)\n")
	u.ok("run", "bronze.wide")
	if out := u.ok("config"); !strings.Contains(out, "max_result_bytes") || !strings.Contains(out, "65536") || !strings.Contains(out, "workspace.yaml:3") {
		t.Fatalf("rat config does not show the cap from workspace.yaml:\n%s", out)
	}
	base := startServe(t, u)
	resp, err := http.Post(base+"/api/v1/query", "application/json", strings.NewReader(`{"sql": "SELECT * FROM bronze.wide"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var ans struct {
		Rows        [][]any `json:"rows"`
		Truncated   bool    `json:"truncated"`
		TruncatedBy string  `json:"truncated_by"`
		Message     string  `json:"message"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("query: %d %.300s (%v)", resp.StatusCode, raw, err)
	}
	// 200 rows of about 1 KB: about 60 fit in 64 KiB.
	if !ans.Truncated || ans.TruncatedBy != "bytes" || len(ans.Rows) < 40 || len(ans.Rows) > 64 || !strings.Contains(ans.Message, "64 KiB") {
		t.Fatalf("%d rows, truncated %v by %q: %s; want about 60 rows cut at 64 KiB", len(ans.Rows), ans.Truncated, ans.TruncatedBy, ans.Message)
	}
}

// TestBenchAPI: rat bench api builds its table, measures this build's
// server answering the query as JSON and as Parquet, and prints the
// figures against the cap.
func TestBenchAPI(t *testing.T) {
	u := newUser(t, false)
	out := u.ok("bench", "api", "--rows", "40", "--row-bytes", "100000", "--batch", "10", "--cap", "1048576")
	for _, want := range []string{"JSON", "Parquet", "PEAK RSS", "bytes", "refused: too_large", "1.0 MiB", "target peak"} {
		if !strings.Contains(out, want) {
			t.Fatalf("bench api output lacks %q:\n%s", want, out)
		}
	}
	u.fails("--rows", "bench", "api", "--rows", "0")
}
