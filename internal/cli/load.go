package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/textout"
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
			rows, read, skipped, err := loadFiles(args, format, id)
			if err != nil {
				return err
			}
			empty := read
			if len(rows) > 0 {
				empty = skipped
			}
			source, err := ingest.PlainSQL(read)
			if err != nil {
				return err
			}
			return g.withApp(cmd, branch, func(ctx context.Context, a *app) error {
				if err := a.RequireBranch(ctx, a.Config.Branch); err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				for _, f := range skipped {
					fmt.Fprintf(out, "skipped %s: %s\n", filepath.Base(f.Name), f.Emptiness())
				}
				if len(rows) == 0 {
					var done bool
					if source, done, err = loadNothing(cmd, a, id, m, empty, source); done || err != nil {
						return err
					}
				}
				return loadWrite(cmd, a, id, m, evolve, source, read, empty)
			})
		},
	}
	cmd.Flags().StringVar(&into, "into", "", "target table as layer.name (required)")
	cmd.Flags().StringVar(&mode, "mode", "append", "append to the table, or replace its rows")
	cmd.Flags().StringVarP(&branch, "branch", "b", "", "branch to commit to (default: the configured branch, main)")
	cmd.Flags().StringVar(&format, "format", "", "csv, json or parquet (default: from the file extension)")
	cmd.Flags().BoolVar(&evolve, "evolve", false, "add columns the table lacks instead of failing")
	return cmd
}

// loadWrite writes the files source reads into table id and says what it
// did: rows, files, bytes and snapshot, or why the table is empty.
func loadWrite(cmd *cobra.Command, a *app, id rat.TableID, m lake.Mode, evolve bool, source string, read, empty []ingest.File) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	start := time.Now()
	var names []string
	for _, f := range read {
		names = append(names, filepath.Base(f.Name))
	}
	res, err := a.Lake.Write(ctx, a.Config.Branch, id, source, lake.WriteOptions{
		Mode: m, Evolve: evolve,
		Message: fmt.Sprintf("load %s into %s (%s)", strings.Join(names, ", "), id, m),
	})
	if err != nil {
		return fmt.Errorf("load into %s: %w", id, ingest.ExplainFiles(read, err))
	}
	if res.Created && res.Rows == 0 {
		fmt.Fprintf(out, "created table %s on %s with no rows (%s)\n", id, a.Config.Branch, ingest.EmptySummary(empty))
		return nil
	}
	if res.Created {
		fmt.Fprintf(out, "created table %s on %s\n", id, a.Config.Branch)
	}
	if m == lake.Replace && res.Rows == 0 {
		fmt.Fprintf(out, "replaced the rows of %s on %s with no rows (%s): the table is now empty\n", id, a.Config.Branch, ingest.EmptySummary(empty))
		return nil
	}
	if len(res.Added) > 0 {
		fmt.Fprintf(out, "added columns to %s: %s\n", id, strings.Join(res.Added, ", "))
	}
	if m == lake.Replace {
		fmt.Fprintf(out, "replaced the rows of %s on %s with %s (%s, %s", id, a.Config.Branch, textout.Plural(res.Rows, "row"), textout.Plural(int64(res.Files), "file"), textout.Bytes(res.Bytes))
	} else {
		fmt.Fprintf(out, "loaded %s into %s on %s (%s, %s", textout.Plural(res.Rows, "row"), id, a.Config.Branch, textout.Plural(int64(res.Files), "file"), textout.Bytes(res.Bytes))
	}
	if res.SnapshotID != 0 {
		fmt.Fprintf(out, ", snapshot %d", res.SnapshotID)
	}
	fmt.Fprintf(out, ") in %s\n", rat.Duration(time.Since(start)))
	return nil
}

// loadFiles expands and inspects the files of a load: those with rows, the
// ones it reads and the ones it skips. Files without rows are read only
// when none has rows (their columns then shape a new table): read beside
// typed files, a header line's untyped columns would widen the types.
func loadFiles(args []string, format string, id rat.TableID) (rows, read, skipped []ingest.File, err error) {
	paths, err := ingest.ExpandFiles(args)
	if err != nil {
		return nil, nil, nil, err
	}
	files, err := ingest.PathFiles(paths, format)
	if err != nil {
		return nil, nil, nil, err
	}
	rows, empty, err := ingest.InspectFiles(files)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("load into %s: %w", id, err)
	}
	if len(rows) == 0 {
		return rows, empty, nil, nil
	}
	return rows, rows, empty, nil
}

// loadNothing handles a load whose files hold no row: nothing to append
// (done); a replace empties the table (the source it writes); a new table
// needs typed columns to exist (then source, the files' read, creates it).
func loadNothing(cmd *cobra.Command, a *app, id rat.TableID, m lake.Mode, empty []ingest.File, source string) (string, bool, error) {
	ctx := cmd.Context()
	_, err := a.Store.Table(ctx, a.Config.Branch, id)
	switch {
	case err == nil && m == lake.Append:
		fmt.Fprintf(cmd.OutOrStdout(), "no rows to load (%s): %s on %s unchanged, nothing committed\n", ingest.EmptySummary(empty), id, a.Config.Branch)
		return "", true, nil
	case err == nil:
		return "SELECT * FROM " + id.String() + " WHERE false", false, nil
	case !rat.IsCode(err, rat.ENOTFOUND):
		return "", false, err
	case !ingest.Typed(empty):
		return "", false, rat.Errorf(rat.EINVALID, "load into %s: %s: no values to tell the column types from, so %s was not created; load a file with rows first",
			id, ingest.EmptySummary(empty), id)
	}
	return source, false, nil
}
