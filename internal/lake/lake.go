// Package lake performs table operations on top of iceberg-go, rat's catalog
// and DuckDB: writing query results into Iceberg tables, resolving tables to
// their data files for queries, time travel and table descriptions.
package lake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/objstore"
)

// Lake ties the catalog, the object store and DuckDB together.
type Lake struct {
	store     catalog.Store
	objects   *objstore.Locations
	cache     *objstore.Cache
	db        *duckdb.DB
	tmpDir    string
	rowGroup  int
	author    string
	io        icebergio.IO
	warehouse string

	maxWriteAge time.Duration

	mu          sync.Mutex
	catalogs    map[string]*catalog.Iceberg
	files       *fileCache
	fileListDir string
}

// Config holds the parts a Lake needs.
type Config struct {
	Store        catalog.Store
	Objects      objstore.Store  // the warehouse
	Cache        *objstore.Cache // read cache for data files
	DB           *duckdb.DB
	TmpDir       string // local staging directory for files being written
	RowGroupSize int    // Parquet row group size (the profile's chunk_size_rows)
	Author       string // commit author
	// FileListDir keeps the data file lists of snapshots across processes
	// (see filelist.go); "" keeps them in memory only.
	FileListDir string
	// MaxWriteAge bounds how long a write may take from its first file to
	// its commit: a write that took longer is refused before committing,
	// so orphan cleanup, whose grace period is twice this, never deletes
	// a file a writer is about to commit. 0 = no bound.
	MaxWriteAge time.Duration
}

// New returns a Lake.
func New(cfg Config) *Lake {
	// Every location lake and the catalog meet goes through one provider.
	objects := objstore.NewLocations(cfg.Objects)
	return &Lake{
		store: cfg.Store, objects: objects, cache: cfg.Cache, db: cfg.DB, tmpDir: cfg.TmpDir,
		rowGroup: cfg.RowGroupSize, author: cfg.Author,
		io:          objstore.IcebergIOWithCache(objects, cfg.Cache),
		warehouse:   objects.Root(),
		catalogs:    map[string]*catalog.Iceberg{},
		files:       &fileCache{m: map[string][]DataFile{}},
		fileListDir: cfg.FileListDir,
		maxWriteAge: cfg.MaxWriteAge,
	}
}

// Store returns the catalog store.
func (l *Lake) Store() catalog.Store { return l.store }

// DB returns the DuckDB database.
func (l *Lake) DB() *duckdb.DB { return l.db }

// Key maps a location the lake's metadata holds (a data file's) to its key
// in the warehouse: under the current root or a root the warehouse had
// before it moved.
func (l *Lake) Key(location string) (string, bool) { return l.objects.Key(location) }

// Cache returns the read cache.
func (l *Lake) Cache() *objstore.Cache { return l.cache }

// Catalog returns the iceberg-go catalog bound to a branch.
func (l *Lake) Catalog(ref string) *catalog.Iceberg {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.catalogs[ref]
	if !ok {
		c = catalog.NewIceberg(l.store, catalog.IcebergConfig{
			Ref: ref, Warehouse: l.warehouse, Author: l.author, Locations: l.objects,
			FS: func(context.Context) (icebergio.IO, error) { return l.io, nil },
		})
		l.catalogs[ref] = c
	}
	return c
}

// DataFile is one Parquet file of a snapshot.
type DataFile struct {
	Location string `json:"location"`
	Records  int64  `json:"rows"`
	Bytes    int64  `json:"bytes"`
	// Partition is the file's partition values by partition field id,
	// as text ("" for an unpartitioned table).
	Partition string `json:"partition,omitempty"`
}

// Files lists the data files of a snapshot (nil = empty table). Results are
// cached: a snapshot never changes.
func (l *Lake) Files(ctx context.Context, tbl *table.Table, snap *table.Snapshot) ([]DataFile, error) {
	if snap == nil {
		return nil, nil
	}
	key := tbl.Metadata().TableUUID().String() + "/" + fmt.Sprint(snap.SnapshotID)
	if files, ok := l.files.get(key); ok {
		return files, nil
	}
	if files, ok := l.readFileList(snap.ManifestList); ok {
		l.files.put(key, files)
		return files, nil
	}
	manifests, err := snap.Manifests(l.io)
	if err != nil {
		return nil, fmt.Errorf("read manifest list of %s: %w", tbl.Identifier(), err)
	}
	var files []DataFile
	for _, m := range manifests {
		if m.ManifestContent() != iceberg.ManifestContentData {
			return nil, rat.Errorf(rat.EINVALID, "table %v has delete files: rat reads copy-on-write tables only", tbl.Identifier())
		}
		entries, err := m.FetchEntries(l.io, true)
		if err != nil {
			return nil, fmt.Errorf("read manifest %s: %w", m.FilePath(), err)
		}
		for _, e := range entries {
			df := e.DataFile()
			if df.ContentType() != iceberg.EntryContentData {
				return nil, rat.Errorf(rat.EINVALID, "table %v has delete files: rat reads copy-on-write tables only", tbl.Identifier())
			}
			files = append(files, DataFile{Location: df.FilePath(), Records: df.Count(), Bytes: df.FileSizeBytes(), Partition: partitionKey(df.Partition())})
		}
	}
	l.files.put(key, files)
	l.writeFileList(snap.ManifestList, files)
	return files, nil
}

// LocalPaths makes data files readable by DuckDB: their own paths on a local
// warehouse, cached copies for a remote one.
func (l *Lake) LocalPaths(ctx context.Context, files []DataFile) ([]string, error) {
	out := make([]string, len(files))
	for i, f := range files {
		key, ok := l.objects.Key(f.Location)
		if !ok {
			return nil, rat.Errorf(rat.EINVALID, "data file %s lies outside the warehouse %s", f.Location, l.warehouse)
		}
		p, err := l.cache.Path(ctx, key)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

type fileCache struct {
	mu sync.Mutex
	m  map[string][]DataFile
}

func (c *fileCache) get(k string) ([]DataFile, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *fileCache) put(k string, v []DataFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 10_000 {
		clear(c.m)
	}
	c.m[k] = v
}

// partitionKey writes partition values in field id order: "1000=2024-03-01".
func partitionKey(p map[int]any) string {
	if len(p) == 0 {
		return ""
	}
	ids := slices.Sorted(maps.Keys(p))
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%d=%v", id, p[id])
	}
	return strings.Join(parts, "/")
}
