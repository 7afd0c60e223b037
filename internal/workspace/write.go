package workspace

import (
	"os"
	"path/filepath"
)

// WriteTree writes files (relative path → content) under dir, making the
// directories they need: a new workspace (rat init), or a benchmark's.
func WriteTree(dir string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}
