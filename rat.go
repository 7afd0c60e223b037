// Package rat holds the vocabulary of the rat lakehouse: table identifiers,
// refs, commits and the application error type. It imports the standard
// library only; every other package speaks in these terms.
package rat

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// DefaultBranch is the branch every catalog starts with.
const DefaultBranch = "main"

// TableID names a table inside a workspace: a layer (bronze, silver, gold or
// any other namespace) and a name.
type TableID struct {
	Layer string
	Name  string
}

var identPart = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseTableID parses "layer.name". Names are case-insensitive, like SQL's
// unquoted identifiers: they are kept in lower case.
func ParseTableID(s string) (TableID, error) {
	layer, name, ok := strings.Cut(strings.ToLower(s), ".")
	if !ok || strings.Contains(name, ".") {
		return TableID{}, Errorf(EINVALID, "table %q: want layer.name, for example bronze.sales", s)
	}
	id := TableID{Layer: layer, Name: name}
	if err := id.Validate(); err != nil {
		return TableID{}, err
	}
	return id, nil
}

// Validate checks that both parts are SQL identifiers rat can use unquoted.
func (t TableID) Validate() error {
	for _, p := range []string{t.Layer, t.Name} {
		if !identPart.MatchString(p) {
			return Errorf(EINVALID, "table %q: each part must start with a letter or _ and hold only letters, digits and _", t.String())
		}
	}
	return nil
}

func (t TableID) String() string { return t.Layer + "." + t.Name }

// RefKind tells branches (movable) from tags (fixed).
type RefKind string

// Ref kinds.
const (
	Branch RefKind = "branch"
	Tag    RefKind = "tag"
)

// Ref is a named pointer to a commit.
type Ref struct {
	Name string
	Kind RefKind
	Head string // commit id
	// Internal marks a branch rat made for its own work (run/<id>,
	// ingest/<id>): the only kind 'rat run --cleanup' deletes. Only rat
	// creates refs with reserved names, and only those are internal.
	Internal bool
}

var refName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$`)

// ValidateRefName checks a branch or tag name with git's spirit: letters,
// digits, '.', '_', '-', '/'; no "..", no leading or trailing '/' or '.', no "//".
func ValidateRefName(name string) error {
	bad := !refName.MatchString(name) || strings.Contains(name, "..") || strings.Contains(name, "//") ||
		strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".") || strings.HasSuffix(name, ".lock")
	if bad {
		return Errorf(EINVALID, "ref name %q is not valid: use letters, digits, '.', '_', '-' and '/' (for example dev or feature/x), starting with a letter or digit", name)
	}
	return nil
}

// Commit is one entry of the catalog's history.
type Commit struct {
	ID      string
	Parents []string // first parent is the previous head of the branch; a merge has two
	Author  string
	Message string
	Time    time.Time
	Changes []TableChange
}

// ShortID returns the first 12 characters of the commit id, as rat prints it.
func (c Commit) ShortID() string { return ShortID(c.ID) }

// ShortID shortens a commit id for display.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// TableChange records what one commit did to one table.
type TableChange struct {
	Table    TableID
	Metadata string // new Iceberg metadata location; "" when the table was dropped
}

// TableEntry is a table as a ref sees it.
type TableEntry struct {
	Table    TableID
	Metadata string // Iceberg metadata location
	CommitID string // the commit that last changed it
}

// Duration formats d the way rat prints durations: 12ms, 1.4s, 2m03s.
func Duration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
}
