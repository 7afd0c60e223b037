package pipeline

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/lake/laketest"
	"github.com/ratdata/rat/internal/workspace"
)

type env struct {
	t    *testing.T
	dir  string
	lake *lake.Lake
}

func newEnv(t *testing.T, files map[string]string) *env {
	t.Helper()
	dir := t.TempDir()
	files["workspace.yaml"] = "name: test\n"
	laketest.WriteFiles(t, dir, files)
	return &env{t: t, dir: dir, lake: laketest.Local(t, dir)}
}

func (e *env) load(table, src string) {
	e.t.Helper()
	id, _ := rat.ParseTableID(table)
	if _, err := e.lake.Write(context.Background(), "main", id, src, lake.WriteOptions{Mode: lake.Replace}); err != nil {
		e.t.Fatal(err)
	}
}

func loadWS(t *testing.T, e *env) *workspace.Workspace {
	t.Helper()
	ws, err := workspace.Load(e.dir, workspace.LoadOptions{Known: func(id rat.TableID) bool {
		_, err := e.lake.Store().Table(context.Background(), "main", id)
		return err == nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func (e *env) run(opts Options, parallel int, progress func(Event)) *Result {
	e.t.Helper()
	ctx := context.Background()
	ws := loadWS(e.t, e)
	r := &Runner{Lake: e.lake, Workspace: ws, Parallel: parallel, Progress: progress}
	res, err := r.Run(ctx, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func (e *env) query(ref, q string) []string {
	e.t.Helper()
	var out []string
	err := e.lake.Query(context.Background(), ref, lake.At{}, q, func(rows *sql.Rows) error {
		_, err := duckdb.EachRow(rows, func(_ []string, vals []any) error {
			parts := make([]string, len(vals))
			for i, v := range vals {
				parts[i] = duckdb.Text(v)
			}
			out = append(out, strings.Join(parts, "|"))
			return nil
		})
		return err
	})
	if err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return out
}

func (e *env) head(ref string) string {
	r, err := e.lake.Store().Ref(context.Background(), ref)
	if err != nil {
		e.t.Fatal(err)
	}
	return r.Head
}

var basic = map[string]string{
	"pipelines/silver/orders.sql": "SELECT id, amount FROM {{ ref('bronze.raw') }} WHERE amount IS NOT NULL\n",
	"pipelines/gold/total.sql":    "SELECT sum(amount) AS total, count(*) AS n FROM {{ ref('silver.orders') }}\n",
}

func TestRunPublishes(t *testing.T) {
	e := newEnv(t, copyFiles(basic))
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 10), (2, NULL), (3, 5)) t(id, amount)")
	res := e.run(Options{}, 2, nil)
	if res.Status != StatusSuccess || len(res.Nodes) != 2 || res.Commit == "" {
		t.Fatalf("result %+v", res)
	}
	if got := e.query("main", "SELECT * FROM gold.total"); strings.Join(got, ";") != "15|2" {
		t.Fatalf("gold.total = %v", got)
	}
	if _, err := e.lake.Store().Ref(context.Background(), res.RunBranch); !rat.IsCode(err, rat.ENOTFOUND) {
		t.Fatalf("run branch should be gone after publishing: %v", err)
	}
	// A full rebuild whose result is empty empties the table.
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, NULL)) t(id, amount)")
	e.run(Options{Selectors: []string{"silver.orders"}}, 2, nil)
	if got := e.query("main", "SELECT count(*) FROM silver.orders"); got[0] != "0" {
		t.Fatalf("stale rows after an empty rebuild: %v", got)
	}
}

func TestFailedTestKeepsTarget(t *testing.T) {
	files := copyFiles(basic)
	files["pipelines/silver/orders.yaml"] = "columns:\n  - name: id\n    tests: [unique]\n"
	files["pipelines/gold/total.yaml"] = "tests:\n  - name: small_total\n    sql: SELECT * FROM {{ this }} WHERE total > 100\n    severity: warn\n"
	e := newEnv(t, files)
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 100), (1, 5)) t(id, amount)")
	before := e.head("main")
	res := e.run(Options{}, 2, nil)
	if res.Status != StatusFailed {
		t.Fatalf("status %s, want failed (duplicate id)", res.Status)
	}
	var unique, warn *TestResult
	for i, tr := range res.Tests {
		switch tr.Name {
		case "id unique":
			unique = &res.Tests[i]
		case "small_total":
			warn = &res.Tests[i]
		}
	}
	if unique == nil || unique.Status != TestFail || unique.Violations != 1 || len(unique.Sample) != 1 {
		t.Fatalf("unique test: %+v", unique)
	}
	if warn == nil || warn.Status != TestFail || warn.Severity != "warn" {
		t.Fatalf("warn test: %+v", warn)
	}
	if e.head("main") != before {
		t.Fatal("a failed run changed the target")
	}
	// The run branch is kept, with the built tables, for inspection.
	if got := e.query(res.RunBranch, "SELECT count(*) FROM silver.orders"); got[0] != "2" {
		t.Fatalf("run branch: %v", got)
	}
	// Fix the data: a warn-only failure still publishes.
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 100), (2, 5)) t(id, amount)")
	if res := e.run(Options{}, 2, nil); res.Status != StatusSuccess {
		t.Fatalf("status %s: %+v", res.Status, res.Tests)
	}
}

func TestFailedNodeSkipsDownstream(t *testing.T) {
	files := copyFiles(basic)
	files["pipelines/silver/orders.sql"] = "SELECT id, amount FROM {{ ref('bronze.raw') }} WHERE no_such_column > 0\n"
	e := newEnv(t, files)
	e.load("bronze.raw", "SELECT 1 AS id, 2 AS amount")
	before := e.head("main")
	res := e.run(Options{}, 2, nil)
	if res.Status != StatusFailed || res.Nodes[0].Status != StatusFailed || res.Nodes[1].Status != StatusSkipped {
		t.Fatalf("nodes %+v", res.Nodes)
	}
	if !strings.Contains(res.Nodes[0].Error, "no_such_column") {
		t.Fatalf("error should name the problem: %s", res.Nodes[0].Error)
	}
	if e.head("main") != before {
		t.Fatal("target changed")
	}
}

func TestIncrementalWatermark(t *testing.T) {
	e := newEnv(t, map[string]string{
		"pipelines/silver/events.sql": `-- @materialized: incremental
-- @unique_key: id
-- @watermark_column: ts
SELECT id, v, ts FROM {{ ref('bronze.events') }}
{% if is_incremental() %}WHERE ts > '{{ watermark("ts") }}'{% endif %}
`,
	})
	e.load("bronze.events", "SELECT * FROM (VALUES (1, 'a', TIMESTAMP '2024-01-01'), (2, 'b', TIMESTAMP '2024-01-02')) t(id, v, ts)")
	res := e.run(Options{}, 1, nil)
	if res.Status != StatusSuccess || res.Nodes[0].Kind != "incremental/full" || res.Nodes[0].Rows != 2 {
		t.Fatalf("first run: %+v", res.Nodes)
	}
	// id 2 changes, id 3 is new; id 1 is old and must not be reprocessed.
	e.load("bronze.events", "SELECT * FROM (VALUES (1, 'a', TIMESTAMP '2024-01-01'), (2, 'B', TIMESTAMP '2024-01-05'), (3, 'c', TIMESTAMP '2024-01-04')) t(id, v, ts)")
	res = e.run(Options{}, 1, nil)
	if res.Nodes[0].Kind != "incremental/merge" || res.Nodes[0].Rows != 2 {
		t.Fatalf("second run should process the 2 new rows only: %+v", res.Nodes)
	}
	if got := e.query("main", "SELECT id, v FROM silver.events ORDER BY id"); strings.Join(got, ";") != "1|a;2|B;3|c" {
		t.Fatalf("after merge: %v", got)
	}
	tbl, err := e.lake.Load(context.Background(), "main", rat.TableID{Layer: "silver", Name: "events"})
	if err != nil || !strings.HasPrefix(tbl.Properties()["rat.watermark.ts"], "2024-01-05") {
		t.Fatalf("watermark = %q, %v", tbl.Properties()["rat.watermark.ts"], err)
	}
	// A full refresh rebuilds everything.
	res = e.run(Options{FullRefresh: true}, 1, nil)
	if res.Nodes[0].Kind != "incremental/full" || res.Nodes[0].Rows != 3 {
		t.Fatalf("full refresh: %+v", res.Nodes)
	}
}

func TestParallelNodes(t *testing.T) {
	files := map[string]string{
		"pipelines/silver/a.sql": "SELECT 1 AS x\n",
		"pipelines/silver/b.sql": "SELECT 2 AS x\n",
		"pipelines/gold/c.sql":   "SELECT * FROM {{ ref('silver.a') }} UNION ALL SELECT * FROM {{ ref('silver.b') }}\n",
	}
	for _, parallel := range []int{1, 2} {
		e := newEnv(t, copyFiles(files))
		var mu sync.Mutex
		var events []string
		res := e.run(Options{}, parallel, func(ev Event) {
			mu.Lock()
			defer mu.Unlock()
			if ev.Kind == "node_started" || ev.Kind == "node_finished" {
				events = append(events, ev.Kind+" "+ev.Pipeline)
			}
		})
		if res.Status != StatusSuccess {
			t.Fatalf("parallel %d: %+v", parallel, res)
		}
		running, peak := 0, 0
		for _, ev := range events {
			if strings.HasPrefix(ev, "node_started") {
				running++
				peak = max(peak, running)
			} else {
				running--
			}
		}
		if peak != parallel {
			t.Fatalf("parallel %d: at most %d nodes ran at once; events %v", parallel, peak, events)
		}
		// gold.c starts only after both inputs finished.
		last := events[len(events)-2]
		if last != "node_started gold.c" {
			t.Fatalf("gold.c must start last: %v", events)
		}
	}
}

func TestDryRunBuildsNothing(t *testing.T) {
	e := newEnv(t, copyFiles(basic))
	e.load("bronze.raw", "SELECT 1 AS id, 2 AS amount")
	before := e.head("main")
	res := e.run(Options{DryRun: true}, 2, nil)
	if res.Status != StatusPlanned || !strings.Contains(res.Nodes[0].SQL, "bronze.raw") {
		t.Fatalf("dry run: %+v", res)
	}
	if e.head("main") != before {
		t.Fatal("dry run committed")
	}
}

func copyFiles(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestNodeRetries: a node that failed before committing is built again, up
// to its retries, and succeeds once the cause is gone; without retries the
// same failure fails the run.
func TestNodeRetries(t *testing.T) {
	e := newEnv(t, map[string]string{
		"pipelines/bronze/flaky.sql":  "SELECT * FROM read_csv('{{ env_var(\"SRC\") }}')\n",
		"pipelines/bronze/flaky.yaml": "retries: 2\nretry_delay: 10ms\n",
		"pipelines/bronze/once.sql":   "SELECT * FROM read_csv('{{ env_var(\"SRC\") }}')\n",
	})
	good := filepath.Join(e.dir, "good.csv")
	if err := os.WriteFile(good, []byte("id\n1\n2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := map[string]int{}
	run := func(sel string) *Result {
		t.Helper()
		r := &Runner{Lake: e.lake, Workspace: loadWS(t, e), Parallel: 1}
		// The source appears on the second build of each pipeline.
		r.Env = func(k string) (string, bool) {
			mu.Lock()
			defer mu.Unlock()
			calls[sel]++
			if calls[sel] == 1 {
				return filepath.Join(e.dir, "missing.csv"), true
			}
			return good, true
		}
		res, err := r.Run(context.Background(), Options{Target: "main", Selectors: []string{sel}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := run("bronze.flaky")
	if res.Status != StatusSuccess || res.Nodes[0].Attempts != 2 || res.Nodes[0].Rows != 2 {
		t.Fatalf("flaky with retries: %+v", res.Nodes)
	}
	if got := e.query("main", "SELECT count(*) FROM bronze.flaky"); got[0] != "2" {
		t.Fatalf("bronze.flaky has %v rows, want 2 (no duplicates)", got)
	}
	res = run("bronze.once")
	if res.Status != StatusFailed || res.Nodes[0].Attempts != 0 || !strings.Contains(res.Nodes[0].Error, "missing.csv") {
		t.Fatalf("without retries: %+v", res.Nodes)
	}
}
