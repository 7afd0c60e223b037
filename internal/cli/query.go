package cli

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newQueryCmd(g *globals) *cobra.Command {
	var branch, at, format, output string
	var maxRows int
	cmd := &cobra.Command{
		Use:   `query "SQL"`,
		Short: "Run a read-only SQL query over the tables of a branch",
		Long: `Run one SELECT (DuckDB SQL) over the tables of a branch. Tables are named
layer.name (bronze.sales) and read at their current snapshot, or at the
snapshot --at selects: a snapshot id (see 'rat describe') or a time.

Writes (INSERT, CREATE, COPY, ...) are refused: load files with 'rat load';
rewrite a table's files into fewer, larger (sorted) ones with 'rat optimize'
(what the original's COPY recipe did).
With -o the result goes to a file; its extension picks the format (.csv,
.json, .parquet) unless --format says otherwise. The file is written under a
temporary name beside it and renamed when complete: a failed query leaves an
existing file as it was.`,
		Example: `  rat query "SELECT region, sum(amount) FROM bronze.sales GROUP BY ALL"
  rat query "SELECT count(*) FROM bronze.sales" --branch dev
  rat query "SELECT * FROM bronze.sales" --at 2024-05-01T12:00:00Z --format csv
  rat query "SELECT * FROM silver.orders" -o orders.parquet`,
		Args: exactArgs(1, "one SQL statement in quotes"),
		RunE: func(cmd *cobra.Command, args []string) error {
			when, err := lake.ParseAt(at)
			if err != nil {
				return err
			}
			if format, err = queryFormat(format, output); err != nil {
				return err
			}
			return g.withApp(cmd, branch, func(ctx context.Context, a *app) error {
				if _, err := a.Store.Ref(ctx, a.Config.Branch); err != nil {
					return err
				}
				// A file is written under a temporary name beside it and renamed
				// when complete: a failed query leaves an existing file as it was.
				if format == "parquet" {
					return queryToParquet(cmd, a, when, args[0], output)
				}
				return queryToWriter(cmd, a, when, args[0], format, output, maxRows)
			})
		},
	}
	cmd.Flags().StringVarP(&branch, "branch", "b", "", "branch, tag to read (default: the configured branch, main)")
	cmd.Flags().StringVar(&at, "at", "", "read tables as of a snapshot id or a time (RFC 3339, or 2006-01-02 15:04:05 in UTC)")
	cmd.Flags().StringVarP(&format, "format", "f", "", "table, csv, json or parquet (default: table, or from -o's extension)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the result to this file")
	cmd.Flags().IntVar(&maxRows, "max-rows", 1000, "rows to print in table format (0 = all)")
	return cmd
}

// queryFormat is the output format of rat query: --format, else the one
// -o's extension names, else a table.
func queryFormat(format, output string) (string, error) {
	if format == "" {
		format = "table"
		if output != "" {
			switch strings.ToLower(filepath.Ext(output)) {
			case ".csv":
				format = "csv"
			case ".json":
				format = "json"
			case ".parquet":
				format = "parquet"
			}
		}
	}
	switch format {
	case "table", "csv", "json":
	case "parquet":
		if output == "" {
			return "", &usageError{msg: "rat query: --format parquet needs -o FILE"}
		}
	default:
		return "", &usageError{msg: fmt.Sprintf("rat query: --format %q: want table, csv, json or parquet", format)}
	}
	return format, nil
}

// queryToParquet writes a query's result to a Parquet file through the
// engine's export, under a temporary name renamed when complete.
func queryToParquet(cmd *cobra.Command, a *app, when lake.At, sqlText, output string) error {
	ctx := cmd.Context()
	abs, err := filepath.Abs(output)
	if err != nil {
		return err
	}
	out, err := reserveOutput(abs)
	if err != nil {
		return err
	}
	defer out.Abort()
	var n int64
	err = a.Lake.WithTables(ctx, a.Config.Branch, when, sqlText, func(conn *sql.Conn, query string) error {
		var err error
		if n, err = duckdb.Export(ctx, conn, query, out.tmp, duckdb.ExportOptions{Compression: "zstd"}); err != nil {
			return duckdb.UserError("query", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := out.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s to %s\n", textout.Plural(n, "row"), output)
	return nil
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
