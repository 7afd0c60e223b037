package server

import (
	"net/http"
	"strings"
	"testing"
)

func TestWorkspaceEndpoints(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, nil)
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 10), (2, NULL), (3, 5)) t(id, amount)")

	ws := e.want(e.do("GET", "/api/v1/workspace", nil), http.StatusOK)
	if ws.body["name"] != "shop" || ws.body["description"] != "the shop's data" {
		t.Fatalf("workspace = %s", ws.raw)
	}
	ps := map[string]map[string]any{}
	for _, p := range list(t, ws, "pipelines") {
		ps[p["id"].(string)] = p
	}
	so := ps["silver.orders"]
	if len(ps) != 2 || ps["gold.total"] == nil || so["layer"] != "silver" || so["materialized"] != "table" ||
		so["owner"] != "data-team" || so["tags"].([]any)[0] != "finance" {
		t.Fatalf("pipelines = %v", ps)
	}

	p := e.want(e.do("GET", "/api/v1/pipelines/silver.orders?branch=main", nil), http.StatusOK)
	if !strings.Contains(p.body["sql"].(string), "{{ ref('bronze.raw') }}") {
		t.Fatalf("sql = %v", p.body["sql"])
	}
	if r := p.body["rendered"].(string); !strings.Contains(r, "FROM bronze.raw") || strings.Contains(r, "{{") {
		t.Fatalf("rendered = %q", r)
	}
	nf := e.want(e.do("GET", "/api/v1/pipelines/silver.order", nil), http.StatusNotFound)
	if nf.errCode() != "not_found" || !strings.Contains(nf.errMessage(), "silver.orders") {
		t.Fatalf("unknown pipeline: %s", nf.raw)
	}

	lin := e.want(e.do("GET", "/api/v1/lineage", nil), http.StatusOK)
	edges := list(t, lin, "edges")
	if len(edges) != 2 || edges[0]["from"] != "bronze.raw" || edges[0]["to"] != "silver.orders" {
		t.Fatalf("edges = %v", edges)
	}
}

func TestTableEndpoints(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, nil)
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 10), (2, NULL), (3, 5)) t(id, amount)")
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 10), (2, 20), (3, 5), (4, 1)) t(id, amount)")

	tables := list(t, e.want(e.do("GET", "/api/v1/tables?branch=main", nil), http.StatusOK), "tables")
	if len(tables) != 1 || tables[0]["table"] != "bronze.raw" || tables[0]["rows"] != float64(4) {
		t.Fatalf("tables = %v", tables)
	}
	d := e.want(e.do("GET", "/api/v1/tables/bronze.raw", nil), http.StatusOK)
	cols := d.body["columns"].([]any)
	if len(cols) != 2 || cols[0].(map[string]any)["name"] != "id" || d.body["rows"] != float64(4) {
		t.Fatalf("describe = %s", d.raw)
	}
	snaps := list(t, e.want(e.do("GET", "/api/v1/tables/bronze.raw/snapshots", nil), http.StatusOK), "snapshots")
	if len(snaps) != 2 {
		t.Fatalf("snapshots = %v", snaps)
	}
	pv := e.want(e.do("GET", "/api/v1/tables/bronze.raw/preview?limit=3", nil), http.StatusOK)
	if rows := pv.body["rows"].([]any); len(rows) != 3 || pv.body["truncated"] != true {
		t.Fatalf("preview = %s", pv.raw)
	}

	nf := e.want(e.do("GET", "/api/v1/tables/bronze.nope", nil), http.StatusNotFound)
	if nf.errCode() != "not_found" || nf.errMessage() == "" {
		t.Fatalf("404 shape: %s", nf.raw)
	}
	e.want(e.do("GET", "/api/v1/tables/not-a-table", nil), http.StatusBadRequest)
	e.want(e.do("GET", "/api/v1/tables?branch=nope", nil), http.StatusNotFound)
	if r := e.want(e.do("GET", "/api/v1/no/such/endpoint", nil), http.StatusNotFound); r.errCode() != "not_found" {
		t.Fatalf("unknown endpoint: %s", r.raw)
	}
}

func TestQuery(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, func(c *Config) { c.Limits.QueryRows = 5 })
	e.load("bronze.raw", "SELECT range AS id, range * 2 AS amount FROM range(10)")

	r := e.want(e.do("POST", "/api/v1/query", map[string]any{"sql": "SELECT id, amount FROM bronze.raw WHERE id < 3 ORDER BY id"}), http.StatusOK)
	cols := list(t, r, "columns")
	rows := r.body["rows"].([]any)
	if len(cols) != 2 || cols[1]["name"] != "amount" || len(rows) != 3 || r.body["truncated"] != false {
		t.Fatalf("query = %s", r.raw)
	}
	if last := rows[2].([]any); last[0] != float64(2) || last[1] != float64(4) {
		t.Fatalf("last row = %v", last)
	}
	if _, ok := r.body["elapsed_ms"].(float64); !ok {
		t.Fatalf("no elapsed_ms: %s", r.raw)
	}
	// The server's row limit wins over a larger request.
	// Computed rows and CTEs are not files.
	e.want(e.do("POST", "/api/v1/query", map[string]any{"sql": "WITH t AS (SELECT * FROM range(3)) SELECT * FROM t, unnest([1, 2]) u(x)"}), http.StatusOK)
	big := e.want(e.do("POST", "/api/v1/query", map[string]any{"sql": "SELECT * FROM bronze.raw", "limit": 100}), http.StatusOK)
	if len(big.body["rows"].([]any)) != 5 || big.body["truncated"] != true {
		t.Fatalf("limit: %s", big.raw)
	}

	for name, body := range map[string]any{
		"write":       map[string]any{"sql": "DELETE FROM bronze.raw"},
		"create":      map[string]any{"sql": "CREATE TABLE x AS SELECT 1"},
		"empty":       map[string]any{"sql": " "},
		"bad at":      map[string]any{"sql": "SELECT 1", "at": "yesterday-ish"},
		"unknown key": map[string]any{"query": "SELECT 1"},
		// The server's files are out of reach, however asked for.
		"read_text":         map[string]any{"sql": "SELECT content FROM read_text('/etc/hostname')"},
		"read_csv in a cte": map[string]any{"sql": "WITH t AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM t"},
		"file path":         map[string]any{"sql": "SELECT * FROM '/etc/passwd.csv'"},
		"join a file":       map[string]any{"sql": "SELECT * FROM bronze.raw, read_parquet('/tmp/x.parquet')"},
	} {
		r := e.do("POST", "/api/v1/query", body)
		if r.status != http.StatusBadRequest || r.errCode() != "invalid" {
			t.Errorf("%s: %d %s, want 400 invalid", name, r.status, r.raw)
		}
	}
	if n := e.scalar("main", "SELECT count(*) FROM bronze.raw"); n != "10" {
		t.Fatalf("the refused write changed the table: %s rows", n)
	}
	req, _ := http.NewRequest("POST", e.http.URL+"/api/v1/query", strings.NewReader("{not json"))
	req.Header.Set("Content-Type", "application/json")
	if r := e.send(req); r.status != http.StatusBadRequest || r.errCode() != "invalid" {
		t.Fatalf("malformed JSON: %d %s", r.status, r.raw)
	}
}

func TestRefsMergeDiff(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, nil)
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 10)) t(id, amount)")

	b := e.want(e.do("POST", "/api/v1/branches", map[string]any{"name": "feature/x", "from": "main"}), http.StatusCreated)
	if b.body["name"] != "feature/x" || b.body["kind"] != "branch" {
		t.Fatalf("created %s", b.raw)
	}
	if r := e.want(e.do("POST", "/api/v1/branches", map[string]any{"name": "feature/x"}), http.StatusConflict); r.errCode() != "conflict" {
		t.Fatalf("existing branch: %s", r.raw)
	}
	e.want(e.do("POST", "/api/v1/branches", map[string]any{"name": "bad..name"}), http.StatusBadRequest)
	e.want(e.do("POST", "/api/v1/branches", map[string]any{"name": "y", "from": "nope"}), http.StatusNotFound)
	e.want(e.do("GET", "/api/v1/branches/feature/x", nil), http.StatusOK)

	names := func(path, key string) string {
		var out []string
		for _, r := range list(t, e.want(e.do("GET", path, nil), http.StatusOK), key) {
			out = append(out, r["name"].(string))
		}
		return strings.Join(out, ",")
	}
	if got := names("/api/v1/branches", "branches"); got != "feature/x,main" {
		t.Fatalf("branches = %s", got)
	}
	e.want(e.do("POST", "/api/v1/tags", map[string]any{"name": "v1"}), http.StatusCreated)
	if got := names("/api/v1/tags", "tags"); got != "v1" {
		t.Fatalf("tags = %s", got)
	}

	// A change on the branch, merged back; diff and log see it.
	id := "bronze.raw"
	if _, err := e.lake.Write(t.Context(), "feature/x", mustID(t, id), "SELECT * FROM (VALUES (1, 10), (2, 20)) t(id, amount)", writeReplace); err != nil {
		t.Fatal(err)
	}
	diff := list(t, e.want(e.do("GET", "/api/v1/diff?from=main&to=feature/x", nil), http.StatusOK), "tables")
	if len(diff) != 1 || diff[0]["table"] != id || diff[0]["rows_to"] != float64(2) {
		t.Fatalf("diff = %v", diff)
	}
	e.want(e.do("GET", "/api/v1/diff", nil), http.StatusBadRequest)
	dry := e.want(e.do("POST", "/api/v1/merge", map[string]any{"source": "feature/x", "dry_run": true}), http.StatusOK)
	if dry.body["dry_run"] != true || e.scalar("main", "SELECT count(*) FROM bronze.raw") != "1" {
		t.Fatalf("dry run merged: %s", dry.raw)
	}
	m := e.want(e.do("POST", "/api/v1/merge", map[string]any{"source": "feature/x", "into": "main"}), http.StatusOK)
	if m.body["fast_forward"] != true || e.scalar("main", "SELECT count(*) FROM bronze.raw") != "2" {
		t.Fatalf("merge = %s", m.raw)
	}
	commits := list(t, e.want(e.do("GET", "/api/v1/commits?ref=main&limit=1", nil), http.StatusOK), "commits")
	if len(commits) != 1 || commits[0]["id"] != m.body["commit"] {
		t.Fatalf("commits = %v, merge commit %v", commits, m.body["commit"])
	}

	// Both sides rewrite the table: a conflict, nothing written.
	e.want(e.do("POST", "/api/v1/branches", map[string]any{"name": "other"}), http.StatusCreated)
	if _, err := e.lake.Write(t.Context(), "other", mustID(t, id), "SELECT 7 AS id, 7 AS amount", writeReplace); err != nil {
		t.Fatal(err)
	}
	e.load(id, "SELECT 8 AS id, 8 AS amount")
	c := e.want(e.do("POST", "/api/v1/merge", map[string]any{"source": "other"}), http.StatusConflict)
	if c.errCode() != "conflict" || !strings.Contains(c.errMessage(), id) {
		t.Fatalf("conflict = %s", c.raw)
	}
	if tables := c.body["merge"].(map[string]any)["tables"].([]any); len(tables) != 1 ||
		tables[0].(map[string]any)["table"] != id || tables[0].(map[string]any)["action"] != "conflict" {
		t.Fatalf("conflict tables = %v, want %s named as layer.name", tables, id)
	}
	if got := e.scalar("main", "SELECT max(id) FROM bronze.raw"); got != "8" {
		t.Fatalf("a conflicting merge changed main: max(id) = %s", got)
	}
	e.want(e.do("POST", "/api/v1/merge", map[string]any{"source": "other", "into": "v1"}), http.StatusBadRequest)

	e.want(e.do("DELETE", "/api/v1/branches/feature/x", nil), http.StatusNoContent)
	e.want(e.do("DELETE", "/api/v1/branches/feature/x", nil), http.StatusNotFound)
	e.want(e.do("DELETE", "/api/v1/branches/v1", nil), http.StatusNotFound)
	e.want(e.do("DELETE", "/api/v1/branches/main", nil), http.StatusBadRequest)
	e.want(e.do("DELETE", "/api/v1/tags/v1", nil), http.StatusNoContent)
}
