package cli

import (
	"github.com/ratdata/rat"
	"github.com/spf13/cobra"
)

func newTagCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tag",
		Short: "Create, list and delete tags: fixed, read-only names for a state of all tables",
	}
	cmd.AddCommand(newRefCreateCmd(g, rat.Tag), newRefListCmd(g, rat.Tag), newRefDeleteCmd(g, rat.Tag))
	return cmd
}
