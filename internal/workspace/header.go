package workspace

import (
	"regexp"
	"sort"
	"strings"

	"github.com/ratdata/rat"
)

// annotation is one `-- @key: value` line of a SQL file's header.
type annotation struct {
	Key   string // lower case
	Value string
	Line  int // 1-based
}

var annotationRE = regexp.MustCompile(`^--\s*@([A-Za-z_][A-Za-z0-9_]*)\s*:(.*)$`)

// sqlHeader is the leading comment block of a SQL file.
type sqlHeader struct {
	annots   []annotation
	bodyLine int // first line that is neither blank nor a -- comment; len(lines)+1 when none
}

// parseHeader reads the leading lines that are blank or `--` comments, and
// the `-- @key: value` annotations among them. Comment lines without an
// annotation are free text (the original Ratatouille's files start with a
// title comment).
func parseHeader(src string) sqlHeader {
	lines := splitLines(src)
	h := sqlHeader{bodyLine: len(lines) + 1}
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if t == "" {
			continue
		}
		if !strings.HasPrefix(t, "--") {
			h.bodyLine = i + 1
			break
		}
		if m := annotationRE.FindStringSubmatch(t); m != nil {
			h.annots = append(h.annots, annotation{Key: strings.ToLower(m[1]), Value: strings.TrimSpace(m[2]), Line: i + 1})
		}
	}
	return h
}

// check rejects annotations outside allowed and warns about repeated ones
// (the last wins, as in the original). Keys in lists (such as mocks) may repeat
// and add up.
func (h sqlHeader) check(l *loader, file string, allowed, lists []string) error {
	seen := map[string]int{}
	for _, a := range h.annots {
		if !contains(allowed, a.Key) {
			names := make([]string, len(allowed))
			for i, k := range allowed {
				names[i] = "@" + k
			}
			hint := ""
			if best := rat.Closest(a.Key, allowed); best != "" {
				hint = " (did you mean @" + best + "?)"
			}
			return rat.Errorf(rat.EINVALID, "%s:%d: unknown annotation @%s%s: use one of %s, or drop the @ to keep it as a plain comment",
				file, a.Line, a.Key, hint, strings.Join(names, ", "))
		}
		if first, dup := seen[a.Key]; dup && !contains(lists, a.Key) {
			l.warn(file, a.Line, "@%s is given again (first at line %d): this one wins", a.Key, first)
		}
		seen[a.Key] = a.Line
	}
	return nil
}

// last returns the last value of annotation key.
func (h sqlHeader) last(key string) (annotation, bool) {
	var found annotation
	ok := false
	for _, a := range h.annots {
		if a.Key == key {
			found, ok = a, true
		}
	}
	return found, ok
}

// splitLines splits text into lines without their line endings.
func splitLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// isBlankSQL reports whether text holds nothing but whitespace, `--`
// comments and Jinja comments.
func isBlankSQL(s string) bool {
	for _, line := range splitLines(s) {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") || (strings.HasPrefix(t, "{#") && strings.HasSuffix(t, "#}")) {
			continue
		}
		return false
	}
	return true
}

// sortedUnique returns the distinct non-empty strings of list, sorted.
func sortedUnique(list []string) []string {
	set := map[string]bool{}
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			set[s] = true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
