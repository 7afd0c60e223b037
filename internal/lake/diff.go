package lake

import (
	"context"
	"sort"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

// TableDiff is one table that differs between two refs.
type TableDiff struct {
	Table    string `json:"table"`
	Change   string `json:"change"` // added, removed or changed
	Kind     string `json:"kind"`   // table or view (a view has no row counts)
	RowsFrom int64  `json:"rows_from"`
	RowsTo   int64  `json:"rows_to"`
	Metadata string `json:"metadata,omitempty"`
}

// Diff lists the tables that differ between two branches, tags or commits.
func (l *Lake) Diff(ctx context.Context, from, to string) ([]TableDiff, error) {
	a, err := l.tablesOf(ctx, from)
	if err != nil {
		return nil, err
	}
	b, err := l.tablesOf(ctx, to)
	if err != nil {
		return nil, err
	}
	keys := map[rat.TableID]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []TableDiff
	for id := range keys {
		ma, mb := a[id], b[id]
		if ma == mb {
			continue
		}
		d := TableDiff{Table: id.String(), Change: "changed", Kind: "table", Metadata: mb}
		if IsView(ma) || IsView(mb) {
			d.Kind = "view"
		}
		switch {
		case ma == "":
			d.Change = "added"
		case mb == "":
			d.Change = "removed"
		}
		if d.RowsFrom, err = l.rows(ctx, ma); err != nil {
			return nil, err
		}
		if d.RowsTo, err = l.rows(ctx, mb); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out, nil
}

func (l *Lake) tablesOf(ctx context.Context, ref string) (map[rat.TableID]string, error) {
	head, err := catalog.ResolveRef(ctx, l.store, ref)
	if err != nil {
		return nil, err
	}
	return catalog.TableMap(ctx, l.store, head)
}

// rows reads the row count of a table's current snapshot from its summary.
func (l *Lake) rows(ctx context.Context, metadata string) (int64, error) {
	if metadata == "" || IsView(metadata) {
		return 0, nil
	}
	meta, err := l.Catalog(rat.DefaultBranch).ReadMetadata(ctx, metadata)
	if err != nil {
		return 0, err
	}
	if s := meta.CurrentSnapshot(); s != nil && s.Summary != nil {
		return summaryInt(s.Summary.Properties, "total-records"), nil
	}
	return 0, nil
}
