package app

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ratdata/rat/internal/pipeline"
)

// TestWorkspaceOutlivesLoadContext: a workspace loaded with a context that
// has since ended (rat serve loads it in an API request, a worker in a job,
// and shares it) still finds the catalog's tables when a later run renders
// a ref() to one.
func TestWorkspaceOutlivesLoadContext(t *testing.T) {
	dir := t.TempDir()
	a := openLocalApp(t, dir, map[string]string{
		"workspace.yaml":           "name: ctx\n",
		"pipelines/bronze/src.sql": "SELECT 1 AS id\n",
	})
	run := func(selector string) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		ws, err := a.LoadWorkspace(ctx)
		cancel() // the request or job that loaded the workspace has ended
		if err != nil {
			t.Fatal(err)
		}
		runner, err := a.Runner(context.Background(), ws)
		if err != nil {
			t.Fatal(err)
		}
		res, err := runner.Run(context.Background(), pipeline.Options{Target: "main", Selectors: []string{selector}})
		if err != nil || res.Status != pipeline.StatusSuccess {
			t.Fatalf("run %s: %+v %v", selector, res, err)
		}
	}
	run("bronze.src")
	// bronze.src is now a catalog table no pipeline builds.
	if err := os.Remove(filepath.Join(dir, "pipelines", "bronze", "src.sql")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "pipelines", "silver"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pipelines", "silver", "dst.sql"), []byte("SELECT id FROM {{ ref('bronze.src') }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("silver.dst")
}
