package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/docs"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newDocsCmd(g *globals) *cobra.Command {
	var outDir string
	cmd := &cobra.Command{
		Use:   "docs [-o DIR]",
		Short: "Write a data dictionary and lineage graphs of the pipelines (Markdown + Mermaid)",
		Long: `Write the workspace's documentation from its SQL and YAML: README.md with
every pipeline by layer and the whole lineage, and <layer>/<name>.md per
pipeline with its settings, columns (types from the table in the catalog when
it exists), tests, business rules, SQL and a graph of its neighbours.
Files are overwritten; pages of removed pipelines are left in place.`,
		Example: `  rat docs
  rat docs -o site/data`,
		Args: exactArgs(0, "no arguments (the output directory is -o DIR)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd, "", func(ctx context.Context, a *app) error {
				ws, err := a.LoadWorkspace(ctx)
				if err != nil {
					return err
				}
				// The callback cannot fail, so the first error other than "no
				// such table" is kept and returned after generating.
				var describeErr error
				columns := func(id rat.TableID) ([]docs.ColumnInfo, bool) {
					info, err := a.Lake.Describe(ctx, a.Config.Branch, id, false)
					if err != nil {
						if !rat.IsCode(err, rat.ENOTFOUND) && describeErr == nil {
							describeErr = fmt.Errorf("describe %s: %w", id, err)
						}
						return nil, false
					}
					if info.Kind == "view" { // a stored definition: no schema of its own
						return nil, false
					}
					cols := make([]docs.ColumnInfo, len(info.Columns))
					for i, c := range info.Columns {
						cols[i] = docs.ColumnInfo{Name: c.Name, Type: c.Type}
					}
					return cols, true
				}
				files, err := docs.Generate(ws, columns)
				if err != nil {
					return err
				}
				if describeErr != nil {
					return describeErr
				}
				dir := outDir
				if dir == "" {
					dir = filepath.Join(ws.Dir, "docs")
				}
				if err := writeDocs(dir, files); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s to %s (%s and one page per pipeline)\n",
					textout.Plural(int64(len(files)), "file"), dir, docs.ReadmeFile)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&outDir, "output", "o", "", "directory to write into (default: docs/ in the workspace)")
	return cmd
}

// writeDocs writes the generated files under dir, in a stable order. Every
// file is first written under a temporary name beside its destination and
// the files are renamed into place only when all were written: a failure
// (a full disk, a path that is not a directory) leaves every existing page
// as it was and no temporary file behind.
func writeDocs(dir string, files map[string]string) error {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	outs := make([]*outFile, 0, len(names))
	defer func() {
		for _, o := range outs {
			o.Abort()
		}
	}()
	for _, name := range names {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return rat.Errorf(rat.EINVALID, "create %s: %s: choose another directory with -o DIR", filepath.Dir(p), pathError(err))
		}
		o, err := createOutput(p)
		if err != nil {
			return err
		}
		outs = append(outs, o)
		if _, err := o.Write([]byte(files[name])); err != nil {
			return rat.Errorf(rat.EINVALID, "write %s: %s: choose another directory with -o DIR", p, pathError(err))
		}
		if err := o.Close(); err != nil {
			return rat.Errorf(rat.EINVALID, "write %s: %s: choose another directory with -o DIR", p, pathError(err))
		}
	}
	for _, o := range outs {
		if err := o.Commit(); err != nil {
			return err
		}
	}
	return nil
}
