package duckdb

import (
	"context"
	"database/sql"
	"fmt"
)

// ExportFormats are the file formats Export writes.
var ExportFormats = []string{"parquet", "csv", "json", "ndjson"}

// ExportOptions shape the file Export writes.
type ExportOptions struct {
	// Limit keeps the query's first rows only; 0 keeps every row.
	Limit int
	// Format is parquet (the default when ""), csv (with a header line),
	// json (one JSON array of objects) or ndjson (one object a line).
	Format string
	// Compression is the Parquet codec (zstd, snappy, gzip, ...); "" is
	// DuckDB's default (snappy). Other formats are not compressed.
	Compression string
}

// copyOptions is the option list of DuckDB's COPY for o.
func (o ExportOptions) copyOptions() (string, error) {
	switch o.Format {
	case "", "parquet":
		opts := "FORMAT parquet"
		if o.Compression != "" {
			opts += ", COMPRESSION " + o.Compression
		}
		return opts, nil
	case "csv":
		return "FORMAT csv, HEADER true", nil
	case "json":
		return "FORMAT json, ARRAY true", nil
	case "ndjson":
		return "FORMAT json", nil
	}
	return "", fmt.Errorf("export format %q: want one of %v", o.Format, ExportFormats)
}

// Export writes the rows of query (one SELECT) into a new file at path and
// returns how many rows it wrote: DuckDB writes the file itself while the
// query runs, so no row passes through Go. ctx reaches the query's
// functions (a Watch's Ctx). Errors are DuckDB's, as they come: a caller
// whose query is the user's wraps them with UserError. A failed export may
// leave a partial file at path; write to a temporary name.
func Export(ctx context.Context, conn *sql.Conn, query, path string, o ExportOptions) (int64, error) {
	opts, err := o.copyOptions()
	if err != nil {
		return 0, err
	}
	q := subquery(query)
	if o.Limit > 0 {
		q = fmt.Sprintf("SELECT * FROM (%s) LIMIT %d", q, o.Limit)
	}
	r, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s (%s)", q, Quote(path), opts))
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}
