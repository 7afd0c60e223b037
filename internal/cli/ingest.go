package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newIngestCmd(g *globals) *cobra.Command {
	var into, branch, sheet string
	var evolve, asJSON bool
	cmd := &cobra.Command{
		Use:   "ingest FILE|DIR|GLOB... --into layer.name",
		Short: "Append raw files to a table once per content, with _source_file and _ingested_at",
		Long: `Ingest files into a (bronze) table: like 'rat load', but idempotent and traced.
A file registry keyed by content hash remembers what each table ingested:
the same file twice is loaded once, a changed file is loaded again. Every row
gets _source_file and _ingested_at. Data and registry land in one commit.

Formats: CSV/TSV, JSON/NDJSON, Parquet and Excel (.xlsx: one table per sheet,
or --sheet NAME). A directory ingests the files in it.`,
		Example: `  rat ingest exports/ --into bronze.orders
  rat ingest 'drops/*.csv' --into bronze.events --branch dev
  rat ingest budget.xlsx --sheet 2024 --into bronze.budget`,
		Args: minArgs(1, "one or more files, directories or patterns"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if into == "" {
				return &usageError{msg: "rat ingest: --into layer.name is required (for example --into bronze.orders)"}
			}
			id, err := rat.ParseTableID(into)
			if err != nil {
				return err
			}
			paths, err := ingest.ExpandInputs(args)
			if err != nil {
				return err
			}
			files, err := ingest.LocalFiles(paths)
			if err != nil {
				return err
			}
			return g.withApp(cmd, branch, func(ctx context.Context, a *app) error {
				start := time.Now()
				tmp := filepath.Join(a.Config.StateDir, "tmp")
				if err := os.MkdirAll(tmp, 0o755); err != nil {
					return err
				}
				// A workbook with several sheets, without --sheet, gives one
				// table per sheet: <table>_<sheet>.
				jobs, err := ingest.Targets(id, files, sheet, tmp)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				var results []pipeline.IngestResult
				for _, j := range jobs {
					res, err := pipeline.Ingest(ctx, a.Lake, a.Config.Branch, j.Table, j.Files, j.Sheet, tmp, evolve, start)
					if err != nil {
						return fmt.Errorf("ingest into %s: %w", j.Table, err)
					}
					results = append(results, res)
					if asJSON {
						continue
					}
					printIngested(out, j.Table, res, a.Config.Branch, start)
				}
				if asJSON {
					return textout.JSON(out, results)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&into, "into", "", "target table as layer.name (required)")
	cmd.Flags().StringVarP(&branch, "branch", "b", "", "branch to commit to (default: the configured branch, main)")
	cmd.Flags().StringVar(&sheet, "sheet", "", "Excel: the sheet to read (default: every sheet)")
	cmd.Flags().BoolVar(&evolve, "evolve", false, "add columns the table lacks instead of failing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// printIngested says what an ingest into table id did.
func printIngested(out io.Writer, id rat.TableID, res pipeline.IngestResult, branch string, start time.Time) {
	for _, s := range res.Skipped {
		fmt.Fprintf(out, "skipped %s: already ingested into %s\n", s, id)
	}
	if len(res.Files) == 0 {
		fmt.Fprintf(out, "nothing new to ingest into %s\n", id)
		return
	}
	if res.Created && res.Rows == 0 {
		fmt.Fprintf(out, "created table %s on %s with no rows\n", id, branch)
	}
	fmt.Fprintf(out, "ingested %s (%s) into %s on %s in %s\n", textout.Plural(int64(len(res.Files)), "file"), textout.Plural(res.Rows, "row"), id, branch, rat.Duration(time.Since(start)))
	if len(res.Empty) > 0 {
		fmt.Fprintf(out, "  recorded without rows (they hold none): %s\n", strings.Join(res.Empty, ", "))
	}
}
