package cli

import "github.com/ratdata/rat/internal/workspace"

// writeTree writes files (relative path → content) under dir.
func writeTree(dir string, files map[string]string) error {
	return workspace.WriteTree(dir, files)
}
