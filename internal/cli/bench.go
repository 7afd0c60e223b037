package cli

import (
	"github.com/spf13/cobra"
)

func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure rat against plain DuckDB and the catalog under load",
	}
	cmd.AddCommand(newBenchQueryCmd(g), newBenchCatalogCmd(g), newBenchPipelineCmd(g), newBenchServeCmd(g), newBenchDuckDBOnlyCmd())
	return cmd
}
