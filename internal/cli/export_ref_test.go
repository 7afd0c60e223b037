package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportRef: rat export --ref dev holds the branch dev with its
// history and nothing else: restored by rat import into a fresh workspace,
// every query on dev (tables, time travel to an old snapshot, the log)
// answers as at the source, dev is the only ref, no run is there, and the
// export holds fewer files than the source warehouse.
func TestExportRef(t *testing.T) {
	u, first := portableWorkspace(t)
	count := func(table string, extra ...string) []string {
		return append([]string{"query", "SELECT count(*) AS n, sum(hash(t)) AS h FROM " + table + " t", "--format", "csv", "--branch", "dev"}, extra...)
	}
	queries := [][]string{
		count("bronze.extra"),
		count("silver.orders"),
		count("silver.orders", "--at", first),
		count("gold.customer_value"),
		{"log", "dev", "-n", "0"},
		{"tables", "--branch", "dev"},
	}
	before := outputs(u, queries)
	u.fails(`ref "nope" not found`, "export", "--ref", "nope", filepath.Join(t.TempDir(), "nope"))

	dir := filepath.Join(t.TempDir(), "dev")
	var rep struct {
		Verified bool
		Refs     []struct{ Ref string }
		Export   struct {
			Ref     string
			Files   int64
			Commits int64
			Refs    []struct{ Name string }
		}
	}
	out := u.ok("export", "--ref", "dev", dir, "--json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.Verified {
		t.Fatalf("export --ref dev (%v):\n%s", err, out)
	}
	if e := rep.Export; e.Ref != "dev" || len(e.Refs) != 1 || e.Refs[0].Name != "dev" || len(rep.Refs) != 1 || e.Commits < 2 {
		t.Fatalf("export --ref dev: %+v", rep)
	}
	if whole := int64(len(treeSums(t, filepath.Join(u.dir, ".rat", "warehouse")))); rep.Export.Files >= whole {
		t.Fatalf("the export of dev holds %d files, the whole warehouse %d", rep.Export.Files, whole)
	}

	r := freshUser(t)
	r.ok("import", dir)
	awaySource(t, u, func() {
		sameOutputs(t, "dev restored", before, outputs(r, queries))
	})
	if refs := r.ok("branch", "list"); !strings.Contains(refs, "dev") || strings.Contains(refs, "main") {
		t.Fatalf("branches of the restored export of dev:\n%s", refs)
	}
	if tags := r.ok("tag", "list"); strings.Contains(tags, "v1") {
		t.Fatalf("tags of the restored export of dev:\n%s", tags)
	}
	if runs := r.ok("runs", "list", "--json"); strings.Contains(runs, `"id"`) {
		t.Fatalf("the restored export of dev holds runs:\n%s", runs)
	}
}
