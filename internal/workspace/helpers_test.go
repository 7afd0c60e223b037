package workspace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratdata/rat"
)

// mustLoad loads a workspace and fails the test on an error.
func mustLoad(t *testing.T, dir string, opts LoadOptions) *Workspace {
	t.Helper()
	w, err := Load(dir, opts)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	return w
}

// writeWorkspace writes files (path -> content) into a new directory; a
// workspace.yaml is added when files have none.
func writeWorkspace(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if _, ok := files["workspace.yaml"]; !ok {
		files["workspace.yaml"] = "name: test\n"
	}
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mustGet returns a pipeline by "layer.name".
func mustGet(t *testing.T, w *Workspace, name string) *Pipeline {
	t.Helper()
	id, err := rat.ParseTableID(name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ids returns the table names of pipelines, in order.
func ids(ps []*Pipeline) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.ID.String()
	}
	return strings.Join(s, " ")
}

// tableIDs joins table ids.
func tableIDs(list []rat.TableID) string {
	s := make([]string, len(list))
	for i, id := range list {
		s[i] = id.String()
	}
	return strings.Join(s, " ")
}

// warningsText joins the warnings of a workspace, one a line.
func warningsText(w *Workspace) string {
	var b strings.Builder
	for _, x := range w.Warnings() {
		b.WriteString(x.String() + "\n")
	}
	return b.String()
}

// wantError checks that err is an *rat.Error with code and every fragment.
func wantError(t *testing.T, err error, code string, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error with %q, got none", fragments)
	}
	if got := rat.ErrorCode(err); got != code {
		t.Errorf("error code = %s, want %s (error: %v)", got, code, err)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not contain %q", err.Error(), f)
		}
	}
}
