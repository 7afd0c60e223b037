package cli

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/sqlite"
)

// TestCleanupKeepsUserBranches: rat run --cleanup deletes the branches
// rat made for failed runs, and leaves alone a user's branch that carries
// such a name from before the names were reserved.
func TestCleanupKeepsUserBranches(t *testing.T) {
	dir := t.TempDir()
	a := openLocalApp(t, dir, map[string]string{
		"workspace.yaml":            "name: cleanup\n",
		"pipelines/silver/dup.sql":  "SELECT 1 AS id UNION ALL SELECT 1 AS id\n",
		"pipelines/silver/dup.yaml": "columns:\n  - name: id\n    tests: [unique]\n",
	})
	ctx := context.Background()
	ws, err := a.LoadWorkspace(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.Runner(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(ctx, pipeline.Options{Target: "main"})
	if err != nil || res.Status != pipeline.StatusFailed {
		t.Fatalf("run: %+v, %v; want a failed run keeping its branch", res, err)
	}
	// Branches a user made before run/ and ingest/ were reserved (rat
	// refuses to create them now, so plant them as an older rat left them).
	main, err := a.Store.Ref(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", sqlite.DSN(a.Config.CatalogURL))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range []string{"run/mine", "ingest/mine"} {
		if _, err := db.Exec(`INSERT INTO refs (name, kind, head) VALUES (?, 'branch', ?)`, name, main.Head); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Store.CreateRef(ctx, rat.Ref{Name: "run/other", Kind: rat.Branch, Head: main.Head}); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("a user creating run/other: err = %v, want it refused as reserved", err)
	}
	var out bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetOut(&out)
	cmd.SetContext(ctx)
	if err := a.cleanupRunBranches(cmd); err != nil {
		t.Fatal(err)
	}
	left := map[string]bool{}
	refs, err := a.Store.Refs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		left[r.Name] = true
	}
	if left[res.RunBranch] || !left["run/mine"] || !left["ingest/mine"] {
		t.Fatalf("after cleanup: refs %v; want %s deleted and run/mine, ingest/mine kept\n%s", left, res.RunBranch, out.String())
	}
	if !strings.Contains(out.String(), "deleted "+res.RunBranch) || !strings.Contains(out.String(), "kept run/mine: rat did not create it") {
		t.Fatalf("cleanup output:\n%s", out.String())
	}
}

// openLocalApp writes files into dir and opens the app there on the
// embedded default, whatever the environment points at.
func openLocalApp(t *testing.T, dir string, files map[string]string) *app {
	t.Helper()
	if err := writeTree(dir, files); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"RAT_PROFILE", "RAT_CATALOG_URL", "ICEBERG_WAREHOUSE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	a, err := (&globals{dir: dir}).open(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}
