package server

import (
	"net/http"
	"strings"
	"testing"
)

// TestRunDetailNamesTheFailure: a run whose pipeline has a SQL mistake
// says in its record which file and line, with the SQL around it, so the
// run page and 'rat runs show' can show it.
func TestRunDetailNamesTheFailure(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, map[string]string{
		"pipelines/silver/orders.sql": "SELECT id, amount FROM {{ ref('bronze.raw') }}\n",
		"pipelines/gold/total.sql":    "-- @description: the total\nSELECT sum(amount) AS total,\n       sum(amount_typo) AS typo\nFROM {{ ref('silver.orders') }}\n",
	}, nil)
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 10), (2, 5)) t(id, amount)")
	r := e.want(e.do("POST", "/api/v1/runs", map[string]any{"selectors": []string{"+gold.total"}}), http.StatusAccepted)
	done := e.waitRun(r.body["id"].(string))
	if done.body["status"] != "failed" {
		t.Fatalf("run = %s", done.raw)
	}
	var failed map[string]any
	for _, n := range done.body["nodes"].([]any) {
		if n := n.(map[string]any); n["pipeline"] == "gold.total" {
			failed = n
		}
	}
	msg, _ := failed["error"].(string)
	excerpt, _ := failed["excerpt"].(string)
	if failed["status"] != "failed" || failed["file"] != "pipelines/gold/total.sql" || failed["line"] != float64(3) || failed["code"] != "invalid" {
		t.Fatalf("failed node = %v", failed)
	}
	if !strings.HasPrefix(msg, "pipelines/gold/total.sql:3: ") || !strings.Contains(msg, "amount_typo") || strings.Contains(msg, "\n") {
		t.Errorf("error %q: want one line starting with the file:line, naming the column", msg)
	}
	if !strings.Contains(excerpt, "> 3 |        sum(amount_typo) AS typo\n") || !strings.Contains(excerpt, "  2 | SELECT sum(amount) AS total,") {
		t.Errorf("excerpt:\n%s", excerpt)
	}
}
