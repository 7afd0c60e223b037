package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newDescribeCmd(g *globals) *cobra.Command {
	var branch string
	var asJSON, files, snapshotID bool
	cmd := &cobra.Command{
		Use:   "describe layer.name",
		Short: "Show a table's schema, snapshots, files, rows and bytes",
		Long: `Show a table's schema, snapshots, files, rows and bytes, or a view's SQL.

--snapshot-id prints only the id of the current snapshot, for scripts: read
the table as it is now later with 'rat query --at ID'.`,
		Example: `  rat describe bronze.sales
  rat describe bronze.sales --branch dev --files
  rat describe bronze.sales --json
  SNAP=$(rat describe bronze.sales --snapshot-id)
  rat query "SELECT count(*) FROM bronze.sales" --at "$SNAP"`,
		Args: exactArgs(1, "one table as layer.name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := rat.ParseTableID(args[0])
			if err != nil {
				return err
			}
			return g.withApp(cmd, branch, func(ctx context.Context, a *app) error {
				info, err := a.Lake.Describe(ctx, a.Config.Branch, id, files || asJSON)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if snapshotID {
					switch {
					case info.Kind == "view":
						return rat.Errorf(rat.EINVALID, "%s is a view: it has no snapshots (its SQL runs at query time)", info.Table)
					case info.Snapshot == 0:
						return rat.Errorf(rat.ENOTFOUND, "%s on %s has no snapshot yet: load or build it first", info.Table, info.Ref)
					}
					fmt.Fprintln(out, info.Snapshot)
					return nil
				}
				if asJSON {
					return textout.JSON(out, info)
				}
				if info.Kind == "view" {
					// A view stores its SQL, no rows: they are computed when it is read.
					fmt.Fprintf(out, "view      %s on %s\n", info.Table, info.Ref)
					fmt.Fprintf(out, "commit    %s\n\n", rat.ShortID(info.LastCommit))
					fmt.Fprintln(out, strings.TrimSpace(info.SQL))
					return nil
				}
				printTableInfo(out, info, files)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&branch, "branch", "b", "", "branch or tag (default: the configured branch, main)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (includes the data files)")
	cmd.Flags().BoolVar(&files, "files", false, "list the current data files")
	cmd.Flags().BoolVar(&snapshotID, "snapshot-id", false, "print only the current snapshot's id (for --at)")
	cmd.MarkFlagsMutuallyExclusive("snapshot-id", "json")
	cmd.MarkFlagsMutuallyExclusive("snapshot-id", "files")
	return cmd
}

// printTableInfo prints a table's summary, columns and snapshots, and with
// files its data files.
func printTableInfo(out io.Writer, info lake.TableInfo, files bool) {
	fmt.Fprintf(out, "table     %s on %s\n", info.Table, info.Ref)
	fmt.Fprintf(out, "rows      %d in %s (%s)\n", info.Rows, textout.Plural(info.DataFiles, "file"), textout.Bytes(info.Bytes))
	fmt.Fprintf(out, "location  %s\n", info.Location)
	if info.PartitionBy == "" {
		fmt.Fprintf(out, "partition none (spec %d)\n", info.PartitionSpecID)
	} else {
		fmt.Fprintf(out, "partition %s (spec %d)\n", info.PartitionBy, info.PartitionSpecID)
	}
	fmt.Fprintf(out, "commit    %s\n\n", rat.ShortID(info.LastCommit))
	cols := make([][]string, len(info.Columns))
	for i, c := range info.Columns {
		null := "NULL"
		if c.Required {
			null = "NOT NULL"
		}
		cols[i] = []string{strconv.Itoa(c.ID), c.Name, c.Type, null}
	}
	textout.Table(out, []string{"ID", "COLUMN", "TYPE", "NULLS"}, cols)
	fmt.Fprintln(out)
	snaps := make([][]string, 0, len(info.Snapshots))
	for i := len(info.Snapshots) - 1; i >= 0; i-- {
		s := info.Snapshots[i]
		mark := ""
		if s.Current {
			mark = "*"
		}
		snaps = append(snaps, []string{mark + strconv.FormatInt(s.ID, 10), s.Time.Format("2006-01-02 15:04:05"), s.Operation,
			"+" + strconv.FormatInt(s.Added, 10), "-" + strconv.FormatInt(s.Removed, 10), strconv.FormatInt(s.Rows, 10)})
	}
	if len(snaps) == 0 {
		fmt.Fprintln(out, "no snapshots: the table is empty")
	} else {
		textout.Table(out, []string{"SNAPSHOT", "TIME (UTC)", "OPERATION", "ADDED", "DELETED", "TOTAL ROWS"}, snaps)
	}
	if files {
		fmt.Fprintln(out)
		rows := make([][]string, len(info.Files))
		for i, f := range info.Files {
			rows[i] = []string{f.Location, strconv.FormatInt(f.Records, 10), textout.Bytes(f.Bytes)}
		}
		textout.Table(out, []string{"FILE", "ROWS", "SIZE"}, rows)
	}
}
