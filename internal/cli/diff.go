package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newDiffCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "diff FROM TO",
		Short:   "Show the tables that differ between two branches, tags or commits",
		Example: "  rat diff main dev",
		Args:    exactArgs(2, "two refs, for example main dev"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd, "", func(ctx context.Context, a *app) error {
				diffs, err := a.Lake.Diff(ctx, args[0], args[1])
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if asJSON {
					if diffs == nil {
						return textout.JSON(out, []any{})
					}
					return textout.JSON(out, diffs)
				}
				if len(diffs) == 0 {
					fmt.Fprintf(out, "no differences between %s and %s\n", args[0], args[1])
					return nil
				}
				rows := make([][]string, len(diffs))
				for i, d := range diffs {
					if d.Kind == "view" { // SQL, no rows to count
						from, to := "view", "view"
						switch d.Change {
						case "added":
							from = "-"
						case "removed":
							to = "-"
						}
						rows[i] = []string{d.Table, d.Change, from, to, ""}
						continue
					}
					delta := d.RowsTo - d.RowsFrom
					sign := "+"
					if delta < 0 {
						sign = ""
					}
					rows[i] = []string{d.Table, d.Change, strconv.FormatInt(d.RowsFrom, 10), strconv.FormatInt(d.RowsTo, 10), sign + strconv.FormatInt(delta, 10)}
				}
				textout.Table(out, []string{"TABLE", "CHANGE", "ROWS " + args[0], "ROWS " + args[1], "DELTA"}, rows)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
