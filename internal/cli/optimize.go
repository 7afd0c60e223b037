package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newOptimizeCmd(g *globals) *cobra.Command {
	var (
		dryRun   bool
		asJSON   bool
		branch   string
		targetMB int
		minSmall int
		sortBy   []string
	)
	cmd := &cobra.Command{
		Use:   "optimize [TABLE...]",
		Short: "Compact small data files into fewer, larger (optionally sorted) files",
		Long: `Frequent small writes (landing sensors, short schedules) leave tables of
thousands of tiny files, and every query pays to plan and open them all.
rat optimize rewrites the small data files of each table (all tables of the
branch, or the TABLEs named) into files of about the target size.

  - A file under half of the target size is small. In each partition with
    at least --min-small-files small files (maintenance.optimize.min_small_files,
    default 2), DuckDB reads them and writes their rows again as files of
    about --target-file-size-mb (maintenance.optimize.target_file_size_mb;
    default by profile: tiny 32, small 64, medium and large 128). Files of
    different partitions or partition specs are never mixed.
  - The rows are written sorted by the table's sort_by (a pipeline's
    sort_by: [col, ...] or -- @sort_by: col, ...; or --sort-by), which lets
    DuckDB skip row groups on filters of those columns. A sort key naming a
    missing column is refused before anything is written.
  - DuckDB streams the files (memory stays within the profile's DuckDB
    memory; a sort spills to its temp directory).

Each table is one commit that 'rat log' shows ("optimize: bronze.x: 2,000
files → 3"). It replaces exactly the files it read: rows appended while it
runs are kept. If a concurrent commit deleted or replaced a file it read,
optimize plans that table again from its new state, and after a few tries
gives up with a conflict (exit status 3), leaving the table as the other
writer committed it. The files replaced stay readable by time travel until
'rat maintain expire' removes their snapshots. A second optimize with
nothing small to merge changes nothing.

--dry-run shows the plan (files to rewrite, estimated files after) and
changes nothing.`,
		Example: `  rat optimize --dry-run
  rat optimize
  rat optimize bronze.sensor_readings --target-file-size-mb 256
  rat optimize bronze.events --sort-by event_time,device_id --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var tables []rat.TableID
			for _, a := range args {
				id, err := rat.ParseTableID(a)
				if err != nil {
					return err
				}
				tables = append(tables, id)
			}
			if cmd.Flags().Changed("target-file-size-mb") && (targetMB < 1 || targetMB > config.MaxTargetFileSizeMB) {
				return &usageError{msg: fmt.Sprintf("--target-file-size-mb %d: want a size in MB from 1 to %d (see 'rat optimize --help')", targetMB, config.MaxTargetFileSizeMB)}
			}
			if cmd.Flags().Changed("min-small-files") && minSmall < 2 {
				return &usageError{msg: fmt.Sprintf("--min-small-files %d: want 2 or more files (see 'rat optimize --help')", minSmall)}
			}
			if len(sortBy) > 0 && len(tables) == 0 {
				return &usageError{msg: "--sort-by: name the tables to sort (rat optimize TABLE... --sort-by COL,...); for all tables set sort_by in each pipeline"}
			}
			return g.withApp(cmd, branch, func(ctx context.Context, a *app) error {
				opts, err := a.OptimizeOptions(ctx)
				if err != nil {
					return err
				}
				opts.Tables, opts.DryRun, opts.Branch = tables, dryRun, a.Config.Branch
				if cmd.Flags().Changed("target-file-size-mb") {
					opts.TargetFileBytes = int64(targetMB) << 20
				}
				if cmd.Flags().Changed("min-small-files") {
					opts.MinSmallFiles = minSmall
				}
				for _, id := range tables {
					if len(sortBy) > 0 {
						opts.SortBy[id] = lake.SortBy{Columns: sortBy, From: "--sort-by"}
					}
				}
				res, err := a.Lake.Optimize(ctx, opts)
				if err != nil {
					return err
				}
				if asJSON {
					return textout.JSON(cmd.OutOrStdout(), res)
				}
				printOptimize(cmd, opts, res)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be rewritten and change nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&branch, "branch", "", "branch to compact (default: the configured branch)")
	cmd.Flags().IntVar(&targetMB, "target-file-size-mb", 0, "size of the files written, in MB (default: maintenance.optimize.target_file_size_mb, else by profile)")
	cmd.Flags().IntVar(&minSmall, "min-small-files", 0, "compact a partition once it has this many small files (default: maintenance.optimize.min_small_files, else 2)")
	cmd.Flags().StringSliceVar(&sortBy, "sort-by", nil, "sort the rewritten rows of the TABLEs named by these columns (default: each pipeline's sort_by)")
	return cmd
}

func printOptimize(cmd *cobra.Command, opts lake.OptimizeOptions, res lake.OptimizeResult) {
	w := cmd.OutOrStdout()
	verb := "rewritten"
	if opts.DryRun {
		verb = "would rewrite"
	}
	fmt.Fprintf(w, "branch %s: target file size %s, partitions with at least %d small files\n", res.Branch, textout.Bytes(opts.TargetFileBytes), opts.MinSmallFiles)
	if len(res.Tables) == 0 {
		fmt.Fprintln(w, "no table to optimize")
		return
	}
	rows := make([][]string, len(res.Tables))
	changed := 0
	for i, t := range res.Tables {
		if t.Rewritten > 0 {
			changed++
		}
		rows[i] = []string{t.Table.String(), textout.Count(int64(t.FilesBefore)), textout.Count(int64(t.FilesAfter)),
			textout.Count(int64(t.Rewritten)), textout.Bytes(t.BytesRead), strings.Join(t.SortBy, ",")}
	}
	textout.Table(w, []string{"TABLE", "FILES", "AFTER", strings.ToUpper(verb), "BYTES", "SORT BY"}, rows)
	switch {
	case changed == 0:
		fmt.Fprintln(w, "nothing to compact")
	case opts.DryRun:
		fmt.Fprintf(w, "would compact %s (file counts after are estimates); nothing changed\n", textout.Plural(int64(changed), "table"))
	default:
		fmt.Fprintf(w, "compacted %s, one commit each (see 'rat log')\n", textout.Plural(int64(changed), "table"))
	}
}
