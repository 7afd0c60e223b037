package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newTablesCmd(g *globals) *cobra.Command {
	var branch string
	var asJSON, all bool
	cmd := &cobra.Command{
		Use:   "tables",
		Short: "List the tables of a branch with their size",
		Example: `  rat tables
  rat tables --branch dev
  rat tables --all --json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd, branch, func(ctx context.Context, a *app) error {
				list, err := a.Lake.Summaries(ctx, a.Config.Branch)
				if err != nil {
					return err
				}
				if !all {
					// rat's own tables (the file registry) live in the _rat layer.
					kept := list[:0]
					for _, s := range list {
						if !strings.HasPrefix(s.Table, "_rat.") {
							kept = append(kept, s)
						}
					}
					list = kept
				}
				if asJSON {
					return textout.JSON(cmd.OutOrStdout(), list)
				}
				if len(list) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "no tables on %s yet: load one with 'rat load FILE --into bronze.name'\n", a.Config.Branch)
					return nil
				}
				rows := make([][]string, len(list))
				for i, s := range list {
					if s.Kind == "view" {
						rows[i] = []string{s.Table, "view", "", "", "", ""}
						continue
					}
					rows[i] = []string{s.Table, "table", strconv.FormatInt(s.Rows, 10), strconv.FormatInt(s.Files, 10), textout.Bytes(s.Bytes), s.Updated.Format("2006-01-02 15:04:05")}
				}
				textout.Table(cmd.OutOrStdout(), []string{"TABLE", "KIND", "ROWS", "FILES", "SIZE", "UPDATED (UTC)"}, rows)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&branch, "branch", "b", "", "branch or tag (default: the configured branch, main)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&all, "all", false, "include rat's own tables (layer _rat: the file registry)")
	return cmd
}
