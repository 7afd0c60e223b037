package duckdb

import (
	"fmt"
	"strings"
)

// Budget bounds what one query hands back: rows, and bytes. DuckDB
// materializes a query's whole result before the first row can be read
// (the Go driver has no streaming results), so a bound applied while
// reading rows comes too late for memory: the wrappers below make DuckDB
// itself stop keeping rows. Bytes are DuckDB's estimate of each row's
// size: the length of the row as text, about its length in JSON.
type Budget struct {
	Rows  int   // rows at most; 0 = no bound
	Bytes int64 // bytes at most; 0 = no bound
}

// FitsColumn is the name of the last column of a query wrapped by Mark.
const FitsColumn = "rat budget: fits"

// overBudget is the text of the error an Enforce-d query raises.
const overBudget = "rat: result over its byte budget"

// Columns the wrappers add, named so that no query's own columns collide
// with them.
const (
	sizeColumn  = `"rat budget: size"`
	totalColumn = `"rat budget: total"`
)

// Mark wraps a SELECT so that DuckDB keeps at most Rows+1 rows (one more
// than asked: it tells that more rows exist) and no row after the one
// whose running size passes Bytes. That row comes back with every value
// NULL and FitsColumn false; every other row has FitsColumn true. Rows
// keep the query's order.
func (b Budget) Mark(query string) string {
	inner := b.sized(query, b.Rows+1)
	if b.Bytes <= 0 {
		return "SELECT *, true AS " + Ident(FitsColumn) + " FROM (" + inner + ")"
	}
	// A streaming window keeps the running total without materializing the
	// rows; rows after the one over the budget are dropped as they come.
	return fmt.Sprintf("SELECT CASE WHEN %[2]s <= %[1]d THEN COLUMNS(* EXCLUDE (%[3]s, %[2]s)) END, %[2]s <= %[1]d AS %[4]s FROM (%[5]s) WHERE %[2]s - %[3]s <= %[1]d",
		b.Bytes, totalColumn, sizeColumn, Ident(FitsColumn), inner)
}

// Enforce wraps a SELECT so that it returns at most Rows rows and fails,
// with an error OverBudget recognises, once the running size of its rows
// passes Bytes. DuckDB stops reading there.
func (b Budget) Enforce(query string) string {
	inner := b.sized(query, b.Rows)
	if b.Bytes <= 0 {
		return "SELECT * FROM (" + inner + ")"
	}
	return fmt.Sprintf("SELECT * EXCLUDE (%[3]s, %[2]s) FROM (%[5]s) WHERE CASE WHEN %[2]s > %[1]d THEN error(%[4]s) ELSE true END",
		b.Bytes, totalColumn, sizeColumn, Quote(overBudget), inner)
}

// OverBudget reports whether err is the error of an Enforce-d query whose
// rows passed the byte budget.
func OverBudget(err error) bool {
	return err != nil && strings.Contains(err.Error(), overBudget)
}

// sized is the query limited to rows (when rows > 0), with each row's size
// and the running total of sizes when the budget counts bytes. New lines
// keep a trailing line comment of the query from swallowing the rest.
func (b Budget) sized(query string, rows int) string {
	q := "SELECT * FROM (\n" + strings.TrimRight(strings.TrimSpace(query), "; \t\r\n") + "\n)"
	if b.Rows > 0 {
		q += fmt.Sprintf(" LIMIT %d", rows)
	}
	if b.Bytes <= 0 {
		return q
	}
	// An unnamed struct of the row's values, as text, is about as long as
	// the row as a JSON array: no column names, strings unquoted.
	size := fmt.Sprintf("SELECT *, strlen(CAST(row(*COLUMNS(*)) AS VARCHAR)) AS %s FROM (%s)", sizeColumn, q)
	return fmt.Sprintf("SELECT *, sum(%[1]s) OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS %[2]s FROM (%[3]s)", sizeColumn, totalColumn, size)
}
