package cli

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the test reads the queue's tables

	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/testenv"
)

// TestClusterPipelines runs a workspace with its catalog on Postgres, its
// warehouse on MinIO and its landing zone in the bucket (<warehouse>/_landing/).
func TestClusterPipelines(t *testing.T) {
	t.Parallel()
	u := newUser(t, true)
	env := testenv.S3(t) // the same service newUser configured; a fresh prefix for the upload client
	var warehouse string
	for _, kv := range u.env {
		if v, ok := strings.CutPrefix(kv, "ICEBERG_WAREHOUSE="); ok {
			warehouse = v
		}
	}
	bucket, prefix, err := objstore.ParseS3URL(warehouse)
	if err != nil {
		t.Fatal(err)
	}
	s3, err := objstore.NewS3(context.Background(), objstore.S3Config{
		Endpoint: env.Endpoint, Region: env.Region, AccessKey: env.AccessKey, SecretKey: env.SecretKey,
		Bucket: bucket, Prefix: prefix + "_landing/",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	put := func(key, body string) {
		t.Helper()
		if err := s3.Put(context.Background(), key, strings.NewReader(body), int64(len(body))); err != nil {
			t.Fatal(err)
		}
	}
	u.write("workspace.yaml", "name: cluster\n")
	u.write("pipelines/bronze/orders.sql", "-- @materialized: incremental\nSELECT * FROM {{ landing('orders') }}\n")
	u.write("pipelines/silver/totals.sql", "SELECT count(*) AS n, sum(amount) AS total FROM {{ ref('bronze.orders') }}\n")
	put("orders/a.csv", "id,amount\n1,10\n2,20\n")
	if out := u.ok("run"); !strings.Contains(out, "succeeded") {
		t.Fatalf("run:\n%s", out)
	}
	put("orders/b.csv", "id,amount\n3,30\n")
	u.ok("run")
	if out := u.ok("query", "SELECT * FROM silver.totals", "--format", "csv"); strings.TrimSpace(out) != "n,total\n3,60" {
		t.Fatalf("totals:\n%s", out)
	}
	if out := u.ok("query", "SELECT DISTINCT _source_file FROM bronze.orders ORDER BY 1", "--format", "csv"); strings.TrimSpace(out) != "_source_file\norders/a.csv\norders/b.csv" {
		t.Fatalf("sources:\n%s", out)
	}
}

// TestClusterRun is the cluster of the README on loopback: Postgres and
// MinIO, two rat serve replicas that only schedule and answer, three rat
// worker processes. A run of a 12-pipeline DAG spreads its nodes over the
// workers; the worker building one node is killed (kill -9) half-way, the
// node goes to another worker, and the run publishes correct data once.
// Then a serve replica is killed and the schedule keeps firing from the
// other.
func TestClusterRun(t *testing.T) {
	t.Parallel()
	u := newUser(t, true)
	// Minutes of work: the node runs until its worker is killed.
	setSlow := slowKnob(t, u, 100_000_000_000)
	u.env = append(u.env, "RAT_MAX_PARALLEL_PIPELINES=1")
	u.write("workspace.yaml", "name: cluster\n")
	files := map[string]string{
		"bronze/customers.sql": "SELECT range AS id, 'c' || range AS name FROM range(100)",
		"bronze/orders.sql":    "SELECT range AS id, range % 100 AS customer_id, range % 7 AS amount FROM range(1000)",
		"bronze/items.sql":     "SELECT range AS id, range % 1000 AS order_id FROM range(3000)",
		"bronze/events.sql":    "SELECT range AS id FROM range(500)",
		"silver/customers.sql": "SELECT * FROM {{ ref('bronze.customers') }}",
		"silver/orders.sql":    "SELECT * FROM {{ ref('bronze.orders') }} WHERE amount > 0",
		"silver/items.sql":     "SELECT * FROM {{ ref('bronze.items') }}",
		"silver/slow.sql": "SELECT count(*) AS n FROM {{ ref('bronze.events') }}, " +
			"range((SELECT n FROM read_csv('{{ env_var(\"SLOW_FILE\") }}'))) r WHERE hash(r.range) >= 0 AND events.id = 0",
		"gold/revenue.sql":  "SELECT c.id, sum(o.amount) AS revenue FROM {{ ref('silver.customers') }} c JOIN {{ ref('silver.orders') }} o ON o.customer_id = c.id GROUP BY c.id",
		"gold/basket.sql":   "SELECT o.id, count(*) AS items FROM {{ ref('silver.orders') }} o JOIN {{ ref('silver.items') }} i ON i.order_id = o.id GROUP BY o.id",
		"gold/activity.sql": "SELECT n FROM {{ ref('silver.slow') }}",
		"gold/summary.sql": "SELECT (SELECT sum(revenue) FROM {{ ref('gold.revenue') }}) AS revenue, " +
			"(SELECT sum(items) FROM {{ ref('gold.basket') }}) AS items, (SELECT n FROM {{ ref('gold.activity') }}) AS slow",
	}
	for name, sql := range files {
		u.write("pipelines/"+name, "-- @tags: dag\n"+sql+"\n")
	}
	u.write("pipelines/bronze/tick/pipeline.sql", "SELECT 1 AS x\n")
	u.write("pipelines/bronze/tick/config.yaml", "triggers:\n  - {type: schedule, cron: '@every 3s'}\n")
	var catalogURL string
	for _, kv := range u.env {
		if v, ok := strings.CutPrefix(kv, "RAT_CATALOG_URL="); ok {
			catalogURL = v
		}
	}
	if catalogURL == "" {
		t.Fatal("the cluster user has no RAT_CATALOG_URL")
	}

	listening := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	base, first := startProcess(t, u, listening, "serve", "--no-worker", "--listen", "127.0.0.1:0")
	other, _ := startProcess(t, u, listening, "serve", "--no-worker", "--listen", "127.0.0.1:0")
	workers := map[int]*exec.Cmd{}
	for range 3 {
		_, w := startProcess(t, u, regexp.MustCompile(`(worker started)`), "worker")
		workers[w.Process.Pid] = w
	}
	id := postRun(t, base, `{"selectors": ["tag:dag"]}`)

	// Find the worker building silver.slow from the queue's DAG rows.
	db := openQueueDB(t, u)
	victim := workerOwning(t, workers, waitNodeRunning(t, u, db, id, "silver.slow"))
	time.Sleep(time.Second) // well into the node
	setSlow(1000)           // the next attempt is quick
	if err := victim.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = victim.Wait()
	t.Logf("killed worker %d while it built silver.slow", victim.Process.Pid)

	nodes := successfulRunNodes(t, u, id)
	spread := map[string]bool{}
	for _, n := range nodes {
		if n.Status != "success" || n.Worker == "" {
			t.Fatalf("node %+v", n)
		}
		spread[n.Worker] = true
		if n.Pipeline == "silver.slow" && (n.Attempts != 2 || ownedBy(n.Worker, victim.Process.Pid)) {
			t.Fatalf("silver.slow should be built by another worker in attempt 2: %+v", n)
		}
	}
	if len(nodes) != 12 || len(spread) < 2 {
		t.Fatalf("%d nodes on %d worker(s), want 12 on several", len(nodes), len(spread))
	}
	// Correct data, each row once.
	want := map[string]string{
		"SELECT revenue, items, slow FROM gold.summary":                    "revenue,items,slow\n2997,2571,1000",
		"SELECT count(*) AS n, count(DISTINCT id) AS d FROM silver.orders": "n,d\n857,857",
		"SELECT count(*) AS n FROM gold.revenue":                           "n\n100",
	}
	for q, w := range want {
		if got := strings.TrimSpace(u.ok("query", q, "--format", "csv")); got != w {
			t.Fatalf("%s:\n%s\nwant\n%s", q, got, w)
		}
	}

	// The schedule fires from whichever replica is left.
	ticks := func() int {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM runs WHERE trigger = 'schedule'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitTicks := func(n int, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for ticks() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d scheduled runs, want %d", ticks(), n)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	waitTicks(2, 90*time.Second)
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	// A tick the killed replica was working blocks the next ones (ticks
	// never pile up) until the other replica frees it (after 30s).
	waitTicks(ticks()+3, 2*time.Minute)
	if out := u.ok("runs", "list", "--server", other); !strings.Contains(out, id) {
		t.Fatalf("the other replica does not list run %s:\n%s", id, out)
	}
}
