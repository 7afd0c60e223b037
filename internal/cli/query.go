package cli

import (
	"bufio"
	"database/sql"
	"encoding/csv"
	"encoding/json"
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

Writes (INSERT, CREATE, COPY, ...) are refused: load files with 'rat load'.
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
					return &usageError{msg: "rat query: --format parquet needs -o FILE"}
				}
			default:
				return &usageError{msg: fmt.Sprintf("rat query: --format %q: want table, csv, json or parquet", format)}
			}
			ctx := cmd.Context()
			a, err := g.open(ctx, map[string]string{"branch": branch})
			if err != nil {
				return err
			}
			defer a.Close()
			if _, err := a.Store.Ref(ctx, a.Config.Branch); err != nil {
				return err
			}
			// A file is written under a temporary name beside it and renamed
			// when complete: a failed query leaves an existing file as it was.
			if format == "parquet" {
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
				err = a.Lake.WithTables(ctx, a.Config.Branch, when, args[0], func(conn *sql.Conn, query string) error {
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
			var w io.Writer = cmd.OutOrStdout()
			var file *outFile
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
			err = a.Lake.Query(ctx, a.Config.Branch, when, args[0], func(rows *sql.Rows) error {
				var err error
				n, err = writeRows(bw, rows, format, maxRows)
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
		},
	}
	cmd.Flags().StringVarP(&branch, "branch", "b", "", "branch, tag to read (default: the configured branch, main)")
	cmd.Flags().StringVar(&at, "at", "", "read tables as of a snapshot id or a time (RFC 3339, or 2006-01-02 15:04:05 in UTC)")
	cmd.Flags().StringVarP(&format, "format", "f", "", "table, csv, json or parquet (default: table, or from -o's extension)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the result to this file")
	cmd.Flags().IntVar(&maxRows, "max-rows", 1000, "rows to print in table format (0 = all)")
	return cmd
}

// writeRows renders a result set and returns the number of rows in it.
func writeRows(w io.Writer, rows *sql.Rows, format string, maxRows int) (int64, error) {
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	text := duckdb.Formatters(rows)
	var n int64
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(cols); err != nil {
			return 0, err
		}
		rec := make([]string, len(cols))
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return n, err
			}
			for i, v := range vals {
				rec[i] = text[i](v)
			}
			if err := cw.Write(rec); err != nil {
				return n, err
			}
			n++
		}
		cw.Flush()
		return n, cw.Error()
	case "json":
		if _, err := io.WriteString(w, "["); err != nil {
			return 0, err
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return n, err
			}
			// Keys in column order, which a map would lose.
			var obj strings.Builder
			obj.WriteByte('{')
			for i, v := range vals {
				k, _ := json.Marshal(cols[i])
				val, err := json.Marshal(duckdb.JSON(v))
				if err != nil {
					return n, err
				}
				if i > 0 {
					obj.WriteByte(',')
				}
				obj.Write(k)
				obj.WriteByte(':')
				obj.Write(val)
			}
			obj.WriteByte('}')
			data := obj.String()
			sep := ",\n "
			if n == 0 {
				sep = "\n "
			}
			if _, err := io.WriteString(w, sep+data); err != nil {
				return n, err
			}
			n++
		}
		_, err := io.WriteString(w, "\n]\n")
		return n, err
	default:
		var table [][]string
		for rows.Next() {
			n++
			if maxRows > 0 && n > int64(maxRows) {
				continue
			}
			if err := rows.Scan(ptrs...); err != nil {
				return n, err
			}
			rec := make([]string, len(cols))
			for i, v := range vals {
				if v == nil {
					rec[i] = "NULL"
				} else {
					rec[i] = text[i](v)
				}
			}
			table = append(table, rec)
		}
		textout.Table(w, cols, table)
		if maxRows > 0 && n > int64(maxRows) {
			fmt.Fprintf(w, "... showing %d of %d rows; use --max-rows 0, or -o FILE for all\n", maxRows, n)
		}
		return n, nil
	}
}
