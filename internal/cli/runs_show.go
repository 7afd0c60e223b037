package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/ratdata/rat/internal/pipeline"
)

// printNodeFailures prints each failed pipeline of a run: its error with
// the file:line it points at, and the SQL around that line.
func printNodeFailures(out io.Writer, res *pipeline.Result) {
	for _, n := range res.Nodes {
		if n.Status != pipeline.StatusFailed {
			continue
		}
		fmt.Fprintf(out, "✗ %s: %s\n", n.Pipeline, n.Error)
		for _, l := range strings.Split(strings.TrimRight(n.Excerpt, "\n"), "\n") {
			if l != "" {
				fmt.Fprintln(out, "    "+l)
			}
		}
	}
}
