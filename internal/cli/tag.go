package cli

import (
	"github.com/ratdata/rat"
	"github.com/spf13/cobra"
)

func newTagCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tag",
		Short: "Create, list and delete tags: fixed, read-only names for a state of all tables",
		Long: `Tags name a state of all tables that never moves: read it with --branch TAG
(rat query, rat tables, rat describe); loads and runs into a tag are refused.`,
		Example: `  rat tag create v1
  rat query "SELECT count(*) FROM bronze.sales" --branch v1
  rat tag list`,
	}
	cmd.AddCommand(newRefCreateCmd(g, rat.Tag), newRefListCmd(g, rat.Tag), newRefDeleteCmd(g, rat.Tag))
	return cmd
}
