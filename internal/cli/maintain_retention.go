package cli

import (
	"context"
	"fmt"

	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newMaintainRetentionCmd(g *globals) *cobra.Command {
	var (
		dryRun bool
		asJSON bool
		branch string
	)
	cmd := &cobra.Command{
		Use:   "retention [TABLE...]",
		Short: "Delete the rows older than each table's retention_days",
		Long: `Deletes the rows older than their table's retention (all tables that have
one, or the TABLEs named) on a branch, as one commit per table that loses
rows (see 'rat log'). A table with nothing old gets no commit.

Retention is set in workspace.yaml for every table of a layer, and in a
pipeline's YAML for its table (the pipeline's wins):
  layers:
    bronze:
      retention_days: 30            # rows older than 30 days go
      retention_column: event_time  # optional
  # pipelines/silver/orders/config.yaml
  retention_days: 365

The age is measured on retention_column, a date or timestamp column. By
default that is _ingested_at (the time rat ingested the row) when the table
has it, else the column of the table's time partition (day(col),
month(col), year(col), hour(col), or a date or timestamp partition column).
A table with neither needs retention_column. Rows whose column is NULL are
kept.

Files whose rows are all older than the cutoff (known from their partition
values or the column's statistics) are dropped from the table without
reading or writing them; files that hold old and new rows are rewritten
with the new rows only. Each table's delete is atomic: a crash leaves the
table as it was. The rows stay readable by time travel (--at) until
'rat maintain expire' removes the old snapshots.

--dry-run shows, per table, the cutoff, the rows that would go and the
files dropped whole or rewritten, and changes nothing.`,
		Example: `  rat maintain retention --dry-run
  rat maintain retention
  rat maintain retention bronze.events --branch dev
  rat query "SELECT count(*) FROM bronze.events" --at 2026-01-01   # before the delete`,
		RunE: func(cmd *cobra.Command, args []string) error {
			tables, err := tableArgs(args)
			if err != nil {
				return err
			}
			return g.withApp(cmd, branch, func(ctx context.Context, a *app) error {
				opts, err := a.RetentionOptions(ctx, dryRun)
				if err != nil {
					return err
				}
				opts.Tables = tables
				res, err := a.Lake.Retention(ctx, opts)
				if err != nil {
					return err
				}
				if asJSON {
					return textout.JSON(cmd.OutOrStdout(), res)
				}
				printRetention(cmd, opts, res)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be deleted and change nothing")
	cmd.Flags().StringVar(&branch, "branch", "", "branch to delete on (default: the configured branch)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printRetention(cmd *cobra.Command, opts lake.RetentionOptions, res lake.RetentionResult) {
	w := cmd.OutOrStdout()
	verb := "deleted"
	if opts.DryRun {
		verb = "would delete"
	}
	if res.Checked == 0 {
		fmt.Fprintf(w, "no table on branch %s has a retention: set layers.<layer>.retention_days in workspace.yaml or retention_days in a pipeline\n", res.Branch)
		return
	}
	if len(res.Tables) == 0 {
		fmt.Fprintf(w, "nothing to delete on branch %s: %s checked, none holds rows older than its retention\n", res.Branch, textout.Plural(int64(res.Checked), "table"))
		return
	}
	rows := make([][]string, len(res.Tables))
	for i, t := range res.Tables {
		rows[i] = []string{t.Table.String(), t.Column, t.Cutoff.Format("2006-01-02 15:04:05Z07:00"), fmt.Sprint(t.Rows),
			fmt.Sprintf("%d (%s)", t.FilesDropped, textout.Bytes(t.BytesDropped)), fmt.Sprintf("%d (%s)", t.FilesRewritten, textout.Bytes(t.BytesRewritten))}
	}
	textout.Table(w, []string{"TABLE", "COLUMN", "CUTOFF", "ROWS", "FILES DROPPED", "FILES REWRITTEN"}, rows)
	fmt.Fprintf(w, "%s %s from %s on branch %s (%s checked)\n", verb, textout.Plural(res.Rows, "row"), textout.Plural(int64(len(res.Tables)), "table"), res.Branch, textout.Plural(int64(res.Checked), "table"))
}
