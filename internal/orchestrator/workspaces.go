package orchestrator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ratdata/rat/internal/workspace"
)

// Workspaces loads a workspace for a long-running process (the scheduler
// looks at it every second, every run starts by reading it): the files are
// loaded again only when one of them changed (names, sizes and
// modification times). A loaded workspace is read-only, so callers share
// it.
type Workspaces struct {
	Dir  string
	Load func(ctx context.Context) (*workspace.Workspace, error)

	mu    sync.Mutex
	ws    *workspace.Workspace
	print string
}

// Get returns the workspace as its files are now.
func (w *Workspaces) Get(ctx context.Context) (*workspace.Workspace, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	print, err := Fingerprint(w.Dir)
	if err == nil && w.ws != nil && print == w.print {
		return w.ws, nil
	}
	ws, err := w.Load(ctx)
	if err != nil {
		return nil, err
	}
	w.ws, w.print = ws, print
	return ws, nil
}

// Last returns the workspace Get loaded last; nil before the first.
func (w *Workspaces) Last() *workspace.Workspace {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ws
}

// Fingerprint summarises a workspace's files: workspace.yaml and
// everything but the state directory, landing zones and hidden folders.
func Fingerprint(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != dir && (strings.HasPrefix(name, ".") || (name == "landing" && filepath.Dir(path) == dir)) {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", path, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
