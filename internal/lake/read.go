package lake

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
)

// At selects a past state of tables: a snapshot id or a point in time.
// The zero value means "current".
type At struct {
	SnapshotID int64
	Time       time.Time
}

// IsZero reports whether at selects the current state.
func (a At) IsZero() bool { return a.SnapshotID == 0 && a.Time.IsZero() }

// ParseAt reads a snapshot id (digits) or a time: RFC 3339, "2006-01-02
// 15:04:05" or "2006-01-02" (UTC unless an offset is given).
func ParseAt(s string) (At, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return At{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return At{SnapshotID: n}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return At{Time: t}, nil
		}
	}
	return At{}, rat.Errorf(rat.EINVALID, "--at %q: want a snapshot id (see 'rat describe TABLE') or a time like 2024-05-01T12:00:00Z", s)
}

// Resolved is a table pinned to one snapshot.
type Resolved struct {
	ID       rat.TableID
	Table    *table.Table
	Snapshot *table.Snapshot // nil for a table without data
	Schema   *iceberg.Schema
	Files    []DataFile
}

// Load returns a table at the head of a ref.
func (l *Lake) Load(ctx context.Context, ref string, id rat.TableID) (*table.Table, error) {
	e, err := l.store.Table(ctx, ref, id)
	if err != nil {
		if rat.IsCode(err, rat.ENOTFOUND) {
			return nil, l.notFound(ctx, ref, id)
		}
		return nil, err
	}
	if IsView(e.Metadata) {
		return nil, rat.Errorf(rat.EINVALID, "%s is a view, not a table", id)
	}
	return l.Catalog(ref).Open(ctx, id, e.Metadata)
}

func (l *Lake) notFound(ctx context.Context, ref string, id rat.TableID) error {
	if _, err := l.store.Ref(ctx, ref); err != nil {
		return err
	}
	hint := "list tables with 'rat tables'"
	if entries, err := l.store.Tables(ctx, ref); err == nil {
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Table.String()
		}
		if best := rat.Closest(id.String(), names); best != "" {
			hint = fmt.Sprintf("did you mean %s?", best)
		}
	}
	return rat.Errorf(rat.ENOTFOUND, "table %s not found on branch %s: %s", id, ref, hint)
}

// Resolve pins a table of a ref to the snapshot that at selects.
func (l *Lake) Resolve(ctx context.Context, ref string, id rat.TableID, at At) (Resolved, error) {
	tbl, err := l.Load(ctx, ref, id)
	if err != nil {
		return Resolved{}, err
	}
	meta := tbl.Metadata()
	snap := meta.CurrentSnapshot()
	switch {
	case at.SnapshotID != 0:
		snap = meta.SnapshotByID(at.SnapshotID)
		if snap == nil {
			if oldest := oldestKept(meta); oldest != nil {
				return Resolved{}, rat.Errorf(rat.ENOTFOUND, "snapshot %d is not a snapshot of %s: snapshots before %s were expired (rat maintain expire); list the ones left with 'rat describe %s'",
					at.SnapshotID, id, time.UnixMilli(oldest.TimestampMs).UTC().Format(time.RFC3339), id)
			}
			return Resolved{}, rat.Errorf(rat.ENOTFOUND, "snapshot %d is not a snapshot of %s: list them with 'rat describe %s'", at.SnapshotID, id, id)
		}
	case !at.Time.IsZero():
		snap = snapshotAsOf(meta, at.Time)
		if snap == nil && len(meta.Snapshots()) > 0 {
			if oldest := oldestKept(meta); oldest != nil {
				return Resolved{}, rat.Errorf(rat.ENOTFOUND, "%s has no snapshot at or before %s: its snapshots before %s were expired (rat maintain expire)",
					id, at.Time.UTC().Format(time.RFC3339), time.UnixMilli(oldest.TimestampMs).UTC().Format(time.RFC3339))
			}
			first := meta.Snapshots()[0]
			return Resolved{}, rat.Errorf(rat.ENOTFOUND, "%s has no snapshot at or before %s (its first is at %s)",
				id, at.Time.UTC().Format(time.RFC3339), time.UnixMilli(first.TimestampMs).UTC().Format(time.RFC3339))
		}
	}
	schema := meta.CurrentSchema()
	if snap != nil && snap.SchemaID != nil && !at.IsZero() {
		for _, s := range meta.Schemas() {
			if s.ID == *snap.SchemaID {
				schema = s
			}
		}
	}
	files, err := l.Files(ctx, tbl, snap)
	if err != nil {
		return Resolved{}, err
	}
	return Resolved{ID: id, Table: tbl, Snapshot: snap, Schema: schema, Files: files}, nil
}

// snapshotAsOf returns the newest snapshot of the current lineage committed
// at or before t.
func snapshotAsOf(meta table.Metadata, t time.Time) *table.Snapshot {
	ms := t.UnixMilli()
	for s := meta.CurrentSnapshot(); s != nil; {
		if s.TimestampMs <= ms {
			return s
		}
		if s.ParentSnapshotID == nil {
			return nil
		}
		s = meta.SnapshotByID(*s.ParentSnapshotID)
	}
	return nil
}

// oldestKept returns the oldest snapshot of the current lineage when the
// lineage was cut by expiry (its parent is gone), else nil.
func oldestKept(meta table.Metadata) *table.Snapshot {
	for s := meta.CurrentSnapshot(); s != nil; {
		if s.ParentSnapshotID == nil {
			return nil
		}
		p := meta.SnapshotByID(*s.ParentSnapshotID)
		if p == nil {
			return s
		}
		s = p
	}
	return nil
}

// systemSchemas are DuckDB's own; names in them never resolve to rat tables.
var systemSchemas = map[string]bool{"information_schema": true, "pg_catalog": true, "main": true, "temp": true, "system": true}

// Query runs one read-only SELECT against the tables of a ref, each pinned
// to the snapshot that at selects, and hands the rows to fn.
func (l *Lake) Query(ctx context.Context, ref string, at At, query string, fn func(*sql.Rows) error) error {
	return l.WithTables(ctx, ref, at, query, func(conn *sql.Conn, query string) error {
		rows, err := conn.QueryContext(ctx, query)
		if err != nil {
			return duckdb.UserError("query", err)
		}
		defer rows.Close()
		if err := fn(rows); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return duckdb.UserError("query", err)
		}
		return nil
	})
}

// WithTables runs fn on a DuckDB connection where the query can read every
// table it names, each pinned to the snapshot at selects. fn gets the query
// to run: where possible the table references are replaced by the reads of
// their files, so DuckDB plans it exactly like a hand-written read_parquet
// query; otherwise views named layer.name make the tables visible.
func (l *Lake) WithTables(ctx context.Context, ref string, at At, query string, fn func(conn *sql.Conn, query string) error) error {
	st, err := l.db.Parse(ctx, query)
	if err != nil {
		return err
	}
	views, err := l.views(ctx, ref, at, st.Tables)
	if err != nil {
		return err
	}
	from := make(map[string]string, len(views))
	for _, v := range views {
		from[v.Schema+"."+v.Name] = v.From
	}
	if inlined, ok := st.Inline(from); ok {
		return l.db.WithViews(ctx, nil, func(conn *sql.Conn) error { return fn(conn, inlined) })
	}
	return l.db.WithViews(ctx, views, func(conn *sql.Conn) error { return fn(conn, query) })
}

// Plan resolves the tables a query reads to DuckDB views over their files.
func (l *Lake) Plan(ctx context.Context, ref string, at At, query string) ([]duckdb.View, error) {
	names, err := l.db.Referenced(ctx, query)
	if err != nil {
		return nil, err
	}
	return l.views(ctx, ref, at, names)
}

// views resolves tables ("layer.name") to views over their files.
func (l *Lake) views(ctx context.Context, ref string, at At, names []string) ([]duckdb.View, error) {
	return l.viewsDepth(ctx, ref, at, names, 0)
}

func (l *Lake) viewsDepth(ctx context.Context, ref string, at At, names []string, depth int) ([]duckdb.View, error) {
	var views []duckdb.View
	for _, name := range names {
		schema, _, _ := strings.Cut(name, ".")
		if systemSchemas[schema] {
			continue
		}
		id, err := rat.ParseTableID(name)
		if err != nil {
			return nil, err
		}
		if e, err := l.store.Table(ctx, ref, id); err == nil && IsView(e.Metadata) {
			from, err := l.expandView(ctx, ref, at, id, e.Metadata, depth)
			if err != nil {
				return nil, err
			}
			views = append(views, duckdb.View{Schema: id.Layer, Name: id.Name, From: from})
			continue
		}
		r, err := l.Resolve(ctx, ref, id, at)
		if err != nil {
			return nil, err
		}
		paths, err := l.LocalPaths(ctx, r.Files)
		if err != nil {
			return nil, err
		}
		from, err := readFiles(r.Table.Metadata(), paths, r.Schema, false)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", id, err)
		}
		views = append(views, duckdb.View{Schema: id.Layer, Name: id.Name, From: from})
	}
	return views, nil
}
