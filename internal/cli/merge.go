package cli

import (
	"context"
	"fmt"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newMergeCmd(g *globals) *cobra.Command {
	var into, message string
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "merge SOURCE [--into BRANCH]",
		Short: "Merge a branch (or tag, or commit) into another branch",
		Long: `Merge SOURCE into a branch (default: main). When the target has not moved
since SOURCE forked from it, the merge is a fast-forward. Otherwise rat merges
table by table: tables changed on one side take that side's version. A table
changed on both sides conflicts, except when both sides only appended data:
then SOURCE's new data files are appended to the target, so concurrent
ingestion never blocks. On a conflict nothing is written and every
conflicting table is named. --dry-run shows what would happen.`,
		Example: `  rat merge dev
  rat merge feature/x --into staging --dry-run`,
		Args: exactArgs(1, "the branch, tag or commit to merge"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd, into, func(ctx context.Context, a *app) error {
				if err := a.RequireBranch(ctx, a.Config.Branch); err != nil {
					return err
				}
				res, err := a.Lake.Catalog(a.Config.Branch).Merge(ctx, args[0], catalog.MergeOptions{DryRun: dryRun, Message: message})
				out := cmd.OutOrStdout()
				if asJSON && (err == nil || len(res.Conflicts()) > 0) {
					if jerr := textout.JSON(out, res); jerr != nil {
						return jerr
					}
					return err
				}
				if err != nil {
					if len(res.Conflicts()) > 0 {
						printMergeTables(out, res)
					}
					return err
				}
				verb := "merged"
				if dryRun {
					verb = "would merge"
				}
				switch {
				case res.UpToDate:
					fmt.Fprintf(out, "%s is already up to date with %s\n", res.Target, res.Source)
					return nil
				case res.FastForward:
					fmt.Fprintf(out, "%s %s into %s: fast-forward to %s\n", verb, res.Source, res.Target, rat.ShortID(res.Commit))
				case dryRun:
					fmt.Fprintf(out, "%s %s into %s with a merge commit\n", verb, res.Source, res.Target)
				default:
					fmt.Fprintf(out, "%s %s into %s: merge commit %s\n", verb, res.Source, res.Target, rat.ShortID(res.Commit))
				}
				printMergeTables(out, res)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&into, "into", "", "branch to merge into (default: the configured branch, main)")
	cmd.Flags().StringVarP(&message, "message", "m", "", "commit message (default: merge SOURCE into BRANCH)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what the merge would do, write nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func printMergeTables(out interface{ Write([]byte) (int, error) }, res catalog.MergeResult) {
	if len(res.Tables) == 0 {
		return
	}
	rows := make([][]string, len(res.Tables))
	for i, t := range res.Tables {
		rows[i] = []string{t.Table.String(), string(t.Action), t.Detail}
	}
	textout.Table(out, []string{"TABLE", "ACTION", "DETAIL"}, rows)
}
