package objstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/ratdata/rat"
)

// RootsKey is the warehouse file that lists every root the warehouse has
// had ("file:///old/ws/.rat/warehouse", "s3://bucket/prefix"). Table names
// are identifiers, so no table directory can be called so.
const RootsKey = "rat-warehouse.json"

// Locations is the warehouse's one location provider: it decides what a
// location is, here and after the warehouse moved.
//
// Iceberg files hold full locations of the root they were written under
// (other engines need them). A warehouse directory that was moved or copied
// (or an S3 prefix copied elsewhere) still holds those old locations;
// Locations maps a location under any root the warehouse ever had to the key
// under its current root, so the files are read where they lie now. The roots
// are listed in RootsKey, which Record keeps up to date before anything
// written under the current root is committed.
//
// The catalog records locations relative to the root (Stored) and turns
// them back into full ones (Resolve), so it holds no path of one machine.
//
// Locations is itself a Store: every method but Key passes through.
type Locations struct {
	Store
	root string // Store.URL(""), no trailing slash

	mu     sync.Mutex
	former []string // other roots, longest first
	loaded bool     // RootsKey was read
	listed []string // what RootsKey held when last read or written here
}

var _ Store = (*Locations)(nil)

// NewLocations returns the location provider of warehouse s (s itself when
// it is one already).
func NewLocations(s Store) *Locations {
	if l, ok := s.(*Locations); ok {
		return l
	}
	return &Locations{Store: s, root: strings.TrimSuffix(s.URL(""), "/")}
}

// Root is the current root's location, without a trailing slash.
func (l *Locations) Root() string { return l.root }

// Key maps a location to a key of the current warehouse: a location under the
// current root or under a root the warehouse had before it moved. (A
// location as the catalog records it goes through Resolve first.)
func (l *Locations) Key(location string) (string, bool) {
	if k, ok := l.Store.Key(location); ok {
		return k, true
	}
	for _, root := range l.formerRoots() {
		if rest, ok := strings.CutPrefix(location, root+"/"); ok && ValidateKey(rest) == nil {
			return rest, true
		}
	}
	return "", false
}

// Stored is the form of a location the catalog records: relative to the
// root for a location under the current root, else unchanged.
func (l *Locations) Stored(location string) string {
	if k, ok := l.Store.Key(location); ok {
		return k
	}
	return location
}

// Resolve is the full location of a recorded one: a relative location lies
// under the current root; a full one (recorded by rat before locations were
// relative) stays as it is, and Key maps it.
func (l *Locations) Resolve(stored string) string {
	if stored != "" && isRelative(stored) {
		return l.URL(stored)
	}
	return stored
}

// Learn registers a former root from a location known to end in suffix
// ("/bronze/sales" for a table's location): catalogs written before the
// roots were listed name their roots only in their locations. It is kept in
// memory; a location under the current root teaches nothing.
func (l *Locations) Learn(location, suffix string) {
	root, ok := strings.CutSuffix(location, suffix)
	if !ok || root == "" || isRelative(location) || root == l.root {
		return
	}
	if _, ok := l.Store.Key(location); ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addLocked(root)
}

// LearnFile is Learn for the location of a file of a table
// ("<root>/<layer>/<name>/<metadata|data|views>/<file>").
func (l *Locations) LearnFile(location string) {
	i := len(location)
	for n := 0; n < 4; n++ {
		if i = strings.LastIndexByte(location[:i], '/'); i <= 0 {
			return
		}
	}
	l.Learn(location, location[i:])
}

// Record makes sure RootsKey lists the current root and every root
// learned, so files written under them are found after the warehouse moves.
// Writers call it before committing; it reads the list once per process
// and writes it only when the warehouse is at a new place (or a former root
// was learned from an older catalog).
func (l *Locations) Record(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.listed != nil && l.listsAllLocked() {
		return nil
	}
	roots, err := l.readRoots(ctx)
	if err != nil {
		return err
	}
	for _, r := range roots {
		l.addLocked(r)
	}
	l.loaded = true
	l.listed = roots
	if l.listsAllLocked() {
		return nil
	}
	for _, r := range append(slices.Clone(l.former), l.root) {
		if !slices.Contains(roots, r) {
			roots = append(roots, r)
		}
	}
	data, err := json.MarshalIndent(rootsFile{Roots: roots}, "", "  ")
	if err != nil {
		return err
	}
	if err := l.Store.Put(ctx, RootsKey, bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("record warehouse root %s: %w", l.root, err)
	}
	l.listed = roots
	return nil
}

// Roots returns the roots RootsKey lists (every place the warehouse was
// written at, oldest first; none for a warehouse without the file). It
// reads the file each time.
func (l *Locations) Roots(ctx context.Context) ([]string, error) { return l.readRoots(ctx) }

// listsAllLocked reports whether the list last seen holds every root known.
func (l *Locations) listsAllLocked() bool {
	if !slices.Contains(l.listed, l.root) {
		return false
	}
	for _, r := range l.former {
		if !slices.Contains(l.listed, r) {
			return false
		}
	}
	return true
}

// formerRoots returns the other roots, reading RootsKey the first time a
// location is not under the current root (a warehouse that never moved
// never reads it).
func (l *Locations) formerRoots() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.loaded {
		// Unreadable now is retried next time: a missing list is an empty one.
		if roots, err := l.readRoots(context.Background()); err == nil {
			for _, r := range roots {
				l.addLocked(r)
			}
			l.loaded = true
		}
	}
	return l.former
}

// addLocked adds a former root, keeping the longest first so that a root
// nested in another wins.
func (l *Locations) addLocked(root string) {
	root = strings.TrimSuffix(root, "/")
	if root == l.root || root == "" || slices.Contains(l.former, root) {
		return
	}
	l.former = append(l.former, root)
	slices.SortStableFunc(l.former, func(a, b string) int { return len(b) - len(a) })
}

type rootsFile struct {
	// Roots lists every root the warehouse was used at, oldest first.
	Roots []string `json:"roots"`
}

func (l *Locations) readRoots(ctx context.Context) ([]string, error) {
	f, err := l.Store.Open(ctx, RootsKey)
	if rat.IsCode(err, rat.ENOTFOUND) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read warehouse roots: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read warehouse roots: %w", err)
	}
	var rf rootsFile
	if err := json.Unmarshal(data, &rf); err != nil {
		return nil, rat.Errorf(rat.EINVALID, "warehouse file %s: %v: fix its JSON ({\"roots\": [\"file:///old/warehouse\"]}) or remove it", l.URL(RootsKey), err)
	}
	for i, r := range rf.Roots {
		rf.Roots[i] = strings.TrimSuffix(r, "/")
	}
	return rf.Roots, nil
}

// isRelative reports whether a location has neither a scheme nor a leading
// slash: a key, as the catalog records locations under the root.
func isRelative(location string) bool {
	return !strings.HasPrefix(location, "/") && !strings.Contains(location, ":")
}
