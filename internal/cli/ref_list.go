package cli

import (
	"context"
	"strings"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

// newRefListCmd lists branches or tags.
func newRefListCmd(g *globals, kind rat.RefKind) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List " + string(kind) + "es with their head commits",
		Example: "  rat " + string(kind) + " list\n  rat " + string(kind) + " list --json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd, "", func(ctx context.Context, a *app) error {
				refs, err := a.Store.Refs(ctx)
				if err != nil {
					return err
				}
				type row struct {
					Name    string `json:"name"`
					Head    string `json:"head"`
					Time    string `json:"time"`
					Message string `json:"message"`
				}
				var out []row
				for _, r := range refs {
					if r.Kind != kind {
						continue
					}
					c, err := a.Store.GetCommit(ctx, r.Head)
					if err != nil {
						return err
					}
					out = append(out, row{r.Name, r.Head, c.Time.Format("2006-01-02 15:04:05"), c.Message})
				}
				if asJSON {
					if out == nil {
						out = []row{}
					}
					return textout.JSON(cmd.OutOrStdout(), out)
				}
				rows := make([][]string, len(out))
				for i, r := range out {
					mark := "  "
					if r.Name == a.Config.Branch {
						mark = "* "
					}
					rows[i] = []string{mark + r.Name, rat.ShortID(r.Head), r.Time, r.Message}
				}
				textout.Table(cmd.OutOrStdout(), []string{"  " + strings.ToUpper(string(kind)), "HEAD", "TIME (UTC)", "MESSAGE"}, rows)
				return nil
			})
		},
	}
	if kind == rat.Tag {
		cmd.Short = "List tags with their commits"
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
