package workspace

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/ratdata/rat"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/name, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n%s", name, path, got)
	}
}

func TestLineage(t *testing.T) {
	t.Parallel()
	w := mustLoad(t, "testdata/folder", LoadOptions{})
	l := w.Lineage()
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "folder.lineage.json", string(data)+"\n")
	golden(t, "folder.mermaid", w.Mermaid())
	golden(t, "folder.dot", w.DOT())

	// The graph is the same on every load.
	again := mustLoad(t, "testdata/folder", LoadOptions{})
	if again.Mermaid() != w.Mermaid() || again.DOT() != w.DOT() {
		t.Error("lineage output differs between two loads")
	}
}

func TestLineageExternalTables(t *testing.T) {
	t.Parallel()
	dir := writeWorkspace(t, map[string]string{
		"pipelines/silver/a.sql": "SELECT * FROM {{ ref('bronze.events') }}\n",
		"pipelines/silver/b.sql": "SELECT * FROM {{ ref('silver.a') }} JOIN {{ landing('web') }} USING (id)\n",
	})
	w := mustLoad(t, dir, LoadOptions{Known: func(id rat.TableID) bool { return id.String() == "bronze.events" }})
	golden(t, "external.mermaid", w.Mermaid())
	golden(t, "external.dot", w.DOT())
	l := w.Lineage()
	kinds := map[string]string{}
	for _, n := range l.Nodes {
		kinds[n.Key] = n.Kind
	}
	if kinds["bronze.events"] != NodeTable || kinds["silver.a"] != NodePipeline || kinds["landing:web"] != NodeLanding || len(l.Edges) != 3 {
		t.Errorf("lineage = %+v", l)
	}
}
