package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratdata/rat/internal/ingest"
)

func (e *env) runWith(opts Options, configure func(*Runner)) *Result {
	e.t.Helper()
	ws := loadWS(e.t, e)
	landing, err := ingest.LocalLanding(e.dir, filepath.Join(e.dir, ".rat", "tmp"))
	if err != nil {
		e.t.Fatal(err)
	}
	r := &Runner{Lake: e.lake, Workspace: ws, Parallel: 2, Landing: landing, TmpDir: filepath.Join(e.dir, ".rat", "tmp")}
	if configure != nil {
		configure(r)
	}
	res, err := r.Run(context.Background(), opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func (e *env) drop(name, content string) {
	e.t.Helper()
	p := filepath.Join(e.dir, "landing", name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func TestLandingIncremental(t *testing.T) {
	e := newEnv(t, map[string]string{
		"pipelines/bronze/orders.sql":                        "-- @materialized: incremental\nSELECT * FROM {{ landing('orders') }}\n",
		"pipelines/bronze/all_orders.sql":                    "SELECT id, _source_file FROM {{ landing('orders') }}\n",
		"pipelines/bronze/orders/tests/quality/positive.sql": "SELECT * FROM {{ this }} WHERE amount < 0\n",
	})
	count := func(q string) string { return e.query("main", q)[0] }
	e.drop("orders/a.csv", "id,amount\n1,10\n2,20\n")
	e.drop("orders/b.csv", "id,amount\n1,10\n2,20\n") // the same content: read once
	if res := e.runWith(Options{}, nil); res.Status != StatusSuccess {
		t.Fatalf("first run: %+v", res)
	}
	if n := count("SELECT count(*) FROM bronze.orders"); n != "2" {
		t.Fatalf("rows after first run: %s, want 2", n)
	}
	if got := e.query("main", "SELECT DISTINCT _source_file FROM bronze.orders"); strings.Join(got, ",") != "orders/a.csv" {
		t.Fatalf("_source_file = %v", got)
	}
	if n := count("SELECT count(*) FROM bronze.orders WHERE _ingested_at IS NOT NULL"); n != "2" {
		t.Fatalf("_ingested_at missing")
	}
	// No new file: nothing is read again.
	res := e.runWith(Options{Selectors: []string{"bronze.orders"}}, nil)
	if !strings.Contains(res.Nodes[0].Kind, "no new files") || count("SELECT count(*) FROM bronze.orders") != "2" {
		t.Fatalf("second run: %+v", res.Nodes)
	}
	// A new file is read; a changed file is read again.
	e.drop("orders/c.csv", "id,amount\n3,30\n")
	e.drop("orders/a.csv", "id,amount\n1,11\n")
	e.runWith(Options{Selectors: []string{"bronze.orders"}}, nil)
	if n := count("SELECT count(*) FROM bronze.orders"); n != "4" {
		t.Fatalf("after c.csv and a changed a.csv: %s rows, want 4", n)
	}
	// A failing test: the run fails and consumes nothing.
	e.drop("orders/d.csv", "id,amount\n4,-1\n")
	if res := e.runWith(Options{Selectors: []string{"bronze.orders"}}, nil); res.Status != StatusFailed {
		t.Fatalf("negative amount should fail the run: %+v", res.Tests)
	}
	if n := count("SELECT count(*) FROM bronze.orders"); n != "4" {
		t.Fatalf("a failed run published rows: %s", n)
	}
	e.drop("orders/d.csv", "id,amount\n4,40\n")
	e.runWith(Options{Selectors: []string{"bronze.orders"}}, nil)
	if n := count("SELECT count(*) FROM bronze.orders WHERE id = 4"); n != "1" {
		t.Fatalf("d.csv after the fix: %s rows", n)
	}
	// A table pipeline reads every file (once per content) on every run:
	// a (changed, 1 row), b (a's old content, 2 rows), c and d.
	e.runWith(Options{Selectors: []string{"bronze.all_orders"}}, nil)
	if n := count("SELECT count(*) FROM bronze.all_orders"); n != "5" {
		t.Fatalf("all_orders: %s", n)
	}
	// A malformed file fails the node with file:line.
	e.drop("orders/e.csv", "id,amount\n5,50,extra\n")
	res = e.runWith(Options{Selectors: []string{"bronze.orders"}}, nil)
	if res.Status != StatusFailed || !strings.Contains(res.Nodes[0].Error, "orders/e.csv:2") {
		t.Fatalf("malformed file: %+v", res.Nodes)
	}
}

func TestQuarantine(t *testing.T) {
	e := newEnv(t, map[string]string{
		"pipelines/bronze/strict.sql":   "SELECT * FROM {{ landing('drops') }}\n",
		"pipelines/bronze/lenient.sql":  "-- @description: keeps bad lines aside\nSELECT * FROM {{ landing('drops') }}\n",
		"pipelines/bronze/lenient.yaml": "on_bad_rows: quarantine\n",
	})
	e.drop("drops/a.csv", "id,v\n1,x\n2,y,extra\n3,z\n")
	res := e.runWith(Options{}, nil)
	byName := map[string]NodeResult{}
	for _, n := range res.Nodes {
		byName[n.Pipeline] = n
	}
	if byName["bronze.strict"].Status != StatusFailed || !strings.Contains(byName["bronze.strict"].Error, "drops/a.csv:3") {
		t.Fatalf("strict: %+v", byName["bronze.strict"])
	}
	if byName["bronze.lenient"].Status != StatusSuccess || byName["bronze.lenient"].Rows != 2 {
		t.Fatalf("lenient: %+v", byName["bronze.lenient"])
	}
	// The run failed (strict failed): look on its branch.
	got := e.query(res.RunBranch, "SELECT _source_file, line, raw FROM bronze.lenient__rejected")
	if strings.Join(got, ";") != "drops/a.csv|3|2,y,extra" {
		t.Fatalf("rejected rows: %v", got)
	}
}

func TestIngestedAtIsStable(t *testing.T) {
	e := newEnv(t, map[string]string{
		"pipelines/bronze/all.sql": "SELECT * FROM {{ landing('z') }}\n",
	})
	e.drop("z/a.csv", "id\n1\n")
	e.runWith(Options{}, nil)
	first := e.query("main", "SELECT CAST(_ingested_at AS VARCHAR) FROM bronze.all")
	e.drop("z/b.csv", "id\n2\n")
	e.runWith(Options{}, nil)
	got := e.query("main", "SELECT _source_file, CAST(_ingested_at AS VARCHAR) FROM bronze.all ORDER BY id")
	if len(got) != 2 || got[0] != "z/a.csv|"+first[0] || strings.HasSuffix(got[1], first[0]) {
		t.Fatalf("a.csv keeps its first ingestion time %s, b.csv gets a new one: %v", first[0], got)
	}
}

// TestBuildAgainAfterCommit builds a run node by node, as the queue's
// workers do, and builds an incremental node a second time after its first
// attempt committed (its worker died before reporting): the data and the
// landing registry hold each file once.
func TestBuildAgainAfterCommit(t *testing.T) {
	e := newEnv(t, map[string]string{
		"pipelines/bronze/orders.sql": "-- @materialized: incremental\n-- @merge_strategy: append\nSELECT * FROM {{ landing('orders') }}\n",
		"pipelines/silver/total.sql":  "SELECT count(*) AS n, sum(amount) AS amount FROM {{ ref('bronze.orders') }}\n",
	})
	ctx := context.Background()
	landing, err := ingest.LocalLanding(e.dir, filepath.Join(e.dir, ".rat", "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	runner := func() *Runner {
		return &Runner{Lake: e.lake, Workspace: loadWS(t, e), Landing: landing, TmpDir: filepath.Join(e.dir, ".rat", "tmp")}
	}
	e.drop("orders/a.csv", "id,amount\n1,10\n2,20\n")
	if res := e.runWith(Options{}, nil); res.Status != StatusSuccess {
		t.Fatalf("first run: %+v", res)
	}
	e.drop("orders/b.csv", "id,amount\n3,30\n")
	r := runner()
	res, nodes, err := r.Prepare(ctx, Options{Target: "main", Trigger: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].Pipeline != "bronze.orders" || len(nodes[1].Deps) != 1 || nodes[1].Deps[0] != "bronze.orders" {
		t.Fatalf("planned nodes: %+v", nodes)
	}
	if n := r.Build(ctx, res, "bronze.orders", 1); n.Status != StatusSuccess || n.Rows != 1 {
		t.Fatalf("first attempt: %+v", n)
	}
	// A new file arrives before the node is taken over by another worker.
	e.drop("orders/c.csv", "id,amount\n4,40\n")
	first := runner().Build(ctx, res, "bronze.orders", 2)
	if first.Status != StatusSuccess || first.Rows != 2 || first.Attempts != 2 {
		t.Fatalf("second attempt: %+v", first)
	}
	second := r.Build(ctx, res, "silver.total", 1)
	res.Nodes = []NodeResult{first, second}
	if out := r.Complete(ctx, res, false); out.Status != StatusSuccess {
		t.Fatalf("complete: %+v", out)
	}
	if got := e.query("main", "SELECT n, amount FROM silver.total"); strings.Join(got, ",") != "4|100" {
		t.Fatalf("silver.total = %v, want 4 rows summing to 100", got)
	}
	if got := e.query("main", "SELECT count(*), count(DISTINCT hash) FROM _rat.landing_files WHERE consumer = 'bronze.orders'"); got[0] != "3|3" {
		t.Fatalf("registry rows, distinct files = %v, want 3|3", got)
	}
	rec := e.runWith(Options{Selectors: []string{"bronze.orders"}}, nil)
	if !strings.Contains(rec.Nodes[0].Kind, "no new files") {
		t.Fatalf("a later run found files unconsumed: %+v", rec.Nodes)
	}
}
