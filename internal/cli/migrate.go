package cli

import (
	"context"
	"os"

	"github.com/ratdata/rat"
	ratapp "github.com/ratdata/rat/internal/app"
	"github.com/ratdata/rat/internal/migrate"
	"github.com/spf13/cobra"
)

// migrateLong is rat migrate's --help text.
const migrateLong = `Copies this workspace's warehouse (every data, delete, manifest, metadata and view file) and its
catalog (every commit of every branch and tag, runs, logs, trigger state) to a new place, then checks
every branch and tag: the same heads, and per table the same snapshot, schema, row count and content
checksum on both sides. The source is only read; switching over is setting the printed variables.

--to-warehouse: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX (Google Cloud Storage's S3 interoperability,
endpoint https://storage.googleapis.com unless --to-s3-endpoint), file:///PATH or a directory. The
bucket must exist. The target's S3 keys come from RAT_MIGRATE_S3_ACCESS_KEY and
RAT_MIGRATE_S3_SECRET_KEY, else the source's S3_ACCESS_KEY and S3_SECRET_KEY.
--to-catalog: postgres://USER@HOST/DB, sqlite:PATH or a file path.

Files are copied first (streamed, --workers at a time, each through SHA-256 as it is sent; the target
store checks what it receives: S3 the signed checksum of every chunk, a directory the size after fsync),
the catalog last. Iceberg metadata files, manifest lists and manifests are rewritten as they are copied
so that every location in them names the target (other engines read the tables there). The SHA-256 of
every file copied is recorded at the target (rat-migrate/). The landing files of an embedded workspace
(its landing/ directory) are copied to <warehouse>/_landing/ when the target warehouse is on S3, checked
the same way. Interrupted (even kill -9), run the same command again: files recorded and unchanged on
both sides are skipped unread, other files already at the target are read on both sides and compared. A
target warehouse that is not empty is refused unless it holds a partial copy of the same source (rat-migrate.json at its root names the source).

--verify fast (the default) compares per branch, tag and table the snapshot id, the schema and the row
count from Iceberg metadata, and a content checksum over the table's data files as they were copied
(their SHA-256): nothing is scanned. --verify deep also reads every row on both sides with DuckDB.

Short downtime (--catch-up): while the source stays in use, run a first pass with --to-warehouse and
--to-catalog; then stop writers (rat serve, workers, schedules) and run the same command with
--catch-up: files unchanged since the first pass are skipped unread, new ones copied, the catalog
brought up to date (new commits, moved heads, deleted branches, finished and pruned runs, new logs,
trigger state), everything verified; then switch the variables. A target catalog written to since the
first pass (in use already) is refused. Rollback: the source is untouched, set the old variables again.

At the end rat migrate prints the environment of the new setup (secrets named, never written);
--env-out FILE writes it to a file. Exit status 3 when the verification finds a difference.`

func newMigrateCmd(g *globals) *cobra.Command {
	var t ratapp.Target
	var workers int
	var dryRun, asJSON, catchUp bool
	var envOut, verify string
	cmd := &cobra.Command{
		Use:   "migrate --to-catalog URL | --to-warehouse URL",
		Short: "Copy the catalog and the warehouse elsewhere (SQLite+disk → Postgres+S3 and back), verified",
		Long:  migrateLong,
		Example: `  rat migrate --to-warehouse s3://lake/prod --to-catalog postgres://rat@db/rat --dry-run
  RAT_MIGRATE_S3_ACCESS_KEY=… RAT_MIGRATE_S3_SECRET_KEY=… rat migrate --to-warehouse s3://lake/prod --to-s3-endpoint http://minio:9000 --to-catalog postgres://rat@db/rat --env-out prod.env
  rat migrate --to-warehouse /srv/rat/warehouse --to-catalog sqlite:/srv/rat/catalog.db --json --verify deep
  rat migrate --to-warehouse s3://lake/prod --to-catalog postgres://rat@db/rat             # while in use
  rat migrate --to-warehouse s3://lake/prod --to-catalog postgres://rat@db/rat --catch-up  # writers stopped`,
		Args: exactArgs(0, "no arguments: the target is --to-catalog and --to-warehouse"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd, "", func(ctx context.Context, a *app) error {
				m, err := ratapp.OpenMigration(ctx, a.App, t, dryRun, os.LookupEnv)
				if err != nil {
					return err
				}
				defer m.Close()
				m.Options.Workers, m.Options.CatchUp, m.Options.Verify = workers, catchUp, verify
				rep, env, err := runMigration(cmd, m, asJSON, "the source", "rat migrate")
				if err == nil && envOut != "" && !rep.DryRun {
					err = os.WriteFile(envOut, []byte(env), 0o600)
				}
				return err
			})
		},
	}
	f := cmd.Flags()
	targetFlags(cmd, &t, "")
	f.IntVar(&workers, "workers", 8, "files copied at once")
	f.BoolVar(&dryRun, "dry-run", false, "list what would be copied (files, bytes, commits, rows) and a time estimate; write nothing")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&catchUp, "catch-up", false, "a final pass after a finished one: skip files unchanged since then without reading them; the catalog catches up")
	f.StringVar(&envOut, "env-out", "", "write the new setup's environment (no secrets) to this file")
	verifyFlag(cmd, &verify)
	return cmd
}

// runMigration runs m and prints its report with the new setup's
// environment (returned as lines too). A finished migration whose
// verification found a difference is an ECONFLICT error that says to run
// rerun again; source names what the target was compared with.
func runMigration(cmd *cobra.Command, m *ratapp.Migration, asJSON bool, source, rerun string) (*migrate.Report, string, error) {
	m.Options.Progress = terminalProgress(cmd.ErrOrStderr(), asJSON)
	rep, err := migrate.Run(cmd.Context(), m.Options)
	if err != nil {
		return nil, "", err
	}
	settings, comments := ratapp.TargetEnv(m.Config)
	env := migrate.EnvLines(settings, comments)
	err = migrate.Write(cmd.OutOrStdout(), rep, settings, env, asJSON)
	if err == nil && !rep.DryRun && !rep.Verified {
		err = rat.Errorf(rat.ECONFLICT, "verification failed: the target differs from %s (see the report above); run %s again to copy what is missing", source, rerun)
	}
	return rep, env, err
}

// verifyFlag defines --verify (rat migrate, export, import).
func verifyFlag(cmd *cobra.Command, mode *string) {
	cmd.Flags().StringVar(mode, "verify", migrate.VerifyFast, "how tables are compared: fast (Iceberg metadata and the copied files' SHA-256) or deep (also every row, with DuckDB)")
}

// targetFlags defines the flags of a migration target (rat migrate, rat
// import); dflt says what a target left out is ("" for none).
func targetFlags(cmd *cobra.Command, t *ratapp.Target, dflt string) {
	f := cmd.Flags()
	if dflt != "" {
		dflt = " (default: " + dflt + ")"
	}
	f.StringVar(&t.CatalogURL, "to-catalog", "", "target catalog"+dflt+": postgres://…, sqlite:PATH or a path")
	f.StringVar(&t.WarehouseURL, "to-warehouse", "", "target warehouse"+dflt+": s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, file:///PATH or a directory")
	f.StringVar(&t.S3Endpoint, "to-s3-endpoint", "", "the target's S3 endpoint (default: S3_ENDPOINT; storage.googleapis.com for gs://)")
	f.StringVar(&t.S3Region, "to-s3-region", "", "the target bucket's region (default: S3_REGION)")
	f.StringVar(&t.S3PathStyle, "to-s3-path-style", "", "auto, path or virtual (default: S3_PATH_STYLE)")
}
