// Package cli is rat's command line: one file per command. The live objects
// a command works with come from the composition root, internal/app.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/ratdata/rat"
	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X github.com/ratdata/rat/internal/cli.Version=...".
var Version = "dev"

// globals are the flags every command understands.
type globals struct {
	dir     string
	profile string
	// cpuProfile is the hidden --cpuprofile file; stopProfile ends and
	// writes it (nil when no profile runs).
	cpuProfile  string
	stopProfile func() error
	stdout      io.Writer
	stderr      io.Writer
	// fitted is set once fitMachine has warned and set the Go memory limit.
	fitted bool
	// started is set once a command's own code runs: an error before it
	// (an unknown command, a flag misuse) is a usage error.
	started bool
}

// Run executes rat with the given arguments and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if g.stopProfile != nil {
		if perr := g.stopProfile(); perr != nil && err == nil {
			err = perr
		}
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "rat: interrupted")
		return exitStatus(err, g.started)
	}
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	if errors.Is(err, syscall.EPIPE) {
		return 1 // the reader of the output has gone ('rat query … | head'): nothing to tell it
	}
	msg := strings.TrimSpace(rat.ErrorMessage(err))
	fmt.Fprintln(stderr, "rat: "+firstLine(msg))
	if rat.ErrorCode(err) == rat.EINTERNAL && os.Getenv("RAT_DEBUG") != "" {
		fmt.Fprintf(stderr, "%+v\n", err)
	}
	return exitStatus(err, g.started)
}

// firstLine keeps error output to one line: multi-line causes (DuckDB's
// context lines, for example) are folded.
func firstLine(s string) string {
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, " ")
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "rat",
		Short: "rat — a lakehouse in one binary: SQL files in, tested Iceberg tables out",
		Long: `rat turns raw files into clean, queryable bronze → silver → gold tables in
Apache Iceberg, with git-like branches, tags, merges and time travel.

By default everything lives in .rat/ next to the nearest workspace.yaml (or in
the working directory): a SQLite catalog and a local warehouse. Set
ICEBERG_WAREHOUSE=s3://bucket/prefix/ (with S3_ENDPOINT, S3_ACCESS_KEY,
S3_SECRET_KEY, S3_REGION) and RAT_CATALOG_URL=postgres://... to move the
warehouse to S3 and the catalog to Postgres; commands stay the same.

` + exitStatusHelp(),
		Example: `  rat load sales.csv --into bronze.sales
  rat query "SELECT count(*) FROM bronze.sales"
  rat branch create dev && rat load more.csv --into bronze.sales --branch dev
  rat merge dev && rat log
  rat demo`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&g.dir, "workspace", "C", "", "run as if in this directory (default: the working directory)")
	root.PersistentFlags().StringVar(&g.profile, "profile", "", "resource profile: tiny, small, medium, large, or auto (the largest that fits the memory limit; default from RAT_PROFILE or workspace.yaml, else small)")
	addCPUProfile(root, g)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{msg: err.Error() + " (see 'rat " + c.Name() + " --help')"}
	})
	root.AddCommand(
		newLoadCmd(g), newQueryCmd(g), newTablesCmd(g), newDescribeCmd(g),
		newBranchCmd(g), newTagCmd(g), newMergeCmd(g), newLogCmd(g), newDiffCmd(g),
		newConfigCmd(g), newBenchCmd(g), newRunCmd(g), newInitCmd(g), newTestCmd(g), newLineageCmd(g), newIngestCmd(g), newDocsCmd(g), newRunsCmd(g), newDemoCmd(g), newWorkerCmd(g), newServeCmd(g), newLandingCmd(g), newMigrateCmd(g), newExportCmd(g), newImportCmd(g), newDBCmd(g), newHealthCmd(g), newStatusCmd(g), newMaintainCmd(g), newOptimizeCmd(g),
		newVersionCmd(),
	)
	noteStart(root, &g.started)
	return root
}

// minArgs is cobra.MinimumNArgs with a message that teaches.
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return &usageError{msg: fmt.Sprintf("%s: want %s (see 'rat %s --help')", cmd.CommandPath(), what, cmd.Name())}
		}
		return nil
	}
}

// exactArgs is cobra.ExactArgs with a message that teaches.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return &usageError{msg: fmt.Sprintf("%s: want %s (see '%s --help')", cmd.CommandPath(), what, cmd.CommandPath())}
		}
		return nil
	}
}

// errRemote says where a failed remote command ran.
func errRemote(server string, err error) error {
	return fmt.Errorf("rat serve at %s: %w", server, err)
}
