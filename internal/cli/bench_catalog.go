package cli

import "github.com/spf13/cobra"

func newBenchCatalogCmd(g *globals) *cobra.Command { return &cobra.Command{Use: "catalog"} }
