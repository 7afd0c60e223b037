package cli

import "github.com/spf13/cobra"

func newBenchQueryCmd(g *globals) *cobra.Command { return &cobra.Command{Use: "query"} }
