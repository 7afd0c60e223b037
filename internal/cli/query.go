package cli

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newQueryCmd(g *globals) *cobra.Command {
	var branch, at, format, output, export string
	var maxRows int
	cmd := &cobra.Command{
		Use:   `query "SQL"`,
		Short: "Run a read-only SQL query over the tables of a branch; print it or export it to a file or S3",
		Long: `Run one SELECT (DuckDB SQL) over the tables of a branch. Tables are named
layer.name (bronze.sales) and read at their current snapshot, or at the
snapshot --at selects: a snapshot id (see 'rat describe') or a time.

Writes (INSERT, CREATE, COPY, ...) are refused: load files with 'rat load';
rewrite a table's files into fewer, larger (sorted) ones with 'rat optimize'
(what the original's COPY recipe did).

--export DEST writes the whole result to DEST: a local path or an object
s3://bucket/path/file. The format is the extension's (.parquet, .csv,
.json for one JSON array, .ndjson or .jsonl for one object a line) unless
--format says otherwise (parquet, csv, json, ndjson). DuckDB writes the file
as the query runs (no row passes through rat); a local file is written
under a hidden temporary name beside it and renamed when complete, so a
failed query leaves an existing file as it was. For S3 the file is written
to .rat/tmp/export (it needs the result's size on that disk) and then
streamed to the bucket in one upload that S3 completes atomically: the
object appears whole or not at all. The bucket must exist; S3 settings are
the warehouse's (S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY,
s3_path_style), and without keys the AWS environment and credential files.
On a terminal, stderr shows the bytes written and uploaded; a summary line
(rows, format, bytes, destination) ends every export.

The byte cap of the query API (max_result_bytes) does not apply to
exports: the file holds every row. -o FILE is --export FILE, and also
writes the table format (a .txt or other extension).`,
		Example: `  rat query "SELECT region, sum(amount) FROM bronze.sales GROUP BY ALL"
  rat query "SELECT count(*) FROM bronze.sales" --branch dev
  rat query "SELECT * FROM bronze.sales" --at 2024-05-01T12:00:00Z --format csv
  rat query "SELECT * FROM silver.orders" --export orders.parquet
  rat query "SELECT * FROM silver.orders" --export s3://reports/2026/orders.parquet
  rat query "SELECT * FROM silver.orders WHERE day = today()" --export s3://reports/today.ndjson
  rat query "SELECT * FROM gold.kpis" -o kpis.csv`,
		Args: exactArgs(1, "one SQL statement in quotes"),
		RunE: func(cmd *cobra.Command, args []string) error {
			when, err := lake.ParseAt(at)
			if err != nil {
				return err
			}
			if output != "" && export != "" {
				return &usageError{msg: "rat query: give -o FILE or --export DEST, not both"}
			}
			if export != "" {
				if _, err := parseExportDest(export); err != nil {
					return err
				}
			}
			if format, err = queryFormat(format, output, export); err != nil {
				return err
			}
			return g.withApp(cmd, branch, func(ctx context.Context, a *app) error {
				if _, err := a.Store.Ref(ctx, a.Config.Branch); err != nil {
					return err
				}
				if format != "table" && output+export != "" {
					return exportQuery(ctx, a, cmd.ErrOrStderr(), when, args[0], output+export, format)
				}
				return queryToWriter(cmd, a, when, args[0], format, output, maxRows)
			})
		},
	}
	cmd.Flags().StringVarP(&branch, "branch", "b", "", "branch, tag to read (default: the configured branch, main)")
	cmd.Flags().StringVar(&at, "at", "", "read tables as of a snapshot id or a time (RFC 3339, or 2006-01-02 15:04:05 in UTC)")
	cmd.Flags().StringVarP(&format, "format", "f", "", "table, csv, json, ndjson or parquet (default: table, or from the extension of -o or --export)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the result to this file (as --export, or in table format)")
	cmd.Flags().StringVar(&export, "export", "", "write the whole result to a local file or s3://bucket/key (Parquet, CSV, JSON or NDJSON; no byte cap)")
	cmd.Flags().IntVar(&maxRows, "max-rows", 1000, "rows to print in table format (0 = all)")
	return cmd
}

// queryFormat is the output format of rat query: --format, else the one
// the extension of -o or --export names, else a table (--export: an error).
func queryFormat(format, output, export string) (string, error) {
	if format == "" {
		format = "table"
		if f := extFormat(output + export); f != "" {
			format = f
		} else if export != "" {
			return "", &usageError{msg: fmt.Sprintf("rat query: cannot tell the format of %s from its extension: use .parquet, .csv, .json, .ndjson, or give --format", export)}
		}
	}
	switch format {
	case "table", "csv", "json":
		if format == "table" && export != "" {
			return "", &usageError{msg: "rat query: --export writes parquet, csv, json or ndjson, not table: use -o FILE for a table"}
		}
	case "parquet", "ndjson":
		if output+export == "" {
			return "", &usageError{msg: fmt.Sprintf("rat query: --format %s needs --export DEST or -o FILE", format)}
		}
	default:
		return "", &usageError{msg: fmt.Sprintf("rat query: --format %q: want table, csv, json, ndjson or parquet", format)}
	}
	return format, nil
}

// queryToWriter prints a query's result in format (table, csv or json),
// or writes it to output, under a temporary name renamed when complete.
func queryToWriter(cmd *cobra.Command, a *app, when lake.At, sqlText, format, output string, maxRows int) error {
	ctx := cmd.Context()
	var w io.Writer = cmd.OutOrStdout()
	var file *outFile
	var err error
	if output != "" {
		if file, err = createOutput(output); err != nil {
			return err
		}
		defer file.Abort()
		w = file
	}
	bw := bufio.NewWriter(w)
	start := time.Now()
	var n int64
	err = a.Lake.Query(ctx, a.Config.Branch, when, sqlText, func(rows *sql.Rows) error {
		var err error
		n, err = duckdb.WriteRows(bw, rows, format, maxRows)
		return err
	})
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if file != nil {
		if err := file.Commit(); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s to %s in %s\n", textout.Plural(n, "row"), output, rat.Duration(time.Since(start)))
	} else if format == "table" {
		fmt.Fprintf(cmd.ErrOrStderr(), "(%s in %s)\n", textout.Plural(n, "row"), rat.Duration(time.Since(start)))
	}
	return nil
}
