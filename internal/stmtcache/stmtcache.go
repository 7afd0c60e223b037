// Package stmtcache registers the database/sql driver DriverName: SQLite
// (modernc.org/sqlite) whose connections keep the statements they ran
// compiled, so that a query run again on a connection is not parsed and
// planned again.
//
// database/sql prepares every statement that a DB or Tx runs with
// QueryContext or ExecContext afresh, and modernc.org/sqlite finalizes it
// afterwards; for the short statements of the catalog and of River's queue,
// parsing costs more CPU than running them. Here each connection keeps up
// to maxStatements statements by their text, least recently used first out.
// A statement whose rows are still open when its text comes again is not
// shared: that query runs as before, prepared for once. Compiled statements
// stay right when the schema changes: SQLite compiles them again by itself
// (sqlite3_prepare_v2).
package stmtcache

import (
	"container/list"
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"reflect"
	"sync"

	"modernc.org/sqlite"
)

// DriverName is the name the driver is registered under.
const DriverName = "sqlite-stmtcache"

// maxStatements is how many compiled statements one connection keeps.
const maxStatements = 128

func init() { sql.Register(DriverName, Driver{}) }

// Driver is modernc.org/sqlite's driver with connections that keep their
// statements compiled.
type Driver struct{}

// Open implements driver.Driver.
func (Driver) Open(name string) (driver.Conn, error) {
	c, err := (&sqlite.Driver{}).Open(name)
	if err != nil {
		return nil, err
	}
	inner, ok := c.(sqliteConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("stmtcache: %T lacks methods database/sql needs", c)
	}
	return &conn{sqliteConn: inner, byQuery: map[string]*list.Element{}, lru: list.New()}, nil
}

// sqliteConn is what a modernc.org/sqlite connection offers database/sql.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// stmtCtx is a compiled statement of modernc.org/sqlite.
type stmtCtx interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// conn is a connection with its compiled statements. database/sql uses a
// connection from one goroutine at a time, but closes rows from another
// (when a query's context ends), so the cache has a lock.
type conn struct {
	sqliteConn
	mu      sync.Mutex
	byQuery map[string]*list.Element // of lru, holding *entry
	lru     *list.List               // front: most recently used
	closed  bool
}

type entry struct {
	query string
	stmt  stmtCtx
	busy  bool // its rows are open
	gone  bool // out of the cache: close it when its rows close
}

// take returns the compiled statement of query, marked busy, or nil when
// it is busy already (the caller runs the query uncached).
func (c *conn) take(ctx context.Context, query string) (*entry, error) {
	c.mu.Lock()
	if el, ok := c.byQuery[query]; ok {
		e := el.Value.(*entry)
		if e.busy {
			c.mu.Unlock()
			return nil, nil
		}
		e.busy = true
		c.lru.MoveToFront(el)
		c.mu.Unlock()
		return e, nil
	}
	c.mu.Unlock()
	s, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	st, ok := s.(stmtCtx)
	if !ok {
		s.Close()
		return nil, nil
	}
	e := &entry{query: query, stmt: st, busy: true}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byQuery[query] = c.lru.PushFront(e)
	for c.lru.Len() > maxStatements {
		old := c.lru.Back()
		c.drop(old)
	}
	return e, nil
}

// drop takes a statement out of the cache and closes it, or has its rows
// close it; c.mu is held.
func (c *conn) drop(el *list.Element) {
	e := el.Value.(*entry)
	c.lru.Remove(el)
	delete(c.byQuery, e.query)
	e.gone = true
	if !e.busy {
		e.stmt.Close()
	}
}

// release ends a use of a statement. A statement that failed is compiled
// afresh next time.
func (c *conn) release(e *entry, failed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.busy = false
	if failed && !e.gone {
		if el, ok := c.byQuery[e.query]; ok {
			c.drop(el)
			return
		}
	}
	if e.gone || c.closed {
		e.stmt.Close()
	}
}

// ExecContext implements driver.ExecerContext.
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	r, err := e.stmt.ExecContext(ctx, args)
	c.release(e, err != nil)
	return r, err
}

// QueryContext implements driver.QueryerContext.
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	e, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	r, err := e.stmt.QueryContext(ctx, args)
	if err != nil {
		c.release(e, true)
		return nil, err
	}
	return &rows{Rows: r, release: func(failed bool) { c.release(e, failed) }}, nil
}

// Close implements driver.Conn: the statements first, then the connection.
func (c *conn) Close() error {
	c.mu.Lock()
	c.closed = true
	for el := c.lru.Front(); el != nil; el = el.Next() {
		if e := el.Value.(*entry); !e.busy {
			e.stmt.Close()
		}
	}
	c.byQuery, c.lru = map[string]*list.Element{}, list.New()
	c.mu.Unlock()
	return c.sqliteConn.Close()
}

// rows are the rows of a cached statement: closing them frees it.
type rows struct {
	driver.Rows
	release func(failed bool)
	done    bool
}

// Close implements driver.Rows.
func (r *rows) Close() error {
	err := r.Rows.Close()
	if !r.done {
		r.done = true
		r.release(err != nil)
	}
	return err
}

// The column type methods of modernc.org/sqlite's rows, for
// database/sql's ColumnTypes.

// ColumnTypeDatabaseTypeName implements driver.RowsColumnTypeDatabaseTypeName.
func (r *rows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

// ColumnTypeLength implements driver.RowsColumnTypeLength.
func (r *rows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

// ColumnTypeNullable implements driver.RowsColumnTypeNullable.
func (r *rows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

// ColumnTypePrecisionScale implements driver.RowsColumnTypePrecisionScale.
func (r *rows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

// ColumnTypeScanType implements driver.RowsColumnTypeScanType.
func (r *rows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
