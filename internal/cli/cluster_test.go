package cli

import (
	"context"
	"strings"
	"testing"

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
