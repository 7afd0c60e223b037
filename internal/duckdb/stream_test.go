package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// streamAll streams query on a connection of its own and returns the
// columns and rows.
func streamAll(t *testing.T, db *DB, query string, stopAfter int) ([]Column, [][]any, error) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var cols []Column
	var rows [][]any
	err = db.Stream(ctx, conn, query, func(c []Column) error {
		cols = c
		return nil
	}, func(vals []any) error {
		if len(rows) == stopAfter {
			return ErrStop
		}
		rows = append(rows, append([]any(nil), vals...))
		return nil
	})
	return cols, rows, err
}

func TestStream(t *testing.T) {
	db := openTest(t, Options{Threads: 2})
	t.Run("rows and columns", func(t *testing.T) {
		cols, rows, err := streamAll(t, db, `SELECT range AS i, CASE WHEN range % 2 = 0 THEN NULL ELSE 'v' || range END AS s, 1 AS a, 2 AS a,
			[range] AS l, {'k': range} AS "x y", '101'::BIT AS b FROM range(5000) ORDER BY i DESC -- a trailing comment`, -1)
		if err != nil {
			t.Fatal(err)
		}
		want := []Column{{"i", "BIGINT"}, {"s", "VARCHAR"}, {"a", "INTEGER"}, {"a_1", "INTEGER"}, {"l", "BIGINT[]"}, {"x y", `STRUCT("k" BIGINT)`}, {"b", "BIT"}}
		if fmt.Sprint(cols) != fmt.Sprint(want) {
			t.Fatalf("columns %v, want %v", cols, want)
		}
		if len(rows) != 5000 {
			t.Fatalf("%d rows, want 5000", len(rows))
		}
		// In the query's order, values as database/sql scans them.
		if got := fmt.Sprint(rows[0]); got != "[4999 v4999 1 2 [4999] map[k:4999] 101]" {
			t.Fatalf("first row %s", got)
		}
		if rows[4999][0] != int64(0) || rows[4999][1] != nil || rows[4999][2] != int32(1) || rows[4999][6] != "101" {
			t.Fatalf("last row %v", rows[4999])
		}
	})
	t.Run("stop", func(t *testing.T) {
		// DuckDB stops reading when told: rows far past the stop would fail.
		_, rows, err := streamAll(t, db, "SELECT CASE WHEN range < 100000 THEN range ELSE error('read past the stop') END AS i FROM range(1000000)", 10)
		if err != nil || len(rows) != 10 || rows[9][0] != int64(9) {
			t.Fatalf("stopped after 10 rows: %v, %v", rows, err)
		}
	})
	t.Run("errors", func(t *testing.T) {
		ctx := context.Background()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		boom := errors.New("boom")
		err = db.Stream(ctx, conn, "SELECT range FROM range(10)", func([]Column) error { return nil }, func([]any) error { return boom })
		if err != boom {
			t.Fatalf("the row function's error: %v", err)
		}
		err = db.Stream(ctx, conn, "SELECT range FROM range(10)", func([]Column) error { return boom }, func([]any) error { return nil })
		if err != boom {
			t.Fatalf("the head function's error: %v", err)
		}
		_, _, err = streamAll(t, db, "SELECT 1/0 AS x, error('bad row') AS y", -1)
		if err == nil || !strings.Contains(err.Error(), "bad row") {
			t.Fatalf("the query's error: %v", err)
		}
		// Only Stream may call the function.
		if _, err := conn.ExecContext(ctx, "SELECT "+watchFunction+"(1, 'x')"); err == nil || !strings.Contains(err.Error(), "rat's own function") {
			t.Fatalf("a query calling %s: %v", watchFunction, err)
		}
	})
	t.Run("views", func(t *testing.T) {
		// In a view scope (another catalog selected with USE), first on
		// its database, over dictionary-encoded Parquet strings.
		db := openTest(t, Options{Threads: 2})
		path := filepath.Join(t.TempDir(), "d.parquet")
		if _, err := db.SQL().Exec(fmt.Sprintf("COPY (SELECT range AS n, 'r' || (range %% 3) AS s FROM range(5000)) TO %s (FORMAT parquet)", Quote(path))); err != nil {
			t.Fatal(err)
		}
		err := db.WithViews(context.Background(), []View{{Schema: "bronze", Name: "d", From: "read_parquet(" + Quote(path) + ")"}}, func(conn *sql.Conn) error {
			var rows [][]any
			err := db.Stream(context.Background(), conn, "SELECT * FROM bronze.d", func([]Column) error { return nil }, func(vals []any) error {
				rows = append(rows, append([]any(nil), vals...))
				return nil
			})
			if err != nil || len(rows) != 5000 {
				return fmt.Errorf("%d rows, %v", len(rows), err)
			}
			for i, r := range rows {
				if r[0] != int64(i) || r[1] != fmt.Sprintf("r%d", i%3) {
					return fmt.Errorf("row %d = %v", i, r)
				}
			}
			// Registered in the system catalog: another connection (this
			// one is busy) has it.
			if _, rows, err := streamAll(t, db, "SELECT 1 AS one", -1); err != nil || len(rows) != 1 {
				return fmt.Errorf("another connection: %v, %v", rows, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("union", func(t *testing.T) {
		// Branches one after the other, each in order.
		_, rows, err := streamAll(t, db, "SELECT range AS i FROM range(100000) UNION ALL SELECT 100000 + range FROM range(100000) UNION ALL SELECT 200000 + range FROM range(100000)", -1)
		if err != nil || len(rows) != 300000 {
			t.Fatalf("%d rows, %v", len(rows), err)
		}
		for i, r := range rows {
			if r[0] != int64(i) {
				t.Fatalf("row %d = %v", i, r[0])
			}
		}
	})
	t.Run("parquet files in parallel", func(t *testing.T) {
		// A table of many files, read by 2 threads: rows come in order.
		dir := t.TempDir()
		var files []string
		for f := range 8 {
			path := filepath.Join(dir, fmt.Sprintf("%d.parquet", f))
			if _, err := db.SQL().Exec(fmt.Sprintf("COPY (SELECT %d * 10000 + range AS n FROM range(10000)) TO %s (FORMAT parquet, ROW_GROUP_SIZE 2048)", f, Quote(path))); err != nil {
				t.Fatal(err)
			}
			files = append(files, Quote(path))
		}
		_, rows, err := streamAll(t, db, "SELECT n FROM read_parquet(["+strings.Join(files, ", ")+"])", -1)
		if err != nil || len(rows) != 80000 {
			t.Fatalf("%d rows, %v", len(rows), err)
		}
		for i, r := range rows {
			if r[0] != int64(i) {
				t.Fatalf("row %d = %v", i, r[0])
			}
		}
	})
}
