package orchestrator

import (
	"os"
	"path/filepath"
	"testing"
)

// writeTree writes files (slash paths relative to dir).
func writeTree(dir string, files map[string]string) error {
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// pipeline file changes, not when landing files or the state change.
func TestWorkspaceFingerprint(t *testing.T) {
	dir := t.TempDir()
	if err := writeTree(dir, map[string]string{
		"workspace.yaml": "name: fp\n", "pipelines/silver/a.sql": "SELECT 1 AS x\n",
		"landing/orders/a.csv": "id\n1\n", ".rat/catalog.db": "x",
	}); err != nil {
		t.Fatal(err)
	}
	print := func() string {
		t.Helper()
		p, err := Fingerprint(dir)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := print()
	if err := writeTree(dir, map[string]string{"landing/orders/b.csv": "id\n2\n", ".rat/queue.db": "y"}); err != nil {
		t.Fatal(err)
	}
	if print() != first {
		t.Fatal("a landing file or the state directory changed the fingerprint")
	}
	if err := writeTree(dir, map[string]string{"pipelines/silver/a.sql": "SELECT 2 AS x\n"}); err != nil {
		t.Fatal(err)
	}
	if print() == first {
		t.Fatal("an edited pipeline kept the fingerprint")
	}
}
