package app

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
)

func noEnv(string) (string, bool) { return "", false }

// TestTargetConfig: each form of --to-warehouse and --to-catalog, the
// gs:// default endpoint, flags over the source's S3 settings, and the
// target keys from RAT_MIGRATE_S3_*.
func TestTargetConfig(t *testing.T) {
	src := &config.Config{CatalogURL: "/src/catalog.db", Warehouse: "/src/warehouse",
		S3: config.S3{Endpoint: "http://minio:9000", Region: "us-east-1", AccessKey: "srckey", SecretKey: "srcsecret"}}
	abs, _ := filepath.Abs("rel/catalog.db")
	for _, c := range []struct {
		t                            Target
		env                          map[string]string
		catalog, warehouse, endpoint string
		access, secret, region       string
	}{
		{t: Target{WarehouseURL: "gs://bucket/lake"}, warehouse: "s3://bucket/lake/", endpoint: GCSEndpoint,
			catalog: "/src/catalog.db", access: "srckey", secret: "srcsecret", region: "us-east-1"},
		{t: Target{WarehouseURL: "gs://bucket", S3Endpoint: "https://gcs.example"}, warehouse: "s3://bucket/", endpoint: "https://gcs.example",
			catalog: "/src/catalog.db", access: "srckey", secret: "srcsecret", region: "us-east-1"},
		{t: Target{WarehouseURL: "s3://b/p", S3Region: "eu-west-1"}, env: map[string]string{TargetAccessKeyEnv: "k2", TargetSecretKeyEnv: "s2"},
			warehouse: "s3://b/p/", endpoint: "http://minio:9000", catalog: "/src/catalog.db", access: "k2", secret: "s2", region: "eu-west-1"},
		{t: Target{WarehouseURL: "file:///srv/wh/", CatalogURL: "sqlite:rel/catalog.db"}, warehouse: "/srv/wh", catalog: abs,
			endpoint: "http://minio:9000", access: "srckey", secret: "srcsecret", region: "us-east-1"},
		{t: Target{CatalogURL: "postgres://rat:pw@db/rat"}, warehouse: "/src/warehouse", catalog: "postgres://rat:pw@db/rat",
			endpoint: "http://minio:9000", access: "srckey", secret: "srcsecret", region: "us-east-1"},
	} {
		env := func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }
		cfg, err := TargetConfig(src, c.t, "/tmp/state", env)
		if err != nil {
			t.Fatalf("%+v: %v", c.t, err)
		}
		if cfg.Warehouse != c.warehouse || cfg.CatalogURL != c.catalog || cfg.S3.Endpoint != c.endpoint ||
			cfg.S3.AccessKey != c.access || cfg.S3.SecretKey.Reveal() != c.secret || cfg.S3.Region != c.region || cfg.StateDir != "/tmp/state" {
			t.Errorf("%+v: got warehouse %s catalog %s endpoint %s key %s region %s", c.t, cfg.Warehouse, cfg.CatalogURL, cfg.S3.Endpoint, cfg.S3.AccessKey, cfg.S3.Region)
		}
	}
	if src.Warehouse != "/src/warehouse" || src.S3.AccessKey != "srckey" {
		t.Fatal("TargetConfig changed the source's configuration")
	}
	for _, bad := range []struct {
		t    Target
		want string
	}{
		{Target{WarehouseURL: "file://rel"}, "needs an absolute path"},
		{Target{WarehouseURL: "hdfs://x/y"}, `unknown scheme "hdfs"`},
		{Target{CatalogURL: "mysql://u:secret@h/db"}, `unknown scheme "mysql"`},
		{Target{CatalogURL: "sqlite:"}, "names no file"},
		{Target{WarehouseURL: "s3://"}, "no bucket"},
		{Target{WarehouseURL: "/x", S3Endpoint: "http://e"}, "not on S3"},
	} {
		_, err := TargetConfig(src, bad.t, "/tmp/state", noEnv)
		if !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), bad.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%+v: %v, want EINVALID mentioning %q (and no password)", bad.t, err, bad.want)
		}
	}
}

// TestTargetEnv: the environment of the new setup names the S3 keys and
// leaves the catalog URL's password out.
func TestTargetEnv(t *testing.T) {
	cfg := &config.Config{CatalogURL: "postgres://rat:hunter2@db:5432/rat?sslmode=disable&password=hunter3", Warehouse: "s3://b/p/",
		S3: config.S3{Endpoint: "http://minio:9000", Region: "us-east-1", PathStyle: "path", AccessKey: "key", SecretKey: "s3cr3tvalue"}}
	settings, comments := TargetEnv(cfg)
	got := map[string]string{}
	for _, s := range settings {
		got[s[0]] = s[1]
	}
	want := map[string]string{"RAT_CATALOG_URL": "postgres://rat@db:5432/rat?sslmode=disable", "ICEBERG_WAREHOUSE": "s3://b/p/",
		"S3_ENDPOINT": "http://minio:9000", "S3_REGION": "us-east-1", "S3_PATH_STYLE": "path"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	all := strings.Join(comments, "\n")
	for _, s := range settings {
		all += s[0] + "=" + s[1] + "\n"
	}
	if len(got) != len(want) || strings.Contains(all, "hunter") || strings.Contains(all, "s3cr3tvalue") ||
		!strings.Contains(all, "PGPASSWORD") || !strings.Contains(all, "S3_ACCESS_KEY and S3_SECRET_KEY") {
		t.Fatalf("environment:\n%s", all)
	}
	settings, comments = TargetEnv(&config.Config{CatalogURL: "/c.db", Warehouse: "/w"})
	if len(settings) != 2 || len(comments) != 0 {
		t.Fatalf("a local setup: %v %v", settings, comments)
	}
}
