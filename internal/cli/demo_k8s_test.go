package cli

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestK8sLocalOverlayHasTheDemo: deploy/k8s/overlays/local ships the demo
// workspace's pipelines (the test of deploy/test/k8s.sh runs the demo's raw
// files through them); they must be what 'rat init --demo' writes.
func TestK8sLocalOverlayHasTheDemo(t *testing.T) {
	dir := filepath.Join("..", "..", "deploy", "k8s", "overlays", "local", "workspace")
	want := map[string]string{}
	for name, content := range demoFiles() {
		if strings.HasPrefix(name, "pipelines/") && !strings.HasSuffix(name, ".gitkeep") {
			want[name] = content
		}
	}
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		got[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("the demo has no pipelines")
	}
	for name, content := range want {
		if got[name] != content {
			t.Errorf("%s/%s differs from 'rat init --demo': copy the demo's pipelines again", dir, name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s/%s is not a pipeline of the demo", dir, name)
		}
	}
}
