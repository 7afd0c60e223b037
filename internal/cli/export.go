package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	ratapp "github.com/ratdata/rat/internal/app"
	"github.com/ratdata/rat/internal/migrate"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newExportCmd(g *globals) *cobra.Command {
	var opts migrate.Options
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "export DIR",
		Aliases: []string{"backup"},
		Short:   "Write the catalog and the warehouse into a self-contained directory (a backup), verified",
		Long: `Writes this workspace's whole catalog (every commit of every branch and tag, runs, logs, trigger
state) and warehouse into DIR: DIR/catalog.db (SQLite), DIR/warehouse/ (every file, Iceberg locations
rewritten to that directory) and DIR/rat-export.json (format, rat version, source, time, refs, table
count, and the size and SHA-256 of every file), then checks every branch and tag as rat migrate does.
'rat backup' is the same command.

--ref REF exports one branch or tag only: its tables at its head, every commit reachable from it (so
that rat log, --at time travel and queries at its older commits work), and only the files that
history needs; no other ref, and none of the workspace's runs, logs, trigger state, webhook
deliveries or sessions. It is restored by rat import like a whole export, with REF its only ref
(unless REF is main, give --branch REF, or set RAT_BRANCH, in the restored workspace). The catalog
is pruned to REF after the copy is verified: an export stopped after that step cannot continue; export
again into a new directory.

It is rat migrate to --to-catalog sqlite:DIR/catalog.db --to-warehouse DIR/warehouse: interrupted
(even kill -9), run the same command again and it continues. A DIR that holds anything else, or an
export of another source, is refused. The manifest is written last: without it, rat import refuses DIR.
Restore with 'rat import DIR'; copy DIR anywhere (tar, rsync) — it holds no path of this machine that
matters. Exit status 3 when the verification finds a difference.

To export the result of a query as one Parquet, CSV or JSON file (local or
on S3), use 'rat query "SELECT …" --export DEST'.`,
		Example: `  rat export backups/2026-12-03
  rat export --ref v1 backups/v1    # the tag v1 and its history only
  rat backup /mnt/nas/rat-backup --json
  tar czf rat-backup.tgz -C backups 2026-12-03`,
		Args: exactArgs(1, "the directory to export into"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd, "", func(ctx context.Context, a *app) error {
				opts.Progress = terminalProgress(cmd.ErrOrStderr(), asJSON)
				rep, man, err := ratapp.Export(ctx, a.App, args[0], Version, opts)
				if rep != nil {
					if werr := writeExport(cmd.OutOrStdout(), rep, man, asJSON); werr != nil && err == nil {
						err = werr
					}
				}
				return err
			})
		},
	}
	cmd.Flags().IntVar(&opts.Workers, "workers", 8, "files copied at once")
	cmd.Flags().StringVar(&opts.Ref, "ref", "", "export this branch or tag only, with its history (default: everything)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report and the manifest's summary as JSON")
	verifyFlag(cmd, &opts.Verify)
	return cmd
}

// writeExport prints an export's report and what the manifest records.
func writeExport(w io.Writer, rep *migrate.Report, man *migrate.Manifest, asJSON bool) error {
	if asJSON {
		out := struct {
			*migrate.Report
			Export *migrate.Manifest `json:"export,omitempty"`
		}{rep, nil}
		if man != nil {
			m := *man
			m.Sums = nil
			out.Export = &m
		}
		return textout.JSON(w, out)
	}
	migrate.Print(w, rep)
	if man != nil {
		_, err := fmt.Fprintf(w, "\nexport   %s, %s, %s (%s) in %s; restore with rat import\n",
			textout.Plural(int64(len(man.Refs)), "ref"), textout.Plural(int64(man.Tables), "table"),
			textout.Plural(man.Files, "file"), textout.Bytes(man.Bytes), migrate.ExportManifest)
		return err
	}
	return nil
}

// terminalProgress shows progress on stderr when it is a terminal and the
// output is not JSON.
func terminalProgress(w io.Writer, asJSON bool) func(migrate.Progress) {
	if st, err := os.Stderr.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 && !asJSON {
		return migrate.Terminal(w)
	}
	return nil
}

func newImportCmd(g *globals) *cobra.Command {
	var t ratapp.Target
	var workers int
	var asJSON bool
	var verify string
	cmd := &cobra.Command{
		Use:   "import DIR",
		Short: "Restore an export (rat export) into this workspace's catalog and warehouse, verified",
		Long: `Restores the export in DIR into the catalog and warehouse this workspace is configured with
(RAT_CATALOG_URL, ICEBERG_WAREHOUSE, workspace.yaml: what 'rat config' shows), or into --to-catalog and
--to-warehouse (the forms rat migrate takes; S3 keys from RAT_MIGRATE_S3_ACCESS_KEY and
RAT_MIGRATE_S3_SECRET_KEY, else S3_ACCESS_KEY and S3_SECRET_KEY). The target must be empty: a new
workspace (rat init) or a new database and bucket prefix.

First the export is checked: rat-export.json of a format this rat reads, catalog.db present, and every
warehouse file there with the size the export recorded; a damaged export is refused, naming the files,
before anything is written. Then it is rat migrate from the export: files copied, each file's SHA-256
compared with the export's as it is read (a file that differs is not stored and the import stops, the
catalog untouched), locations rewritten for the target, the catalog with its history, every ref and table
verified. Interrupted, run the same command again. Exit status 3 when the verification finds a
difference.`,
		Example: `  rat init restored && rat -C restored import backups/2026-12-03
  RAT_CATALOG_URL=postgres://rat@db/rat ICEBERG_WAREHOUSE=s3://lake/prod rat import backups/2026-12-03
  rat import backups/2026-12-03 --to-catalog sqlite:/srv/rat/catalog.db --to-warehouse /srv/rat/warehouse --json`,
		Args: exactArgs(1, "the directory of an export (see 'rat export')"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, err := g.loadConfig(nil)
			if err != nil {
				return err
			}
			im, err := ratapp.OpenImport(ctx, cfg, args[0], t, os.LookupEnv)
			if err != nil {
				return err
			}
			defer im.Close()
			im.Migration.Options.Workers, im.Migration.Options.Verify = workers, verify
			_, _, err = runMigration(cmd, im.Migration, asJSON, "the export", "rat import")
			return err
		},
	}
	f := cmd.Flags()
	targetFlags(cmd, &t, "this workspace's")
	f.IntVar(&workers, "workers", 8, "files copied at once")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	verifyFlag(cmd, &verify)
	return cmd
}
