// Package workspace loads a rat workspace: workspace.yaml and the SQL
// pipelines under pipelines/<layer>/ in both layouts (flat files and
// folders), with their YAML settings, quality tests, unit tests and mocks. It
// renders the Jinja templates of pipelines and tests, builds the DAG from
// ref() calls and selects pipelines (silver.sales+, tag:x, state:modified).
//
// It reads files only: nothing here talks to the catalog or runs SQL. What
// the catalog knows comes in as LoadOptions.Known.
package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
)

// LoadOptions are the outside facts Load needs.
type LoadOptions struct {
	// Known reports whether the catalog has a table, so that ref() may name a
	// table no pipeline builds (an ingested bronze table). Nil: none.
	Known func(rat.TableID) bool
	// Env looks up environment variables for env_var(); nil: none are set.
	Env func(string) (string, bool)
}

// Workspace is a loaded workspace. It is immutable after Load and safe for
// concurrent use.
type Workspace struct {
	Dir    string            // the workspace root, absolute
	Config *config.Workspace // workspace.yaml

	pipelines map[rat.TableID]*Pipeline
	sorted    []*Pipeline // by ID
	order     []*Pipeline // topological
	aliases   map[string]rat.TableID
	layers    []string // known layer names, for layer_name table names
	up, down  map[rat.TableID][]*Pipeline
	known     func(rat.TableID) bool
	env       func(string) (string, bool)
	warnings  []Warning
}

// Load reads the workspace in dir: workspace.yaml, every pipeline, its
// settings and tests. It fails on the first problem, with its file and line;
// problems that do not stop loading are in Warnings.
func Load(dir string, opts LoadOptions) (*Workspace, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, rat.Errorf(rat.EINVALID, "workspace %s: %v", dir, err)
	}
	data, err := os.ReadFile(filepath.Join(abs, config.WorkspaceFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, rat.Errorf(rat.ENOTFOUND, "%s has no %s: run rat init there, or run rat from a workspace", dir, config.WorkspaceFileName)
	}
	if err != nil {
		return nil, rat.Errorf(rat.EINVALID, "read %s: %v", config.WorkspaceFileName, err)
	}
	cfg, err := config.ParseWorkspace(config.WorkspaceFileName, data)
	if err != nil {
		return nil, err
	}
	w := &Workspace{
		Dir:       abs,
		Config:    cfg,
		pipelines: map[rat.TableID]*Pipeline{},
		aliases:   map[string]rat.TableID{},
		known:     opts.Known,
		env:       opts.Env,
	}
	l := &loader{ws: w, files: map[string]string{}}
	if err := l.load(); err != nil {
		return nil, err
	}
	return w, nil
}

// Pipelines returns every pipeline, sorted by table name.
func (w *Workspace) Pipelines() []*Pipeline { return append([]*Pipeline(nil), w.sorted...) }

// Warnings returns the problems found while loading that did not stop it.
func (w *Workspace) Warnings() []Warning { return append([]Warning(nil), w.warnings...) }

// Get returns the pipeline that builds table id.
func (w *Workspace) Get(id rat.TableID) (*Pipeline, error) {
	if p, ok := w.pipelines[id]; ok {
		return p, nil
	}
	return nil, rat.Errorf(rat.ENOTFOUND, "no pipeline builds %s%s: add pipelines/%s/%s.sql, or see rat lineage for the pipelines there are", id, didYouMean(id.String(), w.names()), id.Layer, id.Name)
}

// Resolve returns the pipeline that name designates: layer.name, an @name
// alias, or layer_name.
func (w *Workspace) Resolve(name string) (*Pipeline, error) {
	if id, ok := w.lookup(name); ok {
		if p, ok := w.pipelines[id]; ok {
			return p, nil
		}
	}
	return nil, rat.Errorf(rat.ENOTFOUND, "no pipeline %q%s: use layer.name, for example silver.sales", name, didYouMean(strings.ToLower(name), w.names()))
}

// Upstream returns the pipelines p's SQL refs directly, sorted.
func (w *Workspace) Upstream(id rat.TableID) []*Pipeline {
	return append([]*Pipeline(nil), w.up[id]...)
}

// Downstream returns the pipelines whose SQL refs id directly, sorted.
func (w *Workspace) Downstream(id rat.TableID) []*Pipeline {
	return append([]*Pipeline(nil), w.down[id]...)
}

// Order returns every pipeline in a deterministic topological order: each
// after the pipelines it refs; ties by table name.
func (w *Workspace) Order() ([]*Pipeline, error) {
	if w.order == nil && len(w.sorted) > 0 {
		return nil, rat.Errorf(rat.EINTERNAL, "workspace %s has no order: it was not loaded with Load", w.Dir)
	}
	return append([]*Pipeline(nil), w.order...), nil
}

// names lists pipeline ids and aliases, for suggestions.
func (w *Workspace) names() []string {
	var out []string
	for _, p := range w.sorted {
		out = append(out, p.ID.String())
	}
	for a := range w.aliases {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// exists reports whether a pipeline or the catalog provides id.
func (w *Workspace) exists(id rat.TableID) bool {
	if _, ok := w.pipelines[id]; ok {
		return true
	}
	return w.known != nil && w.known(id)
}

// lookup resolves a table name: layer.name (a pipeline or a catalog table),
// an @name alias, or layer_name.
func (w *Workspace) lookup(name string) (rat.TableID, bool) {
	s := strings.ToLower(strings.TrimSpace(name))
	if strings.Contains(s, ".") {
		if id, err := rat.ParseTableID(s); err == nil && w.exists(id) {
			return id, true
		}
	}
	if id, ok := w.aliases[s]; ok {
		return id, true
	}
	if !strings.Contains(s, ".") {
		if id, err := w.normalizeTable(s); err == nil && w.exists(id) {
			return id, true
		}
	}
	return rat.TableID{}, false
}

// resolveRef resolves the argument of ref().
func (w *Workspace) resolveRef(name string) (rat.TableID, error) {
	if id, ok := w.lookup(name); ok {
		return id, nil
	}
	return rat.TableID{}, rat.Errorf(rat.ENOTFOUND, "unknown ref('%s')%s: no pipeline builds it and the catalog has no such table: fix the name, or add the pipeline (pipelines/<layer>/<name>.sql), or load the table first (rat ingest)",
		name, didYouMean(strings.ToLower(name), w.names()))
}

// warn records a warning.
func (l *loader) warn(file string, line int, format string, args ...any) {
	l.ws.warnings = append(l.ws.warnings, Warning{File: file, Line: line, Message: fmt.Sprintf(format, args...)})
}
