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
	u.write("landing/orders/newer.csv", "order_id,customer_id,status,amount,updated_at\n2002,1,placed,2.50,2030-01-02 00:00:00\n")
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
