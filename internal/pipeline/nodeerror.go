package pipeline

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/workspace"
)

// excerptContext is how many lines an excerpt shows on each side of the
// failing one.
const excerptContext = 2

// duckdbLine is the position DuckDB appends to an error: "LINE 4: <the
// line>" and a caret line under it.
var duckdbLine = regexp.MustCompile(`(?s)\n+LINE (\d+):.*$`)

// failed marks n failed by err: its message on one line, with the file
// and line it points to, its error code, and an excerpt of the SQL around
// that line. rendered is the SQL the node ran ("" when rendering failed).
func failed(n *NodeResult, err error, p *workspace.Pipeline, rendered string) {
	n.Status = StatusFailed
	n.Code = rat.ErrorCode(err)
	msg := rat.ErrorMessage(err)
	if p == nil {
		n.Error = oneLine(msg)
		return
	}
	loc := locate(p.File, p.SQL, rendered, msg)
	msg = oneLine(loc.message)
	n.File, n.Line, n.Excerpt = p.File, loc.line, loc.excerpt
	where := p.File
	if loc.line > 0 {
		where = fmt.Sprintf("%s:%d", p.File, loc.line)
	}
	switch {
	case strings.HasPrefix(msg, where):
	case strings.HasPrefix(msg, p.File+": "):
		msg = where + msg[len(p.File):]
	default:
		msg = where + ": " + msg // every failure says where
	}
	n.Error = msg
}

// location is where in a pipeline's file an error points.
type location struct {
	line    int    // in the file as written; 0 when unknown
	excerpt string // the lines around it, the failing one marked
	message string // the error without DuckDB's echo of the SQL
}

// locate finds the line of a pipeline's file an error message points at:
// a "file:line" the template engine gave, or DuckDB's "LINE n" in the
// rendered SQL mapped back to the file. When the rendered line cannot be
// found in the file (it came out of a template), the excerpt shows the
// rendered SQL instead.
func locate(file, source, rendered, msg string) location {
	loc := location{message: msg}
	if m := regexp.MustCompile(regexp.QuoteMeta(file) + `:(\d+)`).FindStringSubmatch(msg); m != nil {
		loc.line, _ = strconv.Atoi(m[1])
		loc.excerpt = excerpt(source, loc.line)
		return loc
	}
	m := duckdbLine.FindStringSubmatchIndex(msg)
	if m == nil || rendered == "" {
		return loc
	}
	at, _ := strconv.Atoi(msg[m[2]:m[3]])
	loc.message = msg[:m[0]]
	src, out := strings.Split(source, "\n"), strings.Split(rendered, "\n")
	if at < 1 || at > len(out) {
		return loc
	}
	if line := sourceLine(src, out, at); line > 0 {
		loc.line = line
		loc.excerpt = excerpt(source, line)
		return loc
	}
	loc.message += fmt.Sprintf(" (at line %d of the rendered SQL)", at)
	loc.excerpt = excerpt(rendered, at)
	return loc
}

// sourceLine maps line at of the rendered SQL to the file's line: the
// same number when rendering kept the lines in place (as many lines), else
// the line holding the same text, the nearest one when several do. 0 when
// the line came out of a template (a loop, a landing read).
func sourceLine(src, out []string, at int) int {
	if len(src) == len(out) {
		return at
	}
	want := strings.TrimSpace(out[at-1])
	best := 0
	for i, l := range src {
		if strings.TrimSpace(l) == want && (best == 0 || abs(i+1-at) < abs(best-at)) {
			best = i + 1
		}
	}
	return best
}

// excerpt returns the lines of text around line, numbered, the line itself
// marked with '>'.
func excerpt(text string, line int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	from, to := max(1, line-excerptContext), min(len(lines), line+excerptContext)
	width := len(strconv.Itoa(to))
	var b strings.Builder
	for i := from; i <= to; i++ {
		mark := " "
		if i == line {
			mark = ">"
		}
		fmt.Fprintf(&b, "%s %*d | %s\n", mark, width, i, strings.TrimRight(lines[i-1], " \t\r"))
	}
	return b.String()
}

// oneLine folds a multi-line message (DuckDB's candidate lists) into one.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
