package duckdb

import (
	"context"
	"database/sql"
	"fmt"
)

// ExportOptions shape the file Export writes.
type ExportOptions struct {
	// Limit keeps the query's first rows only; 0 keeps every row.
	Limit int
	// Compression is the Parquet codec (zstd, snappy, gzip, ...); "" is
	// DuckDB's default (snappy).
	Compression string
}

// Export writes the rows of query (one SELECT) into a new Parquet file at
// path and returns how many rows it wrote: DuckDB writes the file itself
// while the query runs, so no row passes through Go. ctx reaches the
// query's functions (a Watch's Ctx). Errors are DuckDB's, as they come: a
// caller whose query is the user's wraps them with UserError. A failed
// export may leave a partial file at path; write to a temporary name.
func Export(ctx context.Context, conn *sql.Conn, query, path string, o ExportOptions) (int64, error) {
	q := subquery(query)
	if o.Limit > 0 {
		q = fmt.Sprintf("SELECT * FROM (%s) LIMIT %d", q, o.Limit)
	}
	opts := "FORMAT parquet"
	if o.Compression != "" {
		opts += ", COMPRESSION " + o.Compression
	}
	r, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s (%s)", q, Quote(path), opts))
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}
