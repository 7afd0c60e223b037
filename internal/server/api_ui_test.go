package server

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

// uiFiles: a landing zone read by a bronze pipeline, a silver pipeline
// with a test that fails, and a gold table with a freshness policy.
var uiFiles = map[string]string{
	"pipelines/bronze/events.sql":  "SELECT id, amount FROM {{ landing('events') }}\n",
	"pipelines/silver/checked.sql": "SELECT id, amount FROM {{ ref('bronze.events') }}\n",
	"pipelines/silver/checked.yaml": "columns:\n  - name: amount\n    tests:\n      - accepted_values: [10, 20]\n" +
		"tests:\n  - {name: few_rows, sql: 'SELECT * FROM {{ this }} WHERE amount > 100', severity: warn}\n",
	"pipelines/gold/total.sql":  "SELECT sum(amount) AS total FROM {{ ref('silver.checked') }}\n",
	"pipelines/gold/total.yaml": "freshness: {warn_after: {hours: 1}}\n",
	"landing/events/a.csv":      "id,amount\n1,10\n2,30\n",
	"landing/misc/notes.csv":    "x\n1\n",
}

func TestOverviewEndpoint(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, uiFiles, func(c *Config) {
		c.QueueWaiting = func(context.Context) (int, time.Duration, error) { return 2, 90 * time.Second, nil }
	})
	run := e.want(e.do("POST", "/api/v1/runs", map[string]any{}), http.StatusAccepted).body["id"].(string)
	if st := e.waitRun(run).body["status"]; st != "failed" {
		t.Fatalf("run %s: %v, want failed (accepted_values finds 30)", run, st)
	}
	o := e.want(e.do("GET", "/api/v1/overview", nil), http.StatusOK)
	if o.body["workspace"] != "shop" || o.body["pipelines"] != float64(3) {
		t.Errorf("overview header = %v %v", o.body["workspace"], o.body["pipelines"])
	}
	if q, _ := o.body["queue"].(map[string]any); q["waiting"] != float64(2) || q["oldest_wait_seconds"] != float64(90) {
		t.Errorf("queue = %v, want 2 waiting, the oldest for 90 s", o.body["queue"])
	}
	checks := list(t, o, "checks")
	if len(checks) != 1 || checks[0]["name"] != "catalog" || checks[0]["status"] != "ok" {
		t.Errorf("checks = %v", checks)
	}
	gauges := map[string]map[string]any{}
	for _, g := range list(t, o, "gauges") {
		gauges[g["name"].(string)] = g
	}
	for name, limits := range map[string][2]float64{"memory": {.7, .9}, "cpu": {.8, .95}, "disk": {.7, .85}, "query_latency_p95": {5, 30}} {
		g := gauges[name]
		if g == nil || g["warn"] != limits[0] || g["critical"] != limits[1] {
			t.Errorf("gauge %s = %v, want thresholds %v", name, g, limits)
		}
	}
	if gauges["query_latency_p95"]["status"] != "unknown" {
		t.Errorf("p95 before any query = %v, want unknown", gauges["query_latency_p95"])
	}
	if gauges["disk"]["status"] == "unknown" {
		t.Errorf("disk gauge unknown for a state dir on a local disk: %v", gauges["disk"])
	}
	runs := list(t, o, "runs")
	if len(runs) != 1 || runs[0]["id"] != run || runs[0]["status"] != "failed" {
		t.Errorf("recent runs = %v", runs)
	}
	failing := list(t, o, "failing_tests")
	if len(failing) != 1 || failing[0]["pipeline"] != "silver.checked" || failing[0]["run"] != run || failing[0]["violations"] != float64(1) {
		t.Errorf("failing tests = %v, want silver.checked's accepted_values with 1 violation", failing)
	}
	stale := list(t, o, "stale_tables")
	if len(stale) != 1 || stale[0]["table"] != "gold.total" || stale[0]["status"] != "unknown" {
		t.Errorf("stale tables = %v, want gold.total never built", stale)
	}

	// A query makes the latency gauge known.
	e.want(e.do("POST", "/api/v1/query", map[string]any{"sql": "SELECT 1"}), http.StatusOK)
	for _, g := range list(t, e.want(e.do("GET", "/api/v1/overview", nil), http.StatusOK), "gauges") {
		if g["name"] == "query_latency_p95" && (g["status"] != "ok" || g["value"].(float64) <= 0) {
			t.Errorf("p95 after a query = %v", g)
		}
	}
}

func TestLandingListAndPipelineStatus(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, uiFiles, nil)
	zones := func() map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, z := range list(t, e.want(e.do("GET", "/api/v1/landing", nil), http.StatusOK), "zones") {
			out[z["zone"].(string)] = z
		}
		return out
	}
	file := func(z map[string]any, name string) map[string]any {
		for _, f := range z["files"].([]any) {
			if f := f.(map[string]any); f["name"] == name {
				return f
			}
		}
		t.Fatalf("zone %v has no file %s", z["zone"], name)
		return nil
	}
	z := zones()
	if c := z["events"]["consumers"].([]any); len(c) != 1 || c[0] != "bronze.events" {
		t.Errorf("events consumers = %v", c)
	}
	if f := file(z["events"], "a.csv"); f["status"] != "waiting" || f["format"] != "csv" || f["size"] != float64(20) {
		t.Errorf("a.csv before a run = %v, want waiting", f)
	}
	if f := file(z["misc"], "notes.csv"); f["status"] != "unread" {
		t.Errorf("notes.csv = %v, want unread (no pipeline reads misc)", f)
	}

	run := e.want(e.do("POST", "/api/v1/runs", map[string]any{"selectors": []string{"bronze.events"}}), http.StatusAccepted).body["id"].(string)
	e.waitRun(run)
	f := file(zones()["events"], "a.csv")
	got := f["consumed"].([]any)
	if f["status"] != "consumed" || len(got) != 1 || got[0].(map[string]any)["run"] != run || got[0].(map[string]any)["pipeline"] != "bronze.events" {
		t.Errorf("a.csv after run %s = %v, want consumed by it", run, f)
	}

	st := e.want(e.do("GET", "/api/v1/lineage/status", nil), http.StatusOK).body["pipelines"].(map[string]any)
	if p, _ := st["bronze.events"].(map[string]any); p["status"] != "success" || p["run"] != run || len(st) != 1 {
		t.Errorf("pipeline status = %v, want bronze.events success in %s only", st, run)
	}
	// silver.checked builds but fails its accepted_values test: failed.
	run2 := e.want(e.do("POST", "/api/v1/runs", map[string]any{"selectors": []string{"silver.checked"}}), http.StatusAccepted).body["id"].(string)
	e.waitRun(run2)
	st = e.want(e.do("GET", "/api/v1/lineage/status", nil), http.StatusOK).body["pipelines"].(map[string]any)
	if st["silver.checked"].(map[string]any)["status"] != "failed" || st["bronze.events"].(map[string]any)["run"] != run {
		t.Errorf("pipeline status = %v", st)
	}
}

func TestRunListFilters(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, uiFiles, nil)
	var ids []string
	for _, sel := range []string{"bronze.events", "bronze.events", "silver.checked"} {
		id := e.want(e.do("POST", "/api/v1/runs", map[string]any{"selectors": []string{sel}}), http.StatusAccepted).body["id"].(string)
		e.waitRun(id)
		ids = append(ids, id)
	}
	runs := func(q string) ([]string, bool) {
		r := e.want(e.do("GET", "/api/v1/runs?"+q, nil), http.StatusOK)
		var out []string
		for _, run := range list(t, r, "runs") {
			out = append(out, run["id"].(string))
		}
		return out, r.body["more"] == true
	}
	if got, more := runs("pipeline=bronze.events"); len(got) != 2 || got[0] != ids[1] || got[1] != ids[0] || more {
		t.Errorf("pipeline=bronze.events: %v more=%v, want %v newest first", got, more, ids[:2])
	}
	if got, _ := runs("trigger=api"); len(got) != 3 {
		t.Errorf("trigger=api: %v, want all 3", got)
	}
	if got, _ := runs("trigger=schedule"); len(got) != 0 {
		t.Errorf("trigger=schedule: %v, want none", got)
	}
	if got, more := runs("limit=2"); len(got) != 2 || got[0] != ids[2] || !more {
		t.Errorf("limit=2: %v more=%v", got, more)
	}
	if got, more := runs("limit=2&offset=2"); len(got) != 1 || got[0] != ids[0] || more {
		t.Errorf("limit=2&offset=2: %v more=%v", got, more)
	}
	if got, _ := runs("status=failed&pipeline=silver.checked"); len(got) != 1 || got[0] != ids[2] {
		t.Errorf("status=failed&pipeline=silver.checked: %v", got)
	}
}

func TestQueryParquet(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, nil)
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 10), (2, NULL), (3, 5), (4, 1)) t(id, amount)")
	dir := t.TempDir()
	download := func(body map[string]any) (int, string) {
		r := e.do("POST", "/api/v1/query/parquet", body)
		if r.status != http.StatusOK {
			return r.status, r.raw
		}
		p := filepath.Join(dir, fmt.Sprintf("q%d.parquet", len(r.raw)))
		if err := os.WriteFile(p, []byte(r.raw), 0o644); err != nil {
			t.Fatal(err)
		}
		return r.status, p
	}
	count := func(path string) (n, sum int64) {
		db, err := sql.Open("duckdb", "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.QueryRow("SELECT count(*), coalesce(sum(amount), 0) FROM read_parquet(?)", path).Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		return n, sum
	}
	// A trailing comment cannot swallow the server's closing parenthesis.
	st, p := download(map[string]any{"sql": "SELECT * FROM bronze.raw WHERE amount IS NOT NULL -- no nulls"})
	if st != http.StatusOK {
		t.Fatalf("download: %d %s", st, p)
	}
	if n, sum := count(p); n != 3 || sum != 16 {
		t.Errorf("parquet holds %d rows summing %d, want 3 and 16", n, sum)
	}
	if _, p := download(map[string]any{"sql": "SELECT * FROM bronze.raw", "limit": 2}); p != "" {
		if n, _ := count(p); n != 2 {
			t.Errorf("limit 2: %d rows", n)
		}
	}
	for _, bad := range []string{"SELECT 1) TO 'x.csv'; SELECT (1", "COPY bronze.raw TO 'x.csv'", "SELECT 1; SELECT 2"} {
		if st, body := download(map[string]any{"sql": bad}); st != http.StatusBadRequest {
			t.Errorf("%q: %d %s, want 400", bad, st, body)
		}
	}
}

// The table list is cached by commit: a new commit shows at once, and a
// branch keeps its own list.
func TestTableListFollowsCommits(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, nil)
	names := func(branch string) []string {
		var out []string
		for _, tb := range list(t, e.want(e.do("GET", "/api/v1/tables?branch="+branch, nil), http.StatusOK), "tables") {
			out = append(out, fmt.Sprintf("%s:%v", tb["table"], tb["rows"]))
		}
		return out
	}
	e.load("bronze.raw", "SELECT 1 AS id, 1 AS amount")
	if got := names("main"); len(got) != 1 || got[0] != "bronze.raw:1" {
		t.Fatalf("tables = %v", got)
	}
	e.want(e.do("POST", "/api/v1/branches", map[string]any{"name": "dev"}), http.StatusCreated)
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 1), (2, 1), (3, 1)) t(id, amount)")
	e.load("bronze.other", "SELECT 1 AS x")
	if got := names("main"); len(got) != 2 || got[0] != "bronze.other:1" || got[1] != "bronze.raw:3" {
		t.Errorf("after two commits main lists %v", got)
	}
	if got := names("dev"); len(got) != 1 || got[0] != "bronze.raw:1" {
		t.Errorf("dev lists %v, want its own head's tables", got)
	}
}

// A table preview travels in time with ?at=, so a read token can look at
// old snapshots too.
func TestPreviewAt(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, func(c *Config) {
		c.Tokens = []Token{{Name: "viewer", Secret: "preview-read-secret-1", Role: RoleRead}}
	})
	e.token = "preview-read-secret-1"
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 10)) t(id, amount)")
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 10), (2, 20)) t(id, amount)")
	snaps := list(t, e.want(e.do("GET", "/api/v1/tables/bronze.raw/snapshots", nil), http.StatusOK), "snapshots")
	if len(snaps) != 2 {
		t.Fatalf("snapshots = %v", snaps)
	}
	// The id as the API wrote it, digit for digit.
	r := e.want(e.do("GET", "/api/v1/tables/bronze.raw/snapshots", nil), http.StatusOK)
	i := strings.Index(r.raw, `"id": `)
	first := r.raw[i+6 : i+6+strings.IndexAny(r.raw[i+6:], ",\n")]
	if rows := e.want(e.do("GET", "/api/v1/tables/bronze.raw/preview?at="+first, nil), http.StatusOK).body["rows"].([]any); len(rows) != 1 {
		t.Errorf("preview at the first snapshot: %d rows, want 1", len(rows))
	}
	if rows := e.want(e.do("GET", "/api/v1/tables/bronze.raw/preview", nil), http.StatusOK).body["rows"].([]any); len(rows) != 2 {
		t.Errorf("preview now: %d rows, want 2", len(rows))
	}
	e.want(e.do("GET", "/api/v1/tables/bronze.raw/preview?at=yesterday", nil), http.StatusBadRequest)
}
