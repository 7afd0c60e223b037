package cli

import (
	"github.com/spf13/cobra"
)

func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure rat against plain DuckDB and the catalog under load",
		Example: `  rat bench query --rows 1000000
  rat bench pipeline --rows 500000
  rat bench catalog --writers 1,8
  rat bench serve
  rat bench api`,
	}
	cmd.AddCommand(newBenchQueryCmd(g), newBenchCatalogCmd(g), newBenchPipelineCmd(g), newBenchServeCmd(g), newBenchAPICmd(g), newBenchDuckDBOnlyCmd())
	return cmd
}
