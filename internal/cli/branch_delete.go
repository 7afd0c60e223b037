package cli

import (
	"context"
	"fmt"

	"github.com/ratdata/rat"
	"github.com/spf13/cobra"
)

func newBranchDeleteCmd(g *globals) *cobra.Command {
	return newRefDeleteCmd(g, rat.Branch)
}

// newRefDeleteCmd deletes a branch or a tag; its commits stay in history.
func newRefDeleteCmd(g *globals, kind rat.RefKind) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete a " + string(kind) + " (its commits stay reachable from other refs)",
		Example: "  rat " + string(kind) + " delete " + map[rat.RefKind]string{rat.Branch: "dev", rat.Tag: "v1"}[kind],
		Args:    exactArgs(1, "the "+string(kind)+"'s name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd, "", func(ctx context.Context, a *app) error {
				ref, err := a.Store.Ref(ctx, args[0])
				if err != nil {
					return err
				}
				if ref.Kind != kind {
					return rat.Errorf(rat.EINVALID, "%s is a %s, not a %s: use 'rat %s delete %s'", ref.Name, ref.Kind, kind, ref.Kind, ref.Name)
				}
				if err := a.Store.DeleteRef(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted %s %s (was at %s)\n", kind, ref.Name, rat.ShortID(ref.Head))
				return nil
			})
		},
	}
}
