package orchestrator

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/riverqueue/river"
)

// execLog is a tx that records the statements it is given.
type execLog struct {
	queries []string
	args    [][]any
}

func (e *execLog) exec(_ context.Context, query string, args ...any) (int64, error) {
	e.queries = append(e.queries, query)
	e.args = append(e.args, args)
	return 0, nil
}

func (e *execLog) query(context.Context, string, []any, func(func(...any) error) error) error {
	return nil
}
func (e *execLog) insert(context.Context, []river.InsertManyParams) error { return nil }
func (e *execLog) notifyDone(context.Context, string) error               { return nil }

// TestInsertRows: rows go in statements of at most 500 rows, each with the
// placeholders of its rows and their values in order; none is lost.
func TestInsertRows(t *testing.T) {
	var args []any
	for i := range 1201 {
		args = append(args, i, "x")
	}
	var e execLog
	if err := insertRows(context.Background(), &e, "INSERT INTO t (a, b) VALUES ", 2, args); err != nil {
		t.Fatal(err)
	}
	if len(e.queries) != 3 {
		t.Fatalf("%d statements, want 3", len(e.queries))
	}
	var all []any
	for i, q := range e.queries {
		rows := strings.Count(q, "(?,?)")
		if rows != len(e.args[i])/2 || rows > 500 {
			t.Fatalf("statement %d: %d rows of placeholders for %d values", i, rows, len(e.args[i]))
		}
		all = append(all, e.args[i]...)
	}
	if !slices.Equal(all, args) {
		t.Fatal("the values of the statements are not the rows given, in order")
	}
	e = execLog{}
	if err := insertRows(context.Background(), &e, "INSERT INTO t (a, b) VALUES ", 2, nil); err != nil || len(e.queries) != 0 {
		t.Fatalf("no rows: %d statements, %v", len(e.queries), err)
	}
}
