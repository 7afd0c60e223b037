package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoWorkspace runs the demo as a new user would: init, run, query,
// test, change data, run again incrementally, break a test.
func TestDemoWorkspace(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	if out := u.ok("init", "demo", "--demo"); !strings.Contains(out, "rat -C demo run") {
		t.Fatalf("init should say what to do next:\n%s", out)
	}
	u.dir = filepath.Join(u.dir, "demo")
	out := u.ok("run")
	if !strings.Contains(out, "succeeded") || !strings.Contains(out, "gold.daily_revenue") {
		t.Fatalf("run output:\n%s", out)
	}
	if n := u.count("silver.orders"); n != "1000" {
		t.Fatalf("silver.orders = %s", n)
	}
	if out := u.ok("query", "SELECT count(*) AS n FROM gold.customer_value WHERE orders > 0", "--format", "csv"); !strings.HasPrefix(out, "n\n") {
		t.Fatalf("view query: %s", out)
	}
	if out := u.ok("test"); !strings.Contains(out, "0 failing") {
		t.Fatalf("test output:\n%s", out)
	}
	// New raw rows: the incremental pipeline only processes them.
	u.write("landing/orders/new.csv", "order_id,customer_id,status,amount,updated_at\n2001,1,placed,12.50,2030-01-01 00:00:00\n")
	u.ok("run", "+silver.orders")
	var res struct {
		Status string `json:"status"`
		Nodes  []struct {
			Pipeline string `json:"pipeline"`
			Kind     string `json:"kind"`
			Rows     int64  `json:"rows"`
		} `json:"nodes"`
	}
	u.write("landing/orders/newer.csv", newerOrders)
	if err := json.Unmarshal([]byte(u.ok("run", "+silver.orders", "--json")), &res); err != nil {
		t.Fatal(err)
	}
	if res.Status != "success" || res.Nodes[1].Kind != "incremental/merge" || res.Nodes[1].Rows != 1 || res.Nodes[0].Rows != 1 {
		t.Fatalf("incremental run: %+v", res)
	}
	// Bad data fails the quality test: main keeps its tables.
	u.write("landing/orders/bad.csv", "order_id,customer_id,status,amount,updated_at\n2003,1,lost,-5,2030-01-03 00:00:00\n")
	before := u.count("silver.orders")
	_, errs, code := u.run("run")
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	last := lines[len(lines)-1]
	if code == 0 || !strings.HasPrefix(last, "rat: ") || !strings.Contains(last, "failed") || !strings.Contains(last, "run/") {
		t.Fatalf("exit %d; the last line should say the run failed and name its branch:\n%s", code, errs)
	}
	if !strings.Contains(errs, "no_negative_amounts") || !strings.Contains(errs, "accepted_values") {
		t.Fatalf("progress should name the failing tests:\n%s", errs)
	}
	if after := u.count("silver.orders"); after != before {
		t.Fatalf("a failed run published: %s -> %s rows", before, after)
	}
	if out := u.ok("branch", "list"); !strings.Contains(out, "run/") {
		t.Fatalf("the failed run's branch should be kept:\n%s", out)
	}
	if out := u.ok("lineage", "--format", "dot"); !strings.Contains(out, "digraph") {
		t.Fatalf("dot: %s", out)
	}
	if _, err := os.Stat(filepath.Join(u.dir, ".gitignore")); err != nil {
		t.Fatal(err)
	}
}

func TestIngestOncePerContent(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("drop/a.csv", "id,v\n1,a\n2,b\n")
		u.write("drop/copy_of_a.csv", "id,v\n1,a\n2,b\n")
		out := u.ok("ingest", "drop", "--into", "bronze.events")
		if !strings.Contains(out, "ingested 1 file (2 rows)") || !strings.Contains(out, "copy_of_a.csv") {
			t.Fatalf("first ingest:\n%s", out)
		}
		if out := u.ok("ingest", "drop/a.csv", "--into", "bronze.events"); !strings.Contains(out, "nothing new") {
			t.Fatalf("second ingest:\n%s", out)
		}
		u.write("drop/a.csv", "id,v\n3,c\n")
		u.ok("ingest", "drop/a.csv", "--into", "bronze.events")
		out = u.ok("query", "SELECT id, _source_file FROM bronze.events ORDER BY id", "--format", "csv")
		if strings.TrimSpace(out) != "id,_source_file\n1,drop/a.csv\n2,drop/a.csv\n3,drop/a.csv" {
			t.Fatalf("rows:\n%s", out)
		}
		if out := u.ok("tables"); strings.Contains(out, "_rat.") {
			t.Fatalf("rat's own tables should be hidden:\n%s", out)
		}
		if out := u.ok("tables", "--all"); !strings.Contains(out, "_rat.landing_files") {
			t.Fatalf("--all should show the registry:\n%s", out)
		}
		u.write("drop/bad.csv", "id,v\n4,d,extra\n")
		u.fails("drop/bad.csv:2", "ingest", "drop/bad.csv", "--into", "bronze.events")
	})
}

// TestOriginalWorkspace runs a workspace written for the original
// Ratatouille (folder layout, @name aliases, source(), YAML owners,
// freshness, custom tests with expect, unit tests on YAML/CSV/JSON mocks)
// end to end: run, test, then an incremental run on new files.
func TestOriginalWorkspace(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	src := filepath.Join("..", "workspace", "testdata", "folder")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		u.write(rel, string(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Unit tests need no catalog: they run on mocks.
	if out := u.ok("test", "--type", "unit"); !strings.Contains(out, "4 test(s), 0 failing") {
		t.Fatalf("unit tests on an empty catalog:\n%s", out)
	}
	u.write("landing/sales/day1.csv", "txn_id,store_id,category,quantity,unit_price,transaction_time,customer_id\nT1,S1,Electronics,2,10.0,2024-01-15 10:30:00,C1\nT2,S2,Other,1,5.5,2024-01-15 11:00:00,C2\nT3,S1,Other,0,1.0,2024-01-15 12:00:00,C3\n")
	u.write("landing/stores/stores.csv", "store_id,store_name\nS1,Paris\nS2,Lyon\n")
	if out := u.ok("run"); !strings.Contains(out, "succeeded") {
		t.Fatalf("run:\n%s", out)
	}
	if out := u.ok("test"); !strings.Contains(out, "0 failing") || !strings.Contains(out, "test_basic_transformation") {
		t.Fatalf("test:\n%s", out)
	}
	if out := u.ok("query", "SELECT currency, count(*) AS n FROM silver.sales GROUP BY ALL", "--format", "csv"); strings.TrimSpace(out) != "currency,n\nUSD,2" {
		t.Fatalf("pipeline vars should win over workspace vars:\n%s", out)
	}
	u.ok("run", "silver.sales+", "--var", "currency=CHF", "--full-refresh")
	if out := u.ok("query", "SELECT DISTINCT currency FROM silver.sales", "--format", "csv"); strings.TrimSpace(out) != "currency\nCHF" {
		t.Fatalf("--var should win over the YAML vars:\n%s", out)
	}
	u.write("landing/sales/day2.csv", "txn_id,store_id,category,quantity,unit_price,transaction_time,customer_id\nT4,S2,Electronics,3,2.0,2024-01-16 10:30:00,C1\n")
	u.ok("run")
	if out := u.ok("query", "SELECT count(*) AS n, sum(revenue) AS r FROM gold.daily_sales", "--format", "csv"); strings.TrimSpace(out) != "n,r\n3,31.5" {
		t.Fatalf("gold after the second day:\n%s", out)
	}
}

// TestDemoCommand is the README's first command: it creates the demo,
// runs it and prints the gold tables; running it again works too.
func TestDemoCommand(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	for i := 0; i < 2; i++ {
		out := u.ok("demo")
		if !strings.Contains(out, "succeeded") || !strings.Contains(out, "gold.daily_revenue") || !strings.Contains(out, "revenue") || !strings.Contains(out, "2024-03-01") {
			t.Fatalf("run %d of rat demo:\n%s", i+1, out)
		}
	}
}

// TestPipelineBadInput: each mistake is one error line with its location,
// a non-zero exit, and nothing published.
func TestPipelineBadInput(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	u.ok("init", "ws", "--demo")
	u.dir = filepath.Join(u.dir, "ws")
	u.ok("run")
	before := u.commits()
	good := map[string]string{}
	for _, f := range []string{"pipelines/gold/daily_revenue.sql", "pipelines/silver/orders/config.yaml"} {
		data, err := os.ReadFile(filepath.Join(u.dir, f))
		if err != nil {
			t.Fatal(err)
		}
		good[f] = string(data)
	}
	restore := func() {
		for f, c := range good {
			u.write(f, c)
		}
		os.Remove(filepath.Join(u.dir, "pipelines/gold/loop.sql"))
		os.Remove(filepath.Join(u.dir, "landing/orders/bad.csv"))
	}
	cases := []struct {
		name, file, content, want string
	}{
		{"sql syntax", "pipelines/gold/daily_revenue.sql", "SELECT day, FORM {{ ref('silver.orders') }}\n", "pipelines/gold/daily_revenue.sql"},
		{"unknown ref", "pipelines/gold/daily_revenue.sql", "SELECT * FROM {{ ref('silver.ordres') }}\n", "pipelines/gold/daily_revenue.sql:1"},
		{"jinja", "pipelines/gold/daily_revenue.sql", "SELECT 1 {% if %}\n", "pipelines/gold/daily_revenue.sql:1"},
		{"cycle", "pipelines/gold/loop.sql", "SELECT * FROM {{ ref('gold.daily_revenue') }}\n", "cycle"},
		{"unknown yaml key", "pipelines/silver/orders/config.yaml", "descripton: x\n", "pipelines/silver/orders/config.yaml:1"},
		{"malformed csv", "landing/orders/bad.csv", "order_id,customer_id,status,amount,updated_at\n1,2\n", "orders/bad.csv:2"},
	}
	for _, c := range cases {
		u.write(c.file, c.content)
		if c.name == "cycle" {
			u.write("pipelines/gold/daily_revenue.sql", "SELECT * FROM {{ ref('gold.loop') }}\n")
		}
		_, errs, code := u.run("run")
		lines := strings.Split(strings.TrimSpace(errs), "\n")
		last := lines[len(lines)-1]
		if code == 0 || !strings.HasPrefix(last, "rat: ") || !strings.Contains(last, c.want) {
			t.Errorf("%s: exit %d, last line %q, want it to contain %q", c.name, code, last, c.want)
		}
		restore()
	}
	if after := u.commits(); after != before {
		t.Fatalf("bad input published: %d commits before, %d after", before, after)
	}
}

// newerOrders is a landing file for the demo workspace's orders: one order
// newer than the demo's, for an incremental run to add.
const newerOrders = "order_id,customer_id,status,amount,updated_at\n2002,1,placed,2.50,2030-01-02 00:00:00\n"
