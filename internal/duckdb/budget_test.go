package duckdb

import (
	"context"
	"strings"
	"testing"
)

// budgetRows runs a wrapped query and returns its column names and rows.
func budgetRows(t *testing.T, db *DB, query string) ([]string, [][]any, error) {
	t.Helper()
	rows, err := db.SQL().QueryContext(context.Background(), query)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out [][]any
	cols, err := EachRow(rows, func(_ []string, vals []any) error {
		out = append(out, append([]any(nil), vals...))
		return nil
	})
	return cols, out, err
}

func TestBudgetMark(t *testing.T) {
	db := openTest(t, Options{Threads: 2})
	t.Run("rows", func(t *testing.T) {
		cols, rows, err := budgetRows(t, db, Budget{Rows: 3}.Mark("SELECT range AS i FROM range(10) ORDER BY i DESC;"))
		if err != nil {
			t.Fatal(err)
		}
		// One row more than the budget says that more exist; order is kept.
		if strings.Join(cols, ",") != "i,"+FitsColumn || len(rows) != 4 || rows[0][0] != int64(9) || rows[3][0] != int64(6) || rows[3][1] != true {
			t.Fatalf("cols %v rows %v", cols, rows)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		// Each row's values are 100 bytes as text.
		q := "SELECT range AS n, repeat('x', 100 - length(range::VARCHAR)) AS s FROM range(100) -- a trailing comment"
		cols, rows, err := budgetRows(t, db, Budget{Rows: 1000, Bytes: 550}.Mark(q))
		if err != nil {
			t.Fatal(err)
		}
		// Five rows fit, the sixth is over the budget, nothing comes after.
		if strings.Join(cols, ",") != "n,s,"+FitsColumn || len(rows) != 6 {
			t.Fatalf("cols %v, %d rows: want 5 that fit and the one over the budget", cols, len(rows))
		}
		for i, r := range rows[:5] {
			if r[0] != int64(i) || r[2] != true {
				t.Fatalf("row %d = %v", i, r)
			}
		}
		if last := rows[5]; last[0] != nil || last[1] != nil || last[2] != false {
			t.Fatalf("the row over the budget = %v, want its values NULL and %s false", last, FitsColumn)
		}
		_, rows, err = budgetRows(t, db, Budget{Rows: 3, Bytes: 550}.Mark(q))
		if err != nil || len(rows) != 4 || rows[3][2] != true {
			t.Fatalf("row limit 3 within the budget: %v (%v), want 4 rows that fit", rows, err)
		}
	})
	t.Run("one row over the budget", func(t *testing.T) {
		_, rows, err := budgetRows(t, db, Budget{Rows: 10, Bytes: 1000}.Mark("SELECT repeat('x', 5000) AS s, 1 AS s"))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0][0] != nil || rows[0][2] != false {
			t.Fatalf("rows %v", rows)
		}
	})
	t.Run("nulls", func(t *testing.T) {
		_, rows, err := budgetRows(t, db, Budget{Rows: 10, Bytes: 1000}.Mark("SELECT NULL AS x FROM range(3)"))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 3 || rows[2][1] != true {
			t.Fatalf("rows of NULLs: %v, want 3 that fit", rows)
		}
	})
	t.Run("names", func(t *testing.T) {
		// Columns of any name pass through; duplicates are numbered, as in
		// any DuckDB subquery.
		cols, rows, err := budgetRows(t, db, Budget{Rows: 10, Bytes: 1000}.Mark(`SELECT 1 AS size, 2 AS total, 3 AS __rat_fits, 4 AS a, 5 AS a, NULL AS "x(y", [{'k': 'v'}] AS "new
line"`))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(cols, "|") != "size|total|__rat_fits|a|a_1|x(y|new\nline|"+FitsColumn || len(rows) != 1 || rows[0][0] != int32(1) || rows[0][4] != int32(5) || rows[0][7] != true {
			t.Fatalf("cols %q rows %v", cols, rows)
		}
	})
}

func TestBudgetEnforce(t *testing.T) {
	db := openTest(t, Options{Threads: 2})
	// The rows after the row limit never count, however large.
	q := "SELECT range AS i, CASE WHEN range < 3 THEN 'a' ELSE repeat('x', 100000) END AS s FROM range(10) ORDER BY i"
	_, rows, err := budgetRows(t, db, Budget{Rows: 3, Bytes: 1000}.Enforce(q))
	if err != nil || len(rows) != 3 || len(rows[0]) != 2 {
		t.Fatalf("under the budget: %v %v", rows, err)
	}
	_, _, err = budgetRows(t, db, Budget{Rows: 4, Bytes: 1000}.Enforce(q))
	if !OverBudget(err) {
		t.Fatalf("over the budget: %v, want the budget's error", err)
	}
	if OverBudget(nil) || OverBudget(context.Canceled) {
		t.Fatal("OverBudget of other errors")
	}
}
