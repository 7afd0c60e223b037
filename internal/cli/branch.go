package cli

import (
	"github.com/ratdata/rat"
	"github.com/spf13/cobra"
)

func newBranchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "branch",
		Short: "List, create and delete branches",
		Long: `Branches are isolated lines of history for all tables at once, like git
branches: create one, load or run on it, and merge it back with 'rat merge'.`,
		Example: `  rat branch create dev
  rat branch list
  rat merge dev && rat branch delete dev`,
	}
	cmd.AddCommand(newBranchListCmd(g), newBranchCreateCmd(g), newBranchDeleteCmd(g))
	return cmd
}

func newBranchListCmd(g *globals) *cobra.Command {
	return newRefListCmd(g, rat.Branch)
}
