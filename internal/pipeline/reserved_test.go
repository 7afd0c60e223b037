package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/workspace"
)

// TestRegistryIsRatsOwn: a pipeline cannot overwrite the file registry
// (doing so made the next run ingest every landing file again), and
// neither can rat ingest; the registry keeps working for rat itself.
func TestRegistryIsRatsOwn(t *testing.T) {
	e := newEnv(t, map[string]string{
		"pipelines/bronze/orders.sql": "-- @materialized: incremental\nSELECT * FROM {{ landing('orders') }}\n",
	})
	e.drop("orders/a.csv", "id,amount\n1,10\n2,20\n")
	if res := e.runWith(Options{}, nil); res.Status != StatusSuccess {
		t.Fatalf("first run: %+v", res)
	}
	// A careless pipeline that would empty the registry is refused when
	// the workspace loads, naming its file.
	bad := filepath.Join(e.dir, "pipelines", "_rat", "landing_files.sql")
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("SELECT * FROM {{ ref('_rat.landing_files') }} WHERE false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := workspace.Load(e.dir, workspace.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "pipelines/_rat/landing_files.sql") || !strings.Contains(err.Error(), "_rat.landing_files") {
		t.Fatalf("workspace with a pipeline in _rat: err = %v, want it refused naming the file and the table", err)
	}
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	// rat ingest into the registry is refused before anything is staged.
	files, err := ingest.LocalFiles([]string{filepath.Join(e.dir, "landing", "orders", "a.csv")})
	if err != nil {
		t.Fatal(err)
	}
	before := e.head("main")
	_, err = Ingest(context.Background(), e.lake, "main", Registry, files, "", t.TempDir(), false, time.Now())
	if err == nil || !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), "table _rat.landing_files is read-only") {
		t.Fatalf("rat ingest --into _rat.landing_files: err = %v, want it refused", err)
	}
	if e.head("main") != before {
		t.Fatal("a refused ingest moved main")
	}
	refs, err := e.lake.Store().Refs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		if strings.HasPrefix(r.Name, "ingest/") {
			t.Fatalf("a refused ingest left its branch %s", r.Name)
		}
	}
	// The registry still says a.csv was read: no duplicates.
	e.drop("orders/b.csv", "id,amount\n3,30\n")
	if res := e.runWith(Options{}, nil); res.Status != StatusSuccess {
		t.Fatalf("second run: %+v", res)
	}
	if n := e.query("main", "SELECT count(*) FROM bronze.orders")[0]; n != "3" {
		t.Fatalf("bronze.orders holds %s rows, want 3 (a.csv once, b.csv)", n)
	}
}

// TestRunIntoReservedBranch: a run publishes by merging into its target,
// so a target named like rat's own branches is refused up front.
func TestRunIntoReservedBranch(t *testing.T) {
	e := newEnv(t, copyFiles(basic))
	e.load("bronze.raw", "SELECT * FROM (VALUES (1, 10)) t(id, amount)")
	r := &Runner{Lake: e.lake, Workspace: loadWS(t, e), Parallel: 1}
	_, err := r.Run(context.Background(), Options{Target: "run/mine"})
	if err == nil || !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), `cannot run into run/mine: the name is reserved`) {
		t.Fatalf("run into run/mine: err = %v, want it refused as reserved", err)
	}
}
