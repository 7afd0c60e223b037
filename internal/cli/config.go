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
profile defaults < workspace.yaml < environment variables < flags.

The last rows are the machine's limits: memory_limit (the container's cgroup
limit, v2 or v1, else the host's RAM), cpu_limit (the cgroup's CPU quota,
else the CPU count) and go_memory_limit (the Go runtime's soft limit rat
sets in a container unless GOMEMLIMIT is set). Profile auto picks the
largest profile whose DuckDB memory fits 75% of memory_limit; a profile's
DuckDB memory and threads are capped by the limits, and a profile chosen
larger than the machine is named in a warning.`,
		Example: `  rat config
  RAT_PROFILE=medium rat config
  RAT_PROFILE=auto rat config      # which profile fits this machine or container
  rat -C my-workspace config --json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.loadConfig(nil)
			if err != nil {
				return err
			}
			g.fitMachine(cfg)
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
