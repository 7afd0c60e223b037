package cli

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ratdata/rat"

	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/spf13/cobra"
)

func newDemoCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "demo [DIR]",
		Short: "Create (once) and run the demo workspace, then print its gold tables",
		Long: `The shortest way to see rat work: create the demo workspace in DIR (default
rat-demo) unless it exists, run its bronze → silver → gold pipelines with
tests and write–audit–publish, and print every gold table. With a warehouse
on S3 the demo's raw files (landing/ in DIR) are first uploaded to the
landing area beside it, <warehouse>/_landing/, as 'rat landing upload'
would.`,
		Example: `  rat demo
  rat demo /tmp/demo && rat serve -C /tmp/demo`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &usageError{msg: "rat demo: want at most one directory"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "rat-demo"
			if len(args) == 1 {
				dir = args[0]
			}
			out := cmd.OutOrStdout()
			if _, err := os.Stat(filepath.Join(dir, config.WorkspaceFileName)); err != nil {
				if err := writeWorkspace(dir, true); err != nil {
					return err
				}
				fmt.Fprintf(out, "created the demo workspace in %s\n", dir)
			}
			ctx := cmd.Context()
			a, err := g.openIn(ctx, dir, nil)
			if err != nil {
				return err
			}
			defer a.Close()
			a.ReapRuns(ctx, cmd.ErrOrStderr(), nil)
			landing, err := a.Landing(ctx)
			if err != nil {
				return err
			}
			if err := seedLanding(ctx, out, landing, dir); err != nil {
				return err
			}
			ws, err := a.LoadWorkspace(ctx)
			if err != nil {
				return err
			}
			runner, err := a.Runner(ctx, ws)
			if err != nil {
				return err
			}
			runner.Progress = progressPrinter(cmd.ErrOrStderr())
			res, err := runner.Run(ctx, pipeline.Options{Target: a.Config.Branch})
			if err != nil {
				return err
			}
			printRunSummary(out, res, false)
			if res.Status != pipeline.StatusSuccess {
				return res.Failure()
			}
			for _, p := range ws.Pipelines() {
				if p.ID.Layer != "gold" {
					continue
				}
				fmt.Fprintf(out, "\n%s\n", p.ID)
				q := "SELECT * FROM " + p.ID.String() + " ORDER BY ALL LIMIT 10"
				err := a.Lake.Query(ctx, a.Config.Branch, lake.At{}, q, func(rows *sql.Rows) error {
					_, err := duckdb.WriteRows(out, rows, "table", 10)
					return err
				})
				if err != nil {
					return err
				}
			}
			fmt.Fprintf(out, "\nnext: rat -C %s tables, rat -C %s lineage, rat -C %s docs, rat -C %s query \"SELECT ...\"\n", dir, dir, dir, dir)
			return nil
		},
	}
}

// seedLanding uploads the workspace's landing/ files that the landing area
// lacks, when the area is not that directory (a warehouse on S3): the demo
// then runs unchanged.
func seedLanding(ctx context.Context, out io.Writer, landing *ingest.Landing, dir string) error {
	if _, local := landing.Store.LocalPath("x"); local {
		return nil // the landing area is the workspace's landing/
	}
	zones, err := os.ReadDir(filepath.Join(dir, "landing"))
	if err != nil {
		return nil // nothing to seed
	}
	for _, z := range zones {
		if !z.IsDir() || ingest.ValidateZone(z.Name()) != nil {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, "landing", z.Name()))
		if err != nil {
			return err
		}
		var missing []string
		for _, f := range files {
			if f.Type().IsRegular() && ingest.ValidateFileName(f.Name()) == nil {
				if err := landing.Check(ctx, z.Name(), f.Name()); rat.IsCode(err, rat.ENOTFOUND) {
					missing = append(missing, filepath.Join(dir, "landing", z.Name(), f.Name()))
				} else if err != nil {
					return err
				}
			}
		}
		if err := uploadFiles(ctx, out, landing, z.Name(), missing, ingest.MaxUploadBytes); err != nil {
			return err
		}
	}
	return nil
}
