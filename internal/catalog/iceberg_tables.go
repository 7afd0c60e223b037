package catalog

// Table listing, drop, rename, layers as namespaces, and the metadata cache.

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
)

// ListTables implements icecat.Catalog; an empty namespace lists every table.
func (c *Iceberg) ListTables(ctx context.Context, namespace table.Identifier) iter.Seq2[table.Identifier, error] {
	return func(yield func(table.Identifier, error) bool) {
		entries, err := c.store.Tables(ctx, c.ref)
		if err != nil {
			yield(nil, err)
			return
		}
		for _, e := range entries {
			if len(namespace) > 0 && (len(namespace) != 1 || namespace[0] != e.Table.Layer) {
				continue
			}
			if !yield(Identifier(e.Table), nil) {
				return
			}
		}
	}
}

// DropTable implements icecat.Catalog. Files stay: other branches and
// history may still read them.
func (c *Iceberg) DropTable(ctx context.Context, ident table.Identifier) error {
	id, err := TableID(ident)
	if err != nil {
		return err
	}
	if err := c.writable(id); err != nil {
		return err
	}
	e, err := c.store.Table(ctx, c.ref, id)
	if rat.IsCode(err, rat.ENOTFOUND) {
		return fmt.Errorf("%w: %w", icecat.ErrNoSuchTable, err)
	}
	if err != nil {
		return err
	}
	_, err = c.store.Commit(ctx, CommitRequest{
		Branch: c.ref, Author: c.author, Message: c.msg("drop table " + id.String()),
		Changes: []Change{{Table: id, Expected: e.Metadata}},
	})
	return err
}

// RenameTable implements icecat.Catalog as one atomic commit.
func (c *Iceberg) RenameTable(ctx context.Context, from, to table.Identifier) (*table.Table, error) {
	fromID, err := TableID(from)
	if err != nil {
		return nil, err
	}
	toID, err := TableID(to)
	if err != nil {
		return nil, err
	}
	for _, id := range []rat.TableID{fromID, toID} {
		if err := c.writable(id); err != nil {
			return nil, err
		}
	}
	e, err := c.store.Table(ctx, c.ref, fromID)
	if rat.IsCode(err, rat.ENOTFOUND) {
		return nil, fmt.Errorf("%w: %w", icecat.ErrNoSuchTable, err)
	}
	if err != nil {
		return nil, err
	}
	_, err = c.store.Commit(ctx, CommitRequest{
		Branch: c.ref, Author: c.author, Message: c.msg(fmt.Sprintf("rename table %s to %s", fromID, toID)),
		Changes: []Change{{Table: fromID, Expected: e.Metadata}, {Table: toID, Metadata: e.Metadata}},
	})
	if rat.IsCode(err, rat.ECONFLICT) {
		return nil, fmt.Errorf("%w: %w", icecat.ErrTableAlreadyExists, err)
	}
	if err != nil {
		return nil, err
	}
	return c.LoadTable(ctx, to)
}

// CheckTableExists implements icecat.Catalog.
func (c *Iceberg) CheckTableExists(ctx context.Context, ident table.Identifier) (bool, error) {
	id, err := TableID(ident)
	if err != nil {
		return false, err
	}
	_, err = c.store.Table(ctx, c.ref, id)
	if rat.IsCode(err, rat.ENOTFOUND) {
		return false, nil
	}
	return err == nil, err
}

// Namespaces are layers; a layer exists while it holds a table.

// ListNamespaces implements icecat.Catalog.
func (c *Iceberg) ListNamespaces(ctx context.Context, parent table.Identifier) ([]table.Identifier, error) {
	if len(parent) > 0 {
		return nil, nil
	}
	entries, err := c.store.Tables(ctx, c.ref)
	if err != nil {
		return nil, err
	}
	var out []table.Identifier
	seen := map[string]bool{}
	for _, e := range entries {
		if !seen[e.Table.Layer] {
			seen[e.Table.Layer] = true
			out = append(out, table.Identifier{e.Table.Layer})
		}
	}
	return out, nil
}

// CreateNamespace implements icecat.Catalog; layers need no creation.
func (c *Iceberg) CreateNamespace(ctx context.Context, namespace table.Identifier, _ iceberg.Properties) error {
	ok, err := c.CheckNamespaceExists(ctx, namespace)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("%w: %v", icecat.ErrNamespaceAlreadyExists, namespace)
	}
	return nil
}

// DropNamespace implements icecat.Catalog.
func (c *Iceberg) DropNamespace(ctx context.Context, namespace table.Identifier) error {
	ok, err := c.CheckNamespaceExists(ctx, namespace)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("%w: %v", icecat.ErrNamespaceNotEmpty, namespace)
	}
	return fmt.Errorf("%w: %v", icecat.ErrNoSuchNamespace, namespace)
}

// CheckNamespaceExists implements icecat.Catalog.
func (c *Iceberg) CheckNamespaceExists(ctx context.Context, namespace table.Identifier) (bool, error) {
	if len(namespace) != 1 {
		return false, nil
	}
	for ident, err := range c.ListTables(ctx, namespace) {
		if err != nil {
			return false, err
		}
		if ident != nil {
			return true, nil
		}
	}
	return false, nil
}

// LoadNamespaceProperties implements icecat.Catalog; layers have none.
func (c *Iceberg) LoadNamespaceProperties(ctx context.Context, namespace table.Identifier) (iceberg.Properties, error) {
	ok, err := c.CheckNamespaceExists(ctx, namespace)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %v", icecat.ErrNoSuchNamespace, namespace)
	}
	return iceberg.Properties{}, nil
}

// UpdateNamespaceProperties implements icecat.Catalog; layers have no properties.
func (c *Iceberg) UpdateNamespaceProperties(context.Context, table.Identifier, []string, iceberg.Properties) (icecat.PropertiesUpdateSummary, error) {
	return icecat.PropertiesUpdateSummary{}, errors.New("rat layers have no properties")
}

// metadataCache keeps parsed metadata files; they never change.
type metadataCache struct {
	mu    sync.Mutex
	items map[string]table.Metadata
	order []string
	max   int
}

func newMetadataCache(max int) *metadataCache {
	return &metadataCache{items: map[string]table.Metadata{}, max: max}
}

func (m *metadataCache) get(loc string) (table.Metadata, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.items[loc]
	return v, ok
}

func (m *metadataCache) put(loc string, meta table.Metadata) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.items[loc]; ok {
		return
	}
	m.items[loc] = meta
	m.order = append(m.order, loc)
	if len(m.order) > m.max {
		delete(m.items, m.order[0])
		m.order = m.order[1:]
	}
}
