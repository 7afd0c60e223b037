package cli

import (
	"bufio"
	"fmt"

	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

// newBenchDuckDBOnlyCmd is the plain-DuckDB side of rat bench query's
// whole-process comparison: one query on DuckDB alone, with the profile's
// memory and threads, printed as rat query prints it — no configuration,
// catalog, metadata or planning. It runs in the rat binary, so it pays the
// same process start and package initialisation as rat query; the bench
// reports that cost separately.
func newBenchDuckDBOnlyCmd() *cobra.Command {
	var memoryMB, threads int
	cmd := &cobra.Command{
		Use:    `duckdb-only "SQL"`,
		Short:  "Run one query on DuckDB alone (the plain side of 'rat bench query')",
		Hidden: true,
		Args:   exactArgs(1, "one SQL statement in quotes"),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := duckdb.Open(duckdb.Options{MemoryLimitMB: memoryMB, Threads: threads})
			if err != nil {
				return err
			}
			defer db.Close()
			rows, err := db.SQL().QueryContext(cmd.Context(), args[0])
			if err != nil {
				return duckdb.UserError("query", err)
			}
			defer rows.Close()
			w := bufio.NewWriter(cmd.OutOrStdout())
			n, err := writeRows(w, rows, "table", 1000)
			if err != nil {
				return err
			}
			if err := rows.Err(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "(%s)\n", textout.Plural(n, "row"))
			return w.Flush()
		},
	}
	cmd.Flags().IntVar(&memoryMB, "memory-mb", 0, "DuckDB memory_limit in MB (0: DuckDB's default)")
	cmd.Flags().IntVar(&threads, "threads", 0, "DuckDB threads (0: DuckDB's default)")
	return cmd
}
