package cli

import (
	"fmt"

	ratapp "github.com/ratdata/rat/internal/app"
	"github.com/ratdata/rat/internal/config"
	"github.com/spf13/cobra"
)

func newDBCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "db",
		Short:   "Manage the schema of the catalog database and the run queue",
		Example: "  rat db migrate",
	}
	cmd.AddCommand(newDBMigrateCmd(g))
	return cmd
}

func newDBMigrateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the catalog's and the run queue's schema, then exit",
		Long: `Create or upgrade the tables of the catalog database (RAT_CATALOG_URL:
PostgreSQL, or .rat/catalog.db) and of the run queue (the same Postgres
database, or .rat/queue.db), then exit. Nothing else is opened: no DuckDB,
no warehouse, no S3, so it runs before the object store is up.

Every rat command brings the schema up to date when it opens the catalog,
under a lock, so this step is never required; a deployment runs it once
before a rolling upgrade (a Kubernetes Job, a Compose one-shot service) so
that the new version's serve and worker processes start on a current schema
instead of racing to migrate it. A database written by a newer rat is
refused: upgrade rat instead.

Not to be confused with 'rat migrate', which copies a whole workspace to
another catalog and warehouse.`,
		Example: `  rat db migrate
  RAT_CATALOG_URL=postgres://rat@db:5432/rat rat db migrate`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.loadConfig(nil)
			if err != nil {
				return err
			}
			if err := ratapp.MigrateSchemas(cmd.Context(), cfg); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "catalog and run queue schemas are current: %s\n", config.RedactURL(cfg.CatalogURL))
			return nil
		},
	}
}
