package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

// IsView reports whether a catalog entry's location is a view definition.
func IsView(location string) bool { return catalog.IsView(location) }

// viewFile is a stored view: SQL that reads other tables by layer.name.
type viewFile struct {
	SQL     string   `json:"sql"`
	Columns []string `json:"columns,omitempty"`
}

// CreateView stores a view: a SELECT resolved at query time against the
// tables of whatever branch and snapshot the query reads, never a copy.
// It replaces an existing view or table of that name in one commit.
// rat's own tables (layer _rat) are never views.
func (l *Lake) CreateView(ctx context.Context, ref string, id rat.TableID, query, message string) error {
	if id.Internal() {
		return rat.InternalTableError(id)
	}
	st, err := l.db.Parse(ctx, query)
	if err != nil {
		return fmt.Errorf("view %s: %w", id, err)
	}
	for _, t := range st.Tables {
		if t == id.String() {
			return rat.Errorf(rat.EINVALID, "view %s reads itself", id)
		}
	}
	// Check that it plans now: a broken view should fail at creation.
	if _, err := l.viewsDepth(ctx, ref, At{}, st.Tables, 1); err != nil {
		return fmt.Errorf("view %s: %w", id, err)
	}
	data, err := json.Marshal(viewFile{SQL: query})
	if err != nil {
		return err
	}
	key := id.Layer + "/" + id.Name + "/views/" + newID() + catalog.ViewSuffix
	loc := l.objects.URL(key)
	if err := l.objects.Put(ctx, key, strings.NewReader(string(data)), int64(len(data))); err != nil {
		return fmt.Errorf("write view %s: %w", id, err)
	}
	expected := ""
	if e, err := l.store.Table(ctx, ref, id); err == nil {
		expected = e.Metadata
	} else if !rat.IsCode(err, rat.ENOTFOUND) {
		return err
	}
	if message == "" {
		message = "create view " + id.String()
	}
	_, err = l.store.Commit(ctx, catalog.CommitRequest{
		Branch: ref, Author: l.author, Message: message,
		Changes: []catalog.Change{{Table: id, Expected: expected, Metadata: l.objects.Stored(loc)}},
	})
	return err
}

// ViewSQL reads a stored view's SQL.
func (l *Lake) ViewSQL(ctx context.Context, location string) (string, error) {
	location = l.objects.Resolve(location)
	l.objects.LearnFile(location)
	key, ok := l.objects.Key(location)
	if !ok {
		return "", rat.Errorf(rat.EINVALID, "view %s lies outside the warehouse", location)
	}
	f, err := l.objects.Open(ctx, key)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return "", err
	}
	var v viewFile
	if err := json.Unmarshal(data, &v); err != nil {
		return "", fmt.Errorf("parse view %s: %w", location, err)
	}
	return v.SQL, nil
}

// expandView turns a view into a subquery over the current snapshots (or
// those at selects) of the tables it reads.
func (l *Lake) expandView(ctx context.Context, ref string, at At, id rat.TableID, location string, depth int) (string, error) {
	if depth > 16 {
		return "", rat.Errorf(rat.EINVALID, "view %s: views nest more than 16 deep (a cycle?)", id)
	}
	query, err := l.ViewSQL(ctx, location)
	if err != nil {
		return "", err
	}
	st, err := l.db.Parse(ctx, query)
	if err != nil {
		return "", fmt.Errorf("view %s: %w", id, err)
	}
	inner, err := l.viewsDepth(ctx, ref, at, st.Tables, depth+1)
	if err != nil {
		return "", fmt.Errorf("view %s: %w", id, err)
	}
	from := make(map[string]string, len(inner))
	for _, v := range inner {
		from[v.Schema+"."+v.Name] = v.From
	}
	inlined, ok := st.Inline(from)
	if !ok {
		return "", rat.Errorf(rat.EINVALID, "view %s: write its table references as plain layer.name (no column aliases on tables, no layer.name.column)", id)
	}
	return "(" + inlined + ")", nil
}
