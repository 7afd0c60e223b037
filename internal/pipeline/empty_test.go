package pipeline

import (
	"strings"
	"testing"
)

// Landing files without rows: a CSV header line alone does not widen the
// types of the files with rows (it would make every column VARCHAR), it is
// consumed all the same, and a 0-byte file fails the run naming it.
func TestLandingFilesWithoutRows(t *testing.T) {
	e := newEnv(t, map[string]string{
		"pipelines/bronze/orders.sql": "-- @materialized: incremental\nSELECT * FROM {{ landing('orders') }}\n",
	})
	e.drop("orders/a.csv", "id,amount\n1,10\n2,20\n")
	e.drop("orders/b.csv", "id,amount\n")
	if res := e.runWith(Options{}, nil); res.Status != StatusSuccess {
		t.Fatalf("first run: %+v", res.Nodes)
	}
	if got := e.query("main", "SELECT typeof(id) || ' ' || typeof(amount) FROM bronze.orders LIMIT 1"); got[0] != "BIGINT BIGINT" {
		t.Fatalf("a header-only file widened the column types: %v", got)
	}
	if n := e.query("main", "SELECT count(*) FROM _rat.landing_files WHERE consumer = 'bronze.orders'")[0]; n != "2" {
		t.Fatalf("consumed %s files, want 2 (the header-only one too)", n)
	}
	e.drop("orders/c.csv", "")
	res := e.runWith(Options{}, nil)
	if res.Status != StatusFailed || len(res.Nodes) != 1 || !strings.Contains(res.Nodes[0].Error, "orders/c.csv is empty (0 bytes)") {
		t.Fatalf("a 0-byte landing file should fail the run naming it: %+v", res.Nodes)
	}
	if n := e.query("main", "SELECT count(*) FROM bronze.orders")[0]; n != "2" {
		t.Fatalf("rows = %s", n)
	}
}

// A table pipeline whose query returns no rows creates its table, empty:
// downstream pipelines can read it.
func TestPipelineWithNoRowsCreatesTable(t *testing.T) {
	e := newEnv(t, map[string]string{
		"pipelines/bronze/nothing.sql": "SELECT 1::INTEGER AS id, 'x' AS name WHERE false\n",
		"pipelines/silver/count.sql":   "SELECT count(*) AS n FROM {{ ref('bronze.nothing') }}\n",
	})
	if res := e.run(Options{}, 1, nil); res.Status != StatusSuccess {
		t.Fatalf("run: %+v", res.Nodes)
	}
	if n := e.query("main", "SELECT n FROM silver.count")[0]; n != "0" {
		t.Fatalf("n = %s", n)
	}
}
