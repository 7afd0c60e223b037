package stmtcache

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

func open(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open(DriverName, "file:"+filepath.Join(t.TempDir(), "t.db")+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// cached returns the statements a connection keeps, by text.
func cached(t *testing.T, db *sql.DB) map[string]stmtCtx {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := map[string]stmtCtx{}
	err = c.Raw(func(dc any) error {
		cc := dc.(*conn)
		for el := cc.lru.Front(); el != nil; el = el.Next() {
			out[el.Value.(*entry).query] = el.Value.(*entry).stmt
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStatementsAreCompiledOnce(t *testing.T) {
	db := open(t)
	const ins = `INSERT INTO t (id, v) VALUES (?, ?)`
	const sel = `SELECT v FROM t WHERE id = ?`
	if _, err := db.Exec(ins, 1, "a"); err != nil {
		t.Fatal(err)
	}
	first := cached(t, db)[sel]
	for i := 2; i <= 20; i++ {
		if _, err := db.Exec(ins, i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
		var v string
		if err := db.QueryRow(sel, i).Scan(&v); err != nil || v != fmt.Sprint("v", i) {
			t.Fatalf("row %d: %q, %v", i, v, err)
		}
		if i == 2 {
			first = cached(t, db)[sel]
		}
	}
	got := cached(t, db)
	if got[sel] == nil || got[sel] != first || got[ins] == nil {
		t.Errorf("statements kept: %v; want the SELECT compiled once and kept", got)
	}
}

// The same query twice at once on one connection (rows of the first still
// open) reads right: the second is not given the busy statement.
func TestBusyStatementIsNotShared(t *testing.T) {
	db := open(t)
	for i := 1; i <= 3; i++ {
		if _, err := db.Exec(`INSERT INTO t (id, v) VALUES (?, ?)`, i, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	const q = `SELECT id FROM t WHERE id >= ? ORDER BY id`
	outer, err := tx.Query(q, 1)
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	for outer.Next() {
		var a int
		if err := outer.Scan(&a); err != nil {
			t.Fatal(err)
		}
		inner, err := tx.Query(q, a)
		if err != nil {
			t.Fatal(err)
		}
		for inner.Next() {
			var b int
			if err := inner.Scan(&b); err != nil {
				t.Fatal(err)
			}
			pairs = append(pairs, fmt.Sprintf("%d%d", a, b))
		}
		inner.Close()
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	outer.Close()
	if fmt.Sprint(pairs) != "[11 12 13 22 23 33]" {
		t.Errorf("nested reads of one query: %v", pairs)
	}
}

// A kept statement follows the schema, and one that failed works the next
// time.
func TestSchemaChangesAndFailures(t *testing.T) {
	db := open(t)
	const ins = `INSERT INTO t (id, v) VALUES (?, ?)`
	if _, err := db.Exec(ins, 1, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ins, 1, "dup"); err == nil {
		t.Fatal("duplicate key inserted")
	}
	if _, err := db.Exec(ins, 2, "b"); err != nil {
		t.Fatalf("the statement after its failure: %v", err)
	}
	const all = `SELECT * FROM t ORDER BY id`
	cols := func() []string {
		rows, err := db.Query(all)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		c, _ := rows.Columns()
		return c
	}
	if c := cols(); len(c) != 2 {
		t.Fatalf("columns %v", c)
	}
	if _, err := db.Exec(`ALTER TABLE t ADD COLUMN w TEXT`); err != nil {
		t.Fatal(err)
	}
	if c := cols(); len(c) != 3 {
		t.Errorf("columns after ALTER TABLE: %v, want 3", c)
	}
}

func TestCacheIsBounded(t *testing.T) {
	db := open(t)
	for i := range maxStatements + 50 {
		var n int
		if err := db.QueryRow(fmt.Sprintf("SELECT %d", i)).Scan(&n); err != nil || n != i {
			t.Fatalf("SELECT %d: %d, %v", i, n, err)
		}
	}
	got := cached(t, db)
	if len(got) != maxStatements {
		t.Errorf("%d statements kept, want %d", len(got), maxStatements)
	}
	if got[fmt.Sprintf("SELECT %d", maxStatements+49)] == nil || got["SELECT 0"] != nil {
		t.Error("the least recently used statements should go first")
	}
}
