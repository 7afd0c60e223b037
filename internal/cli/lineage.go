package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newLineageCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "lineage [SELECTOR...]",
		Short: "Show the pipeline DAG: as text, or --format dot|mermaid|json",
		Example: `  rat lineage
  rat lineage +gold.daily_revenue
  rat lineage --format mermaid > lineage.md`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd, "", func(ctx context.Context, a *app) error {
				ws, err := a.LoadWorkspace(ctx)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				switch format {
				case "mermaid":
					fmt.Fprint(out, ws.Mermaid())
					return nil
				case "dot":
					fmt.Fprint(out, ws.DOT())
					return nil
				case "json":
					return textout.JSON(out, ws.Lineage())
				case "text":
				default:
					return &usageError{msg: "rat lineage: --format wants text, dot, mermaid or json"}
				}
				selected, err := ws.Select(args, nil)
				if err != nil {
					return err
				}
				for _, p := range selected {
					ups := make([]string, len(p.Refs))
					for i, r := range p.Refs {
						ups[i] = r.String()
					}
					line := p.ID.String()
					if len(ups) > 0 {
						line += " ← " + strings.Join(ups, ", ")
					}
					fmt.Fprintln(out, line)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text, dot, mermaid or json")
	return cmd
}
