package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/objstore"
)

// An export (rat export DIR) is a migration to a directory: DIR/catalog.db
// (a SQLite catalog with the whole history), DIR/warehouse (every file,
// Iceberg locations rewritten to that root) and DIR/rat-export.json, the
// manifest written last: what was exported, and the size and SHA-256 of
// every warehouse file, so that rat import can tell a damaged export from
// a good one before it copies anything.

// Names inside an export directory.
const (
	ExportCatalog   = "catalog.db"
	ExportWarehouse = "warehouse"
	ExportManifest  = "rat-export.json"
)

// ExportFormat is the version of an export's layout and manifest this rat
// writes and reads.
const ExportFormat = 1

// maxManifestBytes caps what is read of a manifest (about 150 bytes a file).
const maxManifestBytes = 1 << 30

// Manifest is what ExportManifest holds.
type Manifest struct {
	Format     int       `json:"format"`
	RatVersion string    `json:"rat_version"`
	Created    time.Time `json:"created"`
	// Source names the exported catalog (without a password) and warehouse.
	Source struct {
		Catalog   string `json:"catalog"`
		Warehouse string `json:"warehouse"`
	} `json:"source"`
	// Ref names the one branch or tag an export of rat export --ref holds
	// (with its history); empty for a whole export.
	Ref     string         `json:"ref,omitempty"`
	Refs    []ExportedRef  `json:"refs"`
	Tables  int            `json:"tables"` // distinct tables and views over all refs
	Commits int64          `json:"commits"`
	Files   int64          `json:"files"`
	Bytes   int64          `json:"bytes"`
	Sums    []ExportedFile `json:"checksums"`
}

// ExportedRef is a branch or tag of an export.
type ExportedRef struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	Head string `json:"head"`
}

// ExportedFile is one warehouse file of an export.
type ExportedFile struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// CheckExportDir refuses dir as the directory of a new export unless it is
// missing, empty or holds only what an export writes there (a partial or
// finished export, which rat migrate's own checks then resume or refuse).
func CheckExportDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return rat.Errorf(rat.EINVALID, "export to %s: %s", dir, err)
	}
	for _, e := range entries {
		n := e.Name()
		if n == ExportWarehouse || n == ExportManifest || n == ExportManifest+".tmp" || strings.HasPrefix(n, ExportCatalog) {
			continue
		}
		return rat.Errorf(rat.ECONFLICT, "export to %s: the directory is not empty (it holds %s) and is not an export: give a new or empty directory",
			dir, n)
	}
	return nil
}

// NewManifest describes a finished, verified export: its refs and tables
// from the report, its files (size and SHA-256 as the files phase recorded
// them, read from wh, the export's warehouse, for a file changed since).
func NewManifest(ctx context.Context, rep *Report, wh objstore.Store) (*Manifest, error) {
	m := &Manifest{Format: ExportFormat, Created: time.Now().UTC(), Sums: []ExportedFile{}}
	tables := map[string]bool{}
	for _, r := range rep.Refs {
		m.Refs = append(m.Refs, ExportedRef{Name: r.Ref, Kind: r.Kind, Head: r.Head})
		for _, t := range r.Tables {
			tables[t.Table] = true
		}
	}
	m.Tables = len(tables)
	if rep.Catalog != nil {
		m.Commits = rep.Catalog.Commits
	}
	files, total, err := sourceFiles(ctx, wh)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 1<<20)
	for _, f := range files {
		if rec, ok := rep.Sums[f.Key]; ok && rec.Size == f.Size && rec.Target == version(f) {
			m.Sums = append(m.Sums, ExportedFile{Key: f.Key, Size: rec.Size, SHA256: rec.SHA256})
			continue
		}
		sum, n, err := checksum(ctx, wh, f.Key, buf)
		if err != nil {
			return nil, err
		}
		m.Sums = append(m.Sums, ExportedFile{Key: f.Key, Size: n, SHA256: sum})
	}
	m.Files, m.Bytes = int64(len(files)), total
	return m, nil
}

// Write writes the manifest into dir (through a temporary file, so that a
// manifest is whole or absent).
func (m *Manifest) Write(dir string) error {
	data, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ExportManifest+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the export's manifest: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, ExportManifest))
}

// ReadManifest reads the manifest of the export in dir and checks that this
// rat can import it: its format, and the catalog file it names.
func ReadManifest(dir string) (*Manifest, error) {
	f, err := os.Open(filepath.Join(dir, ExportManifest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, rat.Errorf(rat.EINVALID, "%s holds no %s: it is not a rat export, or an export that did not finish (run rat export again)",
			dir, ExportManifest)
	}
	if err != nil {
		return nil, rat.Errorf(rat.EINVALID, "read the export %s: %s", dir, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, rat.Errorf(rat.EINVALID, "read %s: %s", f.Name(), err)
	}
	var m Manifest
	if len(data) > maxManifestBytes {
		return nil, rat.Errorf(rat.EINVALID, "%s is larger than %d bytes: not a rat export manifest", f.Name(), maxManifestBytes)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, rat.Errorf(rat.EINVALID, "%s is damaged (%s): the export cannot be trusted; export again", f.Name(), err)
	}
	if m.Format != ExportFormat {
		return nil, rat.Errorf(rat.EINVALID, "%s is an export of format %d (written by rat %s); this rat reads format %d: import it with a rat of that version",
			dir, m.Format, m.RatVersion, ExportFormat)
	}
	if st, err := os.Stat(filepath.Join(dir, ExportCatalog)); err != nil || !st.Mode().IsRegular() {
		return nil, rat.Errorf(rat.EINVALID, "the export %s is damaged: %s is missing", dir, ExportCatalog)
	}
	return &m, nil
}

// Check compares every file the manifest lists with the export's
// warehouse wh: each must be there with its size (listed, not read; its
// SHA-256 is checked as the import copies it: Expect). The error names
// the damaged files.
func (m *Manifest) Check(ctx context.Context, wh objstore.Store) error {
	infos, err := wh.List(ctx, "")
	if err != nil {
		return err
	}
	sizes := make(map[string]int64, len(infos))
	for _, i := range infos {
		sizes[i.Key] = i.Size
	}
	var bad []string
	for _, f := range m.Sums {
		n, ok := sizes[f.Key]
		switch {
		case !ok:
			bad = append(bad, ExportWarehouse+"/"+f.Key+" is missing")
		case n != f.Size:
			bad = append(bad, fmt.Sprintf("%s/%s has %d bytes, the export wrote %d", ExportWarehouse, f.Key, n, f.Size))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	more := ""
	if len(bad) > 5 {
		more = fmt.Sprintf(" (and %d more)", len(bad)-5)
		bad = bad[:5]
	}
	return rat.Errorf(rat.EINVALID, "the export is damaged: %s%s: nothing was imported; restore it from another copy or export again",
		strings.Join(bad, "; "), more)
}

// Expect is what the manifest's files must hold, by key: Options.Expect
// of an import.
func (m *Manifest) Expect() map[string]string {
	out := make(map[string]string, len(m.Sums))
	for _, f := range m.Sums {
		out[f.Key] = f.SHA256
	}
	return out
}

// damaged is the error for a source file whose SHA-256 is not the one
// expected (an import's export, damaged after it was written).
func damaged(key, got, want string) error {
	return rat.Errorf(rat.EINVALID, "the export is damaged: %s/%s has SHA-256 %s, the export wrote %s: that file was not copied; restore the export from another copy or export again",
		ExportWarehouse, key, got, want)
}
