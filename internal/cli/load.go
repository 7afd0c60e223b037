package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/lake"
	"github.com/spf13/cobra"
)

func newLoadCmd(g *globals) *cobra.Command {
	var into, mode, branch, format string
	var evolve bool
	cmd := &cobra.Command{
		Use:   "load FILE... --into layer.name",
		Short: "Load CSV, JSON/NDJSON or Parquet files into a table",
		Long: `Load files into an Iceberg table in one commit. The table is created on the
first load, with column types detected from the files. Later loads append
(or replace, with --mode replace); columns the table lacks are an error unless
--evolve adds them. A load that fails commits nothing.

The format comes from the file extension (.csv, .tsv, .json, .ndjson, .jsonl,
.parquet, optionally compressed .gz/.zst) unless --format says otherwise.

Files are checked first: a 0-byte file, a CSV line that is not UTF-8 and a
damaged Parquet file are errors that name the file (and line, or row group
and column). A file without rows (a CSV header line only) adds nothing:
appended to a table it commits nothing, and it cannot create one (its
columns have no types); a 0-row Parquet file creates its typed empty table.`,
		Example: `  rat load sales.csv --into bronze.sales
  rat load 'exports/*.parquet' --into bronze.orders --mode replace
  rat load more.json --into bronze.sales --branch dev --evolve`,
		Args: minArgs(1, "one or more files to load, for example sales.csv"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if into == "" {
				return &usageError{msg: "rat load: --into layer.name is required (for example --into bronze.sales)"}
			}
			id, err := rat.ParseTableID(into)
			if err != nil {
				return err
			}
			m, err := lake.ParseMode(mode)
			if err != nil {
				return err
			}
			files, err := expandFiles(args)
			if err != nil {
				return err
			}
			if format, err = filesFormat(files, format); err != nil {
				return err
			}
			in, err := inspectFiles(files, format)
			if err != nil {
				return fmt.Errorf("load into %s: %w", id, err)
			}
			source, err := readSource(in.read(), format)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			a, err := g.open(ctx, map[string]string{"branch": branch})
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.RequireBranch(ctx, a.Config.Branch); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, f := range in.skipped() {
				fmt.Fprintf(out, "skipped %s: %s\n", filepath.Base(f), in.why(f))
			}
			if len(in.rows) == 0 {
				// No file holds a row: nothing to append; a replace empties
				// the table; a new table needs typed columns to exist.
				_, err := a.Store.Table(ctx, a.Config.Branch, id)
				switch {
				case err == nil && m == lake.Append:
					fmt.Fprintf(out, "no rows to load (%s): %s on %s unchanged, nothing committed\n", in.summary(), id, a.Config.Branch)
					return nil
				case err == nil:
					source = "SELECT * FROM " + id.String() + " WHERE false"
				case !rat.IsCode(err, rat.ENOTFOUND):
					return err
				case !in.typed():
					return rat.Errorf(rat.EINVALID, "load into %s: %s: no values to tell the column types from, so %s was not created; load a file with rows first",
						id, in.summary(), id)
				}
			}
			start := time.Now()
			var names []string
			for _, f := range in.read() {
				names = append(names, filepath.Base(f))
			}
			res, err := a.Lake.Write(ctx, a.Config.Branch, id, source, lake.WriteOptions{
				Mode: m, Evolve: evolve,
				Message: fmt.Sprintf("load %s into %s (%s)", strings.Join(names, ", "), id, m),
			})
			if err != nil {
				return fmt.Errorf("load into %s: %w", id, ingest.Explain(files, err))
			}
			if res.Created && res.Rows == 0 {
				fmt.Fprintf(out, "created table %s on %s with no rows (%s)\n", id, a.Config.Branch, in.summary())
				return nil
			}
			if res.Created {
				fmt.Fprintf(out, "created table %s on %s\n", id, a.Config.Branch)
			}
			if m == lake.Replace && res.Rows == 0 {
				fmt.Fprintf(out, "replaced the rows of %s on %s with no rows (%s): the table is now empty\n", id, a.Config.Branch, in.summary())
				return nil
			}
			if len(res.Added) > 0 {
				fmt.Fprintf(out, "added columns to %s: %s\n", id, strings.Join(res.Added, ", "))
			}
			if m == lake.Replace {
				fmt.Fprintf(out, "replaced the rows of %s on %s with %s (%s, %s", id, a.Config.Branch, plural(res.Rows, "row"), plural(int64(res.Files), "file"), humanBytes(res.Bytes))
			} else {
				fmt.Fprintf(out, "loaded %s into %s on %s (%s, %s", plural(res.Rows, "row"), id, a.Config.Branch, plural(int64(res.Files), "file"), humanBytes(res.Bytes))
			}
			if res.SnapshotID != 0 {
				fmt.Fprintf(out, ", snapshot %d", res.SnapshotID)
			}
			fmt.Fprintf(out, ") in %s\n", rat.Duration(time.Since(start)))
			return nil
		},
	}
	cmd.Flags().StringVar(&into, "into", "", "target table as layer.name (required)")
	cmd.Flags().StringVar(&mode, "mode", "append", "append to the table, or replace its rows")
	cmd.Flags().StringVarP(&branch, "branch", "b", "", "branch to commit to (default: the configured branch, main)")
	cmd.Flags().StringVar(&format, "format", "", "csv, json or parquet (default: from the file extension)")
	cmd.Flags().BoolVar(&evolve, "evolve", false, "add columns the table lacks instead of failing")
	return cmd
}

// expandInputs is expandFiles that also accepts directories (their files,
// not recursively, hidden ones skipped).
func expandInputs(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if st, err := os.Stat(a); err == nil && st.IsDir() {
			entries, err := os.ReadDir(a)
			if err != nil {
				return nil, err
			}
			n := 0
			for _, e := range entries {
				if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
					out = append(out, filepath.Join(a, e.Name()))
					n++
				}
			}
			if n == 0 {
				return nil, rat.Errorf(rat.ENOTFOUND, "directory %s holds no files", a)
			}
			continue
		}
		out = append(out, a)
	}
	return expandFiles(out)
}

// expandFiles resolves globs and checks that every file exists.
func expandFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		if strings.ContainsAny(a, "*?[") {
			matches, err := filepath.Glob(a)
			if err != nil {
				return nil, rat.Errorf(rat.EINVALID, "bad pattern %q: %s", a, err.Error())
			}
			if len(matches) == 0 {
				return nil, rat.Errorf(rat.ENOTFOUND, "no file matches %q: check the path and quoting", a)
			}
			files = append(files, matches...)
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			abs, _ := filepath.Abs(a)
			return nil, rat.Errorf(rat.ENOTFOUND, "file %s not found (looked at %s): check the path", a, abs)
		}
		if st.IsDir() {
			return nil, rat.Errorf(rat.EINVALID, "%s is a directory: pass files, or a pattern like '%s/*.csv'", a, strings.TrimSuffix(a, "/"))
		}
		files = append(files, a)
	}
	for i, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		files[i] = abs
	}
	return files, nil
}

// filesFormat is the format of the files: the one --format names, else
// the one their extensions tell (all the same).
func filesFormat(files []string, format string) (string, error) {
	if format != "" {
		switch format {
		case "csv", "json", "parquet":
			return format, nil
		}
		return "", rat.Errorf(rat.EINVALID, "--format %q: want csv, json or parquet", format)
	}
	for _, f := range files {
		ff, err := ingest.Format(f)
		if err != nil {
			return "", rat.Errorf(rat.EINVALID, "cannot tell the format of %s from its extension: add --format csv|json|parquet", f)
		}
		if format != "" && ff != format {
			return "", rat.Errorf(rat.EINVALID, "files mix formats (%s and %s): load each format separately", format, ff)
		}
		format = ff
	}
	return format, nil
}

// readSource builds the DuckDB SELECT that reads the files.
func readSource(files []string, format string) (string, error) {
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = duckdb.Quote(f)
	}
	list := "[" + strings.Join(quoted, ", ") + "]"
	switch format {
	case "csv":
		// Strict reads; a failure is explained with file:line afterwards.
		delim := ingest.Delimiter(files[0])
		parts := make([]string, len(files))
		for i, f := range files {
			if ingest.Delimiter(f) != delim {
				return "", rat.Errorf(rat.EINVALID, "files mix CSV and TSV: load each kind separately")
			}
			parts[i] = "SELECT * FROM " + ingest.CSVRead(f, delim)
		}
		return strings.Join(parts, " UNION ALL BY NAME "), nil
	case "json":
		return "SELECT * FROM read_json_auto(" + list + ", union_by_name = true)", nil
	case "parquet":
		return "SELECT * FROM read_parquet(" + list + ", union_by_name = true)", nil
	}
	return "", rat.Errorf(rat.EINVALID, "--format %q: want csv, json or parquet", format)
}

// inspected is what ingest.Inspect found in the files of a load.
type inspected struct {
	format string
	rows   []string // files with rows
	empty  []string // files without a row
	kind   map[string]ingest.Contents
}

// inspectFiles checks every file before DuckDB reads it: a file of 0 bytes
// or a damaged Parquet file is an error that names it.
func inspectFiles(files []string, format string) (*inspected, error) {
	in := &inspected{format: format, kind: map[string]ingest.Contents{}}
	for _, f := range files {
		c, err := ingest.Inspect(f, format)
		if err != nil {
			return nil, err
		}
		in.kind[f] = c
		if c == ingest.HasRows {
			in.rows = append(in.rows, f)
		} else {
			in.empty = append(in.empty, f)
		}
	}
	return in, nil
}

// read lists the files the load reads: those with rows, or when none has
// any, the others (for their columns).
func (in *inspected) read() []string {
	if len(in.rows) > 0 {
		return in.rows
	}
	return in.empty
}

// skipped lists the files without rows left out of a load of others: read
// with them, a header line's untyped columns would widen the types.
func (in *inspected) skipped() []string {
	if len(in.rows) > 0 {
		return in.empty
	}
	return nil
}

// why says what an empty file holds.
func (in *inspected) why(f string) string {
	switch {
	case in.kind[f] == ingest.NoRecords:
		return "no records"
	case in.format == "csv":
		return "a header line only, no rows"
	}
	return "no rows"
}

// summary says which files hold no rows.
func (in *inspected) summary() string {
	if len(in.empty) == 1 {
		return filepath.Base(in.empty[0]) + " holds " + in.why(in.empty[0])
	}
	names := make([]string, len(in.empty))
	for i, f := range in.empty {
		names[i] = filepath.Base(f)
	}
	return strings.Join(names, ", ") + " hold no rows"
}

// typed reports whether the empty files still give their columns' types
// (Parquet does; a CSV header or an empty JSON array does not).
func (in *inspected) typed() bool {
	for _, f := range in.empty {
		if in.format != "parquet" || in.kind[f] != ingest.NoRows {
			return false
		}
	}
	return true
}
