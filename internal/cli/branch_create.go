package cli

import (
	"context"
	"fmt"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/spf13/cobra"
)

func newBranchCreateCmd(g *globals) *cobra.Command {
	return newRefCreateCmd(g, rat.Branch)
}

// newRefCreateCmd creates a branch or a tag from a ref or commit.
func newRefCreateCmd(g *globals, kind rat.RefKind) *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "create NAME [--from REF]",
		Short: "Create a " + string(kind) + " at the head of another branch, a tag or a commit",
		Example: map[rat.RefKind]string{
			rat.Branch: "  rat branch create dev\n  rat branch create fix-v1 --from v1",
			rat.Tag:    "  rat tag create v1\n  rat tag create before-merge --from dev",
		}[kind],
		Args: exactArgs(1, "the new "+string(kind)+"'s name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := rat.ValidateUserRefName(name, kind); err != nil {
				return err
			}
			return g.withApp(cmd, "", func(ctx context.Context, a *app) error {
				if from == "" {
					from = a.Config.Branch
				}
				head, err := catalog.ResolveRef(ctx, a.Store, from)
				if err != nil {
					return err
				}
				if err := a.Store.CreateRef(ctx, rat.Ref{Name: name, Kind: kind, Head: head}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created %s %s at %s (from %s)\n", kind, name, rat.ShortID(head), from)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "branch, tag or commit to start from (default: the configured branch, main)")
	return cmd
}
