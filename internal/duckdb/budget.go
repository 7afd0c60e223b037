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
// size: the length of its values as text, about their length in JSON.
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
	countColumn = `"rat budget: count"`
	sizePrefix  = "rat budget: size of "
)

// Mark wraps a SELECT so that DuckDB keeps at most Rows+1 rows (one more
// than asked: it tells that more rows exist), and no row after the one
// whose running size passes Bytes. That row comes back with every value
// NULL and FitsColumn false; every other row has FitsColumn true. Rows
// keep the query's order. Past the byte budget DuckDB goes on reading
// (only a row limit stops it early) but keeps nothing more.
func (b Budget) Mark(query string) string {
	if b.Bytes <= 0 {
		return "SELECT *, true AS " + Ident(FitsColumn) + " FROM (" + subquery(query) + ")" + limit(b.Rows, 1)
	}
	// Measured on rows of 1 MB: rows after the budget must be filtered out,
	// not kept as NULLs, and the LIMIT must come last, over the filter. A
	// LIMIT below the window, or over rows kept as NULLs, holds the
	// vectors DuckDB read them from (2,048 rows each) until the query ends.
	return fmt.Sprintf("SELECT CASE WHEN %[2]s <= %[1]d THEN COLUMNS(* EXCLUDE (%[3]s, %[2]s, %[4]s)) END, %[2]s <= %[1]d AS %[5]s FROM (%[6]s) WHERE %[2]s - %[3]s <= %[1]d",
		b.Bytes, totalColumn, sizeColumn, countColumn, Ident(FitsColumn), running(query)) + limit(b.Rows, 1)
}

// Enforce wraps a SELECT so that it returns at most Rows rows and fails,
// with an error OverBudget recognises, once the running size of those rows
// passes Bytes. DuckDB stops reading there.
func (b Budget) Enforce(query string) string {
	if b.Bytes <= 0 {
		return "SELECT * FROM (" + subquery(query) + ")" + limit(b.Rows, 0)
	}
	over := fmt.Sprintf("%s > %d", totalColumn, b.Bytes)
	if b.Rows > 0 {
		// DuckDB evaluates rows a vector at a time, past the LIMIT: those
		// rows must not count.
		over = fmt.Sprintf("%s <= %d AND %s", countColumn, b.Rows, over)
	}
	return fmt.Sprintf("SELECT * EXCLUDE (%s, %s, %s) FROM (%s) WHERE CASE WHEN %s THEN error(%s) ELSE true END",
		sizeColumn, totalColumn, countColumn, running(query), over, Quote(overBudget)) + limit(b.Rows, 0)
}

// OverBudget reports whether err is the error of an Enforce-d query whose
// rows passed the byte budget.
func OverBudget(err error) bool {
	return err != nil && strings.Contains(err.Error(), overBudget)
}

// subquery is a query to put in parentheses. New lines keep a trailing
// line comment of the query from swallowing the rest.
func subquery(query string) string {
	return "\n" + strings.TrimRight(strings.TrimSpace(query), "; \t\r\n") + "\n"
}

func limit(rows, extra int) string {
	if rows <= 0 {
		return ""
	}
	return fmt.Sprintf(" LIMIT %d", rows+extra)
}

// running is the query with each row's size, and the running total of
// sizes and count of rows. A streaming window keeps them without
// materializing the rows. The LIMIT comes after it: a LIMIT right over
// the query gathers its rows before passing them on (on Parquet files it
// fetches them late and sorts them by position), which holds them all.
func running(query string) string {
	// A row's size is the sum of its values' lengths as text, about their
	// length in JSON. Text values are measured where they are, not copied:
	// one size column per column, summed in the next step.
	each := fmt.Sprintf(`SELECT *, strlen(CAST(COLUMNS('(?s)^(.*)$') AS VARCHAR)) AS '%s\1' FROM (%s)`, sizePrefix, subquery(query))
	sized := fmt.Sprintf("SELECT COLUMNS(c -> NOT starts_with(c, %[1]s)), coalesce(list_sum(list_value(*COLUMNS('^%[2]s'))), 0) AS %[3]s FROM (%[4]s)",
		Quote(sizePrefix), sizePrefix, sizeColumn, each)
	return fmt.Sprintf("SELECT *, sum(%[1]s) OVER w AS %[2]s, count(*) OVER w AS %[3]s FROM (%[4]s) WINDOW w AS (ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)",
		sizeColumn, totalColumn, countColumn, sized)
}
