package cli

import (
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newConfigCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the effective settings and where each comes from (secrets redacted)",
		Long: `Show every setting with its value and source. Precedence, lowest first:
profile defaults < workspace.yaml < environment variables < flags.`,
		Example: `  rat config
  RAT_PROFILE=medium rat config
  rat -C my-workspace config --json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.loadConfig(nil)
			if err != nil {
				return err
			}
			settings := cfg.Settings()
			if asJSON {
				return textout.JSON(cmd.OutOrStdout(), settings)
			}
			rows := make([][]string, len(settings))
			for i, s := range settings {
				rows[i] = []string{s.Key, s.Value, s.Source}
			}
			textout.Table(cmd.OutOrStdout(), []string{"KEY", "VALUE", "SOURCE"}, rows)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
