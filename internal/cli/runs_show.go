package cli

import (
	"fmt"
	"io"
	"strconv"
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

// nodeRows is the rows a node wrote, as printed: a view stores none (its
// SQL runs when it is read), so it shows as "view", not "0".
func nodeRows(n pipeline.NodeResult, unit string) string {
	if n.IsView() {
		return "view"
	}
	return strconv.FormatInt(n.Rows, 10) + unit
}
