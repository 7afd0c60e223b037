package app

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/postgres"
	"github.com/ratdata/rat/internal/sqlite"
	"github.com/ratdata/rat/internal/testenv"
)

// load reads the configuration of a workspace in dir, with env as the only
// environment.
func load(t *testing.T, dir string, env map[string]string) *config.Config {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "workspace.yaml"), []byte("name: t\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	cfg, err := config.Load(config.Options{Dir: dir, Environ: environ, Env: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestOpenEmbedded: the embedded default opens a SQLite catalog in .rat,
// a local warehouse, the read cache and DuckDB, all working together; the
// landing area is the workspace's landing/; the queue gets its own file.
func TestOpenEmbedded(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := load(t, dir, nil)
	a, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, ok := a.Store.(*sqlite.Store); !ok {
		t.Errorf("the catalog is a %T, want *sqlite.Store", a.Store)
	}
	if _, err := os.Stat(filepath.Join(dir, ".rat", "catalog.db")); err != nil {
		t.Errorf("no catalog file in .rat: %v", err)
	}
	id := rat.TableID{Layer: "bronze", Name: "t"}
	if _, err := a.Lake.Write(ctx, rat.DefaultBranch, id, "SELECT 42 AS x", lake.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	files, err := a.Objects.List(ctx, "bronze/")
	if err != nil || len(files) == 0 {
		t.Errorf("the warehouse lists %d files under bronze/ (%v), want the table's", len(files), err)
	}
	var got int
	if err := a.DB.SQL().QueryRowContext(ctx, "SELECT 1").Scan(&got); err != nil || got != 1 {
		t.Errorf("DuckDB answered %d, %v", got, err)
	}
	l, err := a.Landing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := l.Store.LocalPath("orders/a.csv"); !ok || p != filepath.Join(dir, "landing", "orders", "a.csv") {
		t.Errorf("landing file at %q (%v), want it in the workspace's landing/", p, ok)
	}
	if again, _ := a.Landing(ctx); again != l {
		t.Error("a second Landing built a new landing area")
	}
	r, err := a.Runner(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Lake != a.Lake || r.Landing != l || r.Runs == nil || r.Owner == "" || r.Lease != cfg.RunLease || r.Parallel != cfg.MaxParallelPipelines {
		t.Errorf("runner %+v is not wired to the app's objects and settings", r)
	}
	if q, pg := a.QueueDatabase(); q != filepath.Join(dir, ".rat", "queue.db") || pg != "" {
		t.Errorf("QueueDatabase() = %q, %q; want .rat/queue.db", q, pg)
	}
	if err := a.RequireBranch(ctx, "nope"); !rat.IsCode(err, rat.ENOTFOUND) {
		t.Errorf("RequireBranch(nope) = %v, want ENOTFOUND", err)
	}
}

// TestCloseRunsOnCloseLastFirst: what is opened on top of the app closes
// with it, last opened first, and its errors come back from Close.
func TestCloseRunsOnCloseLastFirst(t *testing.T) {
	a, err := Open(context.Background(), load(t, t.TempDir(), nil))
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	a.OnClose(func() error { order = append(order, "first"); return nil })
	a.OnClose(func() error { order = append(order, "second"); return os.ErrClosed })
	if err := a.Close(); err == nil || !strings.Contains(err.Error(), os.ErrClosed.Error()) {
		t.Errorf("Close() = %v, want the closer's error", err)
	}
	if want := []string{"second", "first"}; !reflect.DeepEqual(order, want) {
		t.Errorf("closers ran %v, want %v", order, want)
	}
}

// TestOpenFailsWhole: a catalog that cannot open fails Open with the
// reason, and leaves nothing open.
func TestOpenFailsWhole(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "not-a-db")
	if err := os.WriteFile(bad, []byte(strings.Repeat("x", 4096)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), load(t, dir, map[string]string{"RAT_CATALOG_URL": bad}))
	if err == nil || !strings.Contains(err.Error(), "not a SQLite database") {
		t.Fatalf("Open on a file that is not a database = %v, want that said", err)
	}
}

// TestOpenPostgres: a postgres:// catalog URL opens the Postgres store, and
// the queue lives in the same database.
func TestOpenPostgres(t *testing.T) {
	url := testenv.Postgres(t)
	a, err := Open(context.Background(), load(t, t.TempDir(), map[string]string{"RAT_CATALOG_URL": url}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, ok := a.Store.(*postgres.Store); !ok {
		t.Errorf("the catalog is a %T, want *postgres.Store", a.Store)
	}
	if q, pg := a.QueueDatabase(); q != "" || pg != url {
		t.Errorf("QueueDatabase() = %q, %q; want the catalog's database", q, pg)
	}
}

// TestOpenS3: an s3:// warehouse opens the bucket (creating it), and the
// landing area is <warehouse>/_landing/ in the same bucket.
func TestOpenS3(t *testing.T) {
	env := testenv.S3(t)
	warehouse := "s3://" + env.Bucket + "/" + env.Prefix
	a, err := Open(context.Background(), load(t, t.TempDir(), map[string]string{
		"ICEBERG_WAREHOUSE": warehouse, "S3_ENDPOINT": env.Endpoint, "S3_REGION": env.Region,
		"S3_ACCESS_KEY": env.AccessKey, "S3_SECRET_KEY": env.SecretKey,
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := a.Objects.URL(""); got != warehouse {
		t.Errorf("the warehouse is at %s, want %s", got, warehouse)
	}
	l, err := a.Landing(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Store.URL(""); got != warehouse+"_landing/" {
		t.Errorf("the landing area is at %s, want %s_landing/", got, warehouse)
	}
}
