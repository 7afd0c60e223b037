package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

// versionInfo is what rat was built from. Everything comes from the
// binary itself (Go's build information and the linked DuckDB library),
// so 'rat version' opens no workspace and no database.
type versionInfo struct {
	Version    string `json:"version"`
	Commit     string `json:"commit,omitempty"`      // vcs.revision
	CommitTime string `json:"commit_time,omitempty"` // vcs.time
	Modified   bool   `json:"modified,omitempty"`    // built from a tree with uncommitted changes
	Go         string `json:"go"`
	Platform   string `json:"platform"`
	DuckDB     string `json:"duckdb"`
	DuckDBGo   string `json:"duckdb_go"`
	IcebergGo  string `json:"iceberg_go"`
}

// buildVersion reads the build information of the running binary.
func buildVersion() versionInfo {
	v := versionInfo{Version: Version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, DuckDB: duckdb.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	// 'go install github.com/ratdata/rat/cmd/rat@v1.2.3' stamps the module
	// version; a build from a clone says (devel).
	if v.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.CommitTime = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		switch d.Path {
		case "github.com/duckdb/duckdb-go/v2":
			v.DuckDBGo = d.Version
		case "github.com/apache/iceberg-go":
			v.IcebergGo = d.Version
		}
	}
	return v
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print rat's version and commit, and the DuckDB, iceberg-go and Go it was built with",
		Long: `Print rat's version and the commit it was built from (from Go's build
information: a build outside a git checkout has none), and the versions of
DuckDB, duckdb-go, iceberg-go and Go in the binary. Include it in bug reports.`,
		Example: `  rat version
  rat version --json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := buildVersion()
			out := cmd.OutOrStdout()
			if asJSON {
				return textout.JSON(out, v)
			}
			commit := v.Commit
			if commit == "" {
				commit = "unknown (the build recorded none: built outside a git checkout or with -buildvcs=false)"
			} else {
				if v.Modified {
					commit += " (with uncommitted changes)"
				}
				if v.CommitTime != "" {
					commit += ", " + v.CommitTime
				}
			}
			rows := [][]string{
				{"rat", v.Version},
				{"commit", commit},
				{"duckdb", strings.TrimSpace(v.DuckDB + " (duckdb-go " + v.DuckDBGo + ")")},
				{"iceberg-go", v.IcebergGo},
				{"go", v.Go + " " + v.Platform},
			}
			for _, r := range rows {
				fmt.Fprintf(out, "%-11s %s\n", r[0], r[1])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
