package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/objstore"
)

// A migration limited to one ref (rat export --ref) copies the files that
// ref's history needs and verifies that ref only; the caller then prunes
// the copied catalog to it (sqlstore.PruneToRef).

// RefFiles returns the keys of the warehouse files the history of ref
// needs: for every commit reachable from its head, the metadata file of
// every table and view there, and for every snapshot of those tables its
// manifest list, manifests and data and delete files; and the warehouse's
// list of roots. Time travel (--at) and queries at older commits of ref
// read nothing else.
func RefFiles(ctx context.Context, store catalog.Store, warehouse objstore.Store, ref string) (map[string]bool, error) {
	r, err := store.Ref(ctx, ref)
	if err != nil {
		return nil, err
	}
	commits, err := store.Log(ctx, r.Head, 0)
	if err != nil {
		return nil, err
	}
	loc := objstore.NewLocations(warehouse)
	fsys := objstore.IcebergIO(loc)
	keys := map[string]bool{objstore.RootsKey: true}
	key := func(location string) (string, error) {
		k, ok := loc.Key(loc.Resolve(location))
		if !ok {
			return "", rat.Errorf(rat.EINVALID, "%s is outside the warehouse %s: it cannot be exported", location, root(warehouse))
		}
		return k, nil
	}
	seen := map[string]bool{}
	for _, c := range commits {
		entries, err := store.TablesAt(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Metadata == "" || seen[e.Metadata] {
				continue
			}
			seen[e.Metadata] = true
			k, err := key(e.Metadata)
			if err != nil {
				return nil, err
			}
			keys[k] = true
			if lake.IsView(e.Metadata) {
				continue
			}
			err = snapshotFiles(ctx, e, loc.Resolve(e.Metadata), fsys, key, keys)
			if c.ID != r.Head && errors.Is(err, fs.ErrNotExist) {
				continue // metadata of a commit older than what rat maintain expire kept
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return keys, nil
}

// snapshotFiles adds the files of every snapshot of the table whose
// metadata is at location. A snapshot other than the current one whose
// manifest list is gone was expired (rat maintain expire): it has nothing
// to copy.
func snapshotFiles(ctx context.Context, e rat.TableEntry, location string, fsys icebergio.IO, key func(string) (string, error), keys map[string]bool) error {
	tbl, err := table.NewFromLocation(ctx, table.Identifier{e.Table.Layer, e.Table.Name}, location, func(context.Context) (icebergio.IO, error) { return fsys, nil }, nil)
	if err != nil {
		return fmt.Errorf("read %s (%s): %w", e.Table, location, err)
	}
	add := func(location string) error {
		k, err := key(location)
		if err == nil {
			keys[k] = true
		}
		return err
	}
	for _, snap := range tbl.Metadata().Snapshots() {
		if k, err := key(snap.ManifestList); err != nil {
			return err
		} else if keys[k] {
			continue // an older metadata file of the table listed it
		} else {
			keys[k] = true
		}
		manifests, err := snap.Manifests(fsys)
		if cur := tbl.Metadata().CurrentSnapshot(); err != nil && errors.Is(err, fs.ErrNotExist) && cur != nil && cur.SnapshotID != snap.SnapshotID {
			continue
		}
		if err != nil {
			return fmt.Errorf("read the manifest list of %s: %w", e.Table, err)
		}
		for _, m := range manifests {
			if err := add(m.FilePath()); err != nil {
				return err
			}
			entries, err := m.FetchEntries(fsys, true)
			if err != nil {
				return fmt.Errorf("read manifest %s: %w", m.FilePath(), err)
			}
			for _, en := range entries {
				if err := add(en.DataFile().FilePath()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// refOnly keeps the files of the source's listing that opts.Ref needs.
func refOnly(ctx context.Context, opts Options, files []objstore.Info) ([]objstore.Info, int64, error) {
	if opts.Source.Lake == nil {
		return nil, 0, rat.Errorf(rat.EINVALID, "a migration of one ref needs the source's catalog")
	}
	keys, err := RefFiles(ctx, opts.Source.Lake.Store(), opts.Source.Warehouse, opts.Ref)
	if err != nil {
		return nil, 0, err
	}
	var out []objstore.Info
	var total int64
	for _, f := range files {
		if keys[f.Key] {
			out = append(out, f)
			total += f.Size
		}
	}
	// A file named but missing (of a snapshot expired at the source) is
	// missing at the source too; the verification reads the ref's head.
	return out, total, nil
}
