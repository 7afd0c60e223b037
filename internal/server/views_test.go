package server

import (
	"net/http"
	"testing"
)

// TestViewsClaimNoRows: a view stores SQL, no rows; the API says it is a
// view instead of reporting 0 rows, files and bytes.
func TestViewsClaimNoRows(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, map[string]string{
		"pipelines/silver/orders.sql": "SELECT id, amount FROM {{ ref('bronze.raw') }}\n",
		"pipelines/gold/big.sql":      "-- @materialized: view\nSELECT * FROM {{ ref('silver.orders') }} WHERE amount > 1\n",
	}, nil)
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 10), (2, 5)) t(id, amount)")
	e.want(e.do("POST", "/api/v1/branches", map[string]any{"name": "before"}), http.StatusCreated)
	r := e.want(e.do("POST", "/api/v1/runs", map[string]any{"selectors": []string{"+gold.big"}}), http.StatusAccepted)
	if done := e.waitRun(r.body["id"].(string)); done.body["status"] != "success" {
		t.Fatalf("run = %s", done.raw)
	}
	if got := e.scalar("main", "SELECT count(*) FROM gold.big"); got != "2" {
		t.Fatalf("the view has %s rows, want 2", got)
	}
	noCounts := func(what string, m map[string]any, keys ...string) {
		t.Helper()
		if m["kind"] != "view" {
			t.Errorf("%s: kind %v, want view", what, m["kind"])
		}
		for _, k := range keys {
			if v, ok := m[k]; ok {
				t.Errorf("%s: %s = %v: a view has no stored rows, leave it out", what, k, v)
			}
		}
	}
	for _, tb := range list(t, e.want(e.do("GET", "/api/v1/tables", nil), http.StatusOK), "tables") {
		if tb["table"] == "gold.big" {
			noCounts("GET /tables", tb, "rows", "files", "bytes", "updated")
		} else if tb["kind"] != "table" || tb["rows"] != float64(2) {
			t.Errorf("GET /tables: %v", tb)
		}
	}
	noCounts("GET /tables/gold.big", e.want(e.do("GET", "/api/v1/tables/gold.big", nil), http.StatusOK).body, "rows", "files", "bytes", "snapshots")
	for _, d := range list(t, e.want(e.do("GET", "/api/v1/diff?from=main&to=before", nil), http.StatusOK), "tables") {
		if d["table"] == "gold.big" {
			noCounts("GET /diff", d, "rows_from", "rows_to")
		} else if d["kind"] != "table" {
			t.Errorf("GET /diff: %v", d)
		}
	}
}
