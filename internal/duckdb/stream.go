package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Watching a query's rows. The Go driver executes a query to a
// materialized result before its first row can be read, then copies each
// chunk of it (up to 2,048 rows) out of that result again as it is read:
// an answer of rows of 1 MB is in memory two or three times over. A
// watched query instead passes its rows, in order, through a Go scalar
// function (watchFunction) while DuckDB produces them: Go sees each row
// once, DuckDB keeps only the rows the function lets through, and an
// error of the function stops DuckDB reading.
//
// Order: the rows go through a LIMIT no query reaches. DuckDB runs the
// rows of a LIMIT one thread at a time in the query's order, union
// branches one after the other (a LIMIT must keep the first rows), so
// the function above it sees them in that order. A window function
// would not do: over more than one source (UNION ALL) DuckDB computes
// it by materializing every row, and hands them on in parallel.

// ErrStop is what a watching function returns to end the query early:
// DuckDB stops reading, and Watch.Err reports no error.
var ErrStop = errors.New("rat: enough rows")

// watchFunction is the name of the scalar function rows pass through.
const watchFunction = "__rat_watch_row"

// noLimit is a row limit no query reaches.
const noLimit = "4611686018427387904"

// watchKey marks the context of a watched query with its watch.
type watchKey struct{}

// Watch is one query whose rows pass through a Go function.
type Watch struct {
	// SQL is the query watched: its rows, in its order, those the
	// function keeps.
	SQL string
	// Ctx is the context to run SQL with: the function reaches the
	// watch through it.
	Ctx context.Context
	st  *watch
}

// Watch wraps query (one SELECT) for conn's database: row gets each row's
// values, in the query's order, as DuckDB produces them (as database/sql
// scans them into any), and says whether the row stays in the result.
// vals is reused: row must not keep it. An error of row stops the query.
// row runs on DuckDB's threads while the query runs, one call at a time.
func (d *DB) Watch(ctx context.Context, conn *sql.Conn, query string, row func(vals []any) (keep bool, err error)) (*Watch, error) {
	if err := d.registerWatch(conn); err != nil {
		return nil, err
	}
	st := &watch{row: row}
	return &Watch{
		SQL: fmt.Sprintf("SELECT * FROM (SELECT * FROM (%s) LIMIT %s) WHERE %s(*COLUMNS(*))", subquery(query), noLimit, watchFunction),
		Ctx: context.WithValue(ctx, watchKey{}, st),
		st:  st,
	}, nil
}

// registerWatch registers watchFunction.
func (d *DB) registerWatch(conn *sql.Conn) error {
	return d.registerUDF(conn, watchFunction, &watchFunc{})
}

// registerUDF registers a scalar function once per database: DuckDB keeps
// it in its system catalog, where every connection finds it.
func (d *DB) registerUDF(conn *sql.Conn, name string, fn duckdb.ScalarFunc) error {
	d.udfMu.Lock()
	defer d.udfMu.Unlock()
	if d.udfs[name] {
		return nil
	}
	if err := duckdb.RegisterScalarUDF(conn, name, fn); err != nil {
		return fmt.Errorf("register %s: %w", name, err)
	}
	if d.udfs == nil {
		d.udfs = map[string]bool{}
	}
	d.udfs[name] = true
	return nil
}

// Err is what ended the watched query, given the error running it
// returned: nil if the function said ErrStop, the function's own error,
// or else queryErr (DuckDB's).
func (w *Watch) Err(queryErr error) error {
	w.st.mu.Lock()
	defer w.st.mu.Unlock()
	switch {
	case errors.Is(w.st.err, ErrStop):
		return nil
	case w.st.err != nil:
		return w.st.err
	}
	return queryErr
}

// Stream runs query (one SELECT) on conn and keeps none of its rows: head
// gets the result's columns before any row, and row each row's values as
// Watch gives them. When row returns ErrStop, DuckDB stops and Stream
// returns nil; any other error of row stops it too, and Stream returns
// that error. Errors of the query are DuckDB's.
func (d *DB) Stream(ctx context.Context, conn *sql.Conn, query string, head func([]Column) error, row func(vals []any) error) error {
	cols, err := columns(ctx, conn, query)
	if err != nil {
		return err
	}
	if err := head(cols); err != nil {
		return err
	}
	w, err := d.Watch(ctx, conn, query, func(vals []any) (bool, error) { return false, row(vals) })
	if err != nil {
		return err
	}
	_, err = conn.ExecContext(w.Ctx, w.SQL)
	return w.Err(err)
}

// columns are a query's columns, read without running it.
func columns(ctx context.Context, conn *sql.Conn, query string) ([]Column, error) {
	rows, err := conn.QueryContext(ctx, "SELECT * FROM ("+subquery(query)+") LIMIT 0")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	cols := make([]Column, len(types))
	for i, t := range types {
		cols[i] = Column{Name: t.Name(), Type: t.DatabaseTypeName()}
	}
	return cols, rows.Close()
}

// subquery is a query to put in parentheses. New lines keep a trailing
// line comment of the query from swallowing the rest.
func subquery(query string) string {
	return "\n" + strings.TrimRight(strings.TrimSpace(query), "; \t\r\n") + "\n"
}

// watch is one watched query's state, reached by watchFunc through the
// query's context.
type watch struct {
	mu   sync.Mutex
	row  func([]any) (bool, error)
	vals []any
	err  error // what stopped the query
}

// pass hands one row to the function.
func (st *watch) pass(values []driver.Value) (_ any, err error) {
	if !st.mu.TryLock() {
		// Rows in parallel would be rows out of order: LIMIT prevents it.
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.err == nil {
			st.err = errors.New("rat: a watched query's rows came from two threads at once: please report this")
		}
		return nil, st.err
	}
	defer st.mu.Unlock()
	defer func() {
		// A panic must not unwind through DuckDB's C++ frames.
		if p := recover(); p != nil {
			err = fmt.Errorf("rat: watching a row: %v", p)
		}
		if err != nil && st.err == nil {
			st.err = err
		}
	}()
	if st.err != nil {
		return nil, st.err
	}
	if st.vals == nil {
		st.vals = make([]any, len(values))
	}
	for i, v := range values {
		if b, ok := v.(duckdb.Bit); ok {
			v = b.String() // as rows.Scan has it
		}
		st.vals[i] = v
	}
	return st.row(st.vals)
}

// watchFunc is watchFunction: (a row's columns...) → whether the row
// stays, from the function of the watch of the query it runs in.
type watchFunc struct{}

func (watchFunc) Config() duckdb.ScalarFuncConfig {
	anything, _ := duckdb.NewTypeInfo(duckdb.TYPE_ANY)
	boolean, _ := duckdb.NewTypeInfo(duckdb.TYPE_BOOLEAN)
	return duckdb.ScalarFuncConfig{
		VariadicTypeInfo:    anything,
		ResultTypeInfo:      boolean,
		Volatile:            true, // it has an effect: never folded, never skipped
		SpecialNullHandling: true, // NULL values are rows' values too
	}
}

func (watchFunc) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowContextExecutor: func(ctx context.Context, values []driver.Value) (any, error) {
		st, ok := ctx.Value(watchKey{}).(*watch)
		if !ok {
			return nil, fmt.Errorf("%s is rat's own function: queries cannot call it", watchFunction)
		}
		return st.pass(values)
	}}
}
