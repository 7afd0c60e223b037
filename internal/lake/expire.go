package lake

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

// ExpireOptions tune Expire.
type ExpireOptions struct {
	// OlderThan: snapshots younger than this are kept.
	OlderThan time.Duration
	// RetainLast: the last N snapshots of a table's history on a branch
	// (its current snapshot and its ancestors) are kept whatever their age.
	RetainLast int
	// Tables limits expiry to these tables (nil = all).
	Tables []rat.TableID
	// DryRun plans and reports without changing anything.
	DryRun bool
	// Now is the reference time (zero = time.Now()).
	Now time.Time
}

// ExpiredTable is what expiry removes from one table on one branch.
type ExpiredTable struct {
	Branch    string      `json:"branch"`
	Table     rat.TableID `json:"table"`
	Snapshots []int64     `json:"snapshots"` // ids, oldest first
	Kept      int         `json:"kept"`      // snapshots left
}

// ExpiredFile is a file expiry deletes.
type ExpiredFile struct {
	Key   string `json:"key"`
	Bytes int64  `json:"bytes"`
}

// ExpireResult reports what Expire did (or, dry, would do).
type ExpireResult struct {
	Tables []ExpiredTable `json:"tables"`
	Files  []ExpiredFile  `json:"files"` // sorted by key
	Bytes  int64          `json:"bytes"`
	// Skipped names branches left alone: rat's own run/ and ingest/
	// branches (a run may be writing there).
	Skipped []string `json:"skipped"`
}

// Expire removes old snapshots from the tables of every branch and deletes
// the files nothing references any more.
//
// A snapshot of a table on a branch is kept when it is younger than
// OlderThan, among the last RetainLast of the table's history on that
// branch, or the current snapshot of that table (same Iceberg table uuid)
// at any ref's head (branches and tags) or at any commit, reachable from a
// ref, made within OlderThan (time travel over the kept window). rat's own
// branches (run/, ingest/) and tables (_rat) are never rewritten, and no
// file of a _rat table is deleted. Each
// branch's expiry is one rat commit.
//
// Files are deleted only when an expired snapshot or a commit older than
// the window referenced them and nothing still needed does: the metadata
// files and the snapshots of every ref's head, and the metadata file and
// current snapshot of every commit within the window, on every ref. A file
// that cannot be read to decide is kept (the whole deletion is abandoned).
func (l *Lake) Expire(ctx context.Context, opts ExpireOptions) (ExpireResult, error) {
	if opts.OlderThan < 0 || opts.RetainLast < 0 {
		return ExpireResult{}, rat.Errorf(rat.EINVALID, "expire: older-than and retain-last must not be negative")
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	cutoff := now.Add(-opts.OlderThan)
	var res ExpireResult

	st, err := l.expireState(ctx, cutoff, opts.Tables)
	if err != nil {
		return res, err
	}
	if err := st.checkSelection(); err != nil {
		return res, err
	}
	// Plan: per branch, per table, the snapshots to remove.
	expired := map[string][]int64{}  // table uuid -> snapshot ids removed anywhere
	var candidates []*table.Snapshot // snapshots whose files may go
	byBranch := map[string][]plannedExpiry{}
	for _, ref := range st.refs {
		if ref.Kind != rat.Branch {
			continue
		}
		if ref.Internal {
			res.Skipped = append(res.Skipped, ref.Name)
			continue
		}
		for _, e := range st.heads[ref.Name] {
			if e.meta == nil || !st.selected(e.id) || e.id.Internal() {
				continue
			}
			ids := expirable(e.meta, cutoff, opts.RetainLast, st.protected[e.meta.TableUUID().String()])
			if len(ids) == 0 {
				continue
			}
			byBranch[ref.Name] = append(byBranch[ref.Name], plannedExpiry{entry: e, ids: ids})
			res.Tables = append(res.Tables, ExpiredTable{Branch: ref.Name, Table: e.id, Snapshots: ids, Kept: len(e.meta.Snapshots()) - len(ids)})
			expired[expiryKey(ref.Name, e.meta)] = ids
			for _, id := range ids {
				candidates = append(candidates, e.meta.SnapshotByID(id))
			}
		}
	}

	if !opts.DryRun {
		for _, branch := range slices.Sorted(maps.Keys(byBranch)) {
			if err := l.commitExpiry(ctx, branch, byBranch[branch]); err != nil {
				return res, err
			}
		}
		// What is referenced is read again from the refs as they are now.
		if st, err = l.expireState(ctx, cutoff, opts.Tables); err != nil {
			return res, err
		}
		expired = nil
	}

	referenced, err := l.referencedFiles(ctx, st, expired)
	if err != nil {
		return res, fmt.Errorf("expire: list the files still referenced (nothing deleted): %w", err)
	}
	cand := map[string]int64{}
	for _, s := range candidates {
		if err := l.snapshotFiles(ctx, s, cand, nil, true); err != nil {
			return res, fmt.Errorf("expire: list the files of expired snapshot %d (nothing deleted): %w", s.SnapshotID, err)
		}
	}
	for _, loc := range st.oldMetadata {
		if key, ok := l.objects.Key(loc); ok {
			cand[key] = -1
		}
	}
	for key, size := range cand {
		if referenced[key] {
			continue
		}
		if size < 0 {
			info, err := l.objects.Stat(ctx, key)
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted by an earlier expiry
			}
			if err != nil {
				return res, err
			}
			size = info.Size
		}
		res.Files = append(res.Files, ExpiredFile{Key: key, Bytes: size})
		res.Bytes += size
	}
	sort.Slice(res.Files, func(i, j int) bool { return res.Files[i].Key < res.Files[j].Key })
	if opts.DryRun {
		return res, nil
	}
	for _, f := range res.Files {
		if err := l.objects.Delete(ctx, f.Key); err != nil {
			return res, fmt.Errorf("expire: delete %s: %w", f.Key, err)
		}
	}
	return res, nil
}

type plannedExpiry struct {
	entry headTable
	ids   []int64
}

// headTable is one table at a ref's head.
type headTable struct {
	id   rat.TableID
	loc  string // as the catalog records it
	meta table.Metadata
}

// expireState is what the refs and the commits within the window hold.
type expireState struct {
	refs   []rat.Ref
	heads  map[string][]headTable // by ref name
	tables map[rat.TableID]bool   // selection; nil = all
	// protected: per table uuid, snapshot ids current at a ref's head or
	// at a commit within the window.
	protected map[string]map[int64]bool
	// window: metadata files of tables at commits within the window.
	window map[string]table.Metadata
	// oldMetadata: metadata files (full locations) of the selected tables
	// in commits older than the window.
	oldMetadata []string
	// views: the view files (as the catalog records them) at the refs'
	// heads and at the commits within the window.
	views map[string]bool
	// missingOK: a metadata file or manifest of a commit within the window
	// that is gone is passed over (orphan cleanup reads every commit, and
	// expiry deletes the metadata files of commits older than its window).
	missingOK bool
}

// checkSelection refuses a table named for expiry that no ref holds.
func (s *expireState) checkSelection() error {
	for id := range s.tables {
		found := false
		for _, heads := range s.heads {
			for _, h := range heads {
				found = found || h.id == id
			}
		}
		if !found {
			return rat.Errorf(rat.ENOTFOUND, "expire: table %s is on no branch or tag: list tables with 'rat tables --branch NAME'", id)
		}
	}
	return nil
}

func (s *expireState) selected(id rat.TableID) bool { return s.tables == nil || s.tables[id] }

func (l *Lake) expireState(ctx context.Context, cutoff time.Time, tables []rat.TableID) (*expireState, error) {
	refs, err := l.store.Refs(ctx)
	if err != nil {
		return nil, err
	}
	return l.refState(ctx, refs, cutoff, tables, false)
}

// refState reads what refs hold: every table at each ref's head, and the
// tables at every commit reachable from them made at or after cutoff (a
// zero cutoff: every reachable commit). Commits before cutoff contribute
// the metadata files of the selected tables to oldMetadata only.
func (l *Lake) refState(ctx context.Context, refs []rat.Ref, cutoff time.Time, tables []rat.TableID, missingOK bool) (*expireState, error) {
	st := &expireState{refs: refs, heads: map[string][]headTable{}, protected: map[string]map[int64]bool{}, window: map[string]table.Metadata{},
		views: map[string]bool{}, missingOK: missingOK}
	if tables != nil {
		st.tables = map[rat.TableID]bool{}
		for _, id := range tables {
			st.tables[id] = true
		}
	}
	cat := l.Catalog("")
	protect := func(meta table.Metadata) {
		if s := meta.CurrentSnapshot(); s != nil {
			u := meta.TableUUID().String()
			if st.protected[u] == nil {
				st.protected[u] = map[int64]bool{}
			}
			st.protected[u][s.SnapshotID] = true
		}
	}
	readAll := func(entries []rat.TableEntry) ([]headTable, error) {
		out := make([]headTable, 0, len(entries))
		for _, e := range entries {
			if IsView(e.Metadata) {
				st.views[e.Metadata] = true // a view has no snapshots; expiry never deletes its file
				continue
			}
			meta, err := cat.ReadMetadata(ctx, e.Metadata)
			if err != nil {
				return nil, fmt.Errorf("table %s: %w", e.Table, err)
			}
			out = append(out, headTable{id: e.Table, loc: e.Metadata, meta: meta})
		}
		return out, nil
	}
	seenCommit := map[string]bool{}
	old := map[string]bool{}
	for _, ref := range refs {
		entries, err := l.store.TablesAt(ctx, ref.Head)
		if err != nil {
			return nil, err
		}
		heads, err := readAll(entries)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", ref.Kind, ref.Name, err)
		}
		st.heads[ref.Name] = heads
		for _, h := range heads {
			protect(h.meta)
		}
		log, err := l.store.Log(ctx, ref.Head, 0)
		if err != nil {
			return nil, err
		}
		for _, c := range log {
			if seenCommit[c.ID] {
				continue
			}
			seenCommit[c.ID] = true
			if c.Time.Before(cutoff) {
				for _, ch := range c.Changes {
					if ch.Metadata != "" && !IsView(ch.Metadata) && !ch.Table.Internal() && st.selected(ch.Table) {
						old[ch.Metadata] = true
					}
				}
				continue
			}
			entries, err := l.store.TablesAt(ctx, c.ID)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				if IsView(e.Metadata) {
					st.views[e.Metadata] = true
					continue
				}
				if _, ok := st.window[e.Metadata]; ok {
					continue
				}
				meta, err := cat.ReadMetadata(ctx, e.Metadata)
				if missingOK && errors.Is(err, fs.ErrNotExist) {
					st.window[e.Metadata] = nil
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("table %s at commit %s: %w", e.Table, c.ShortID(), err)
				}
				st.window[e.Metadata] = meta
				protect(meta)
			}
		}
	}
	for loc := range old {
		st.oldMetadata = append(st.oldMetadata, l.objects.Resolve(loc))
	}
	sort.Strings(st.oldMetadata)
	return st, nil
}

// expirable lists the snapshots of meta to remove, oldest first.
func expirable(meta table.Metadata, cutoff time.Time, retainLast int, protected map[int64]bool) []int64 {
	keep := map[int64]bool{}
	n := 0
	for s := meta.CurrentSnapshot(); s != nil && n < retainLast; n++ {
		keep[s.SnapshotID] = true
		if s.ParentSnapshotID == nil {
			break
		}
		s = meta.SnapshotByID(*s.ParentSnapshotID)
	}
	if s := meta.CurrentSnapshot(); s != nil {
		keep[s.SnapshotID] = true
	}
	var ids []int64
	for _, s := range meta.Snapshots() {
		if keep[s.SnapshotID] || protected[s.SnapshotID] || !time.UnixMilli(s.TimestampMs).Before(cutoff) {
			continue
		}
		ids = append(ids, s.SnapshotID)
	}
	return ids
}

// commitExpiry removes the planned snapshots from one branch's tables in
// one rat commit. A table that moved since it was planned fails the commit
// (ECONFLICT): nothing is removed then, and expiry can simply run again.
func (l *Lake) commitExpiry(ctx context.Context, branch string, plans []plannedExpiry) error {
	commits := make([]table.TableCommit, len(plans))
	for i, p := range plans {
		cur := p.entry.meta.CurrentSnapshot().SnapshotID
		commits[i] = table.TableCommit{
			Identifier: catalog.Identifier(p.entry.id),
			Requirements: []table.Requirement{
				table.AssertTableUUID(p.entry.meta.TableUUID()),
				table.AssertRefSnapshotID(table.MainBranch, &cur),
			},
			Updates: []table.Update{table.NewRemoveSnapshotsUpdate(p.ids, false)},
		}
	}
	n := 0
	for _, p := range plans {
		n += len(p.ids)
	}
	cat := l.Catalog(branch).WithMessage(fmt.Sprintf("expire %d snapshots of %d tables", n, len(plans)))
	if err := cat.CommitTransaction(ctx, commits); err != nil {
		if errors.Is(err, table.ErrCommitFailed) {
			return rat.Errorf(rat.ECONFLICT, "expire on branch %s: a table changed while expiry ran; nothing was expired there, run it again: %v", branch, err)
		}
		return fmt.Errorf("expire on branch %s: %w", branch, err)
	}
	return nil
}

func expiryKey(branch string, meta table.Metadata) string {
	return branch + "\x00" + meta.TableUUID().String()
}

// referencedFiles lists the warehouse keys still needed: the metadata
// files and all snapshots of every ref's head (minus, for a dry run, the
// snapshots planned to go and the metadata files they replace), the
// metadata files and current snapshots of the commits within the window,
// and the view files of both.
func (l *Lake) referencedFiles(ctx context.Context, st *expireState, expired map[string][]int64) (map[string]bool, error) {
	out := map[string]int64{}
	addMeta := func(loc string) {
		if key, ok := l.objects.Key(l.objects.Resolve(loc)); ok {
			out[key] = -1
		}
	}
	doneSnap := map[string]bool{}
	doneManifest := map[string]bool{}
	addSnap := func(s *table.Snapshot, missingOK bool) error {
		if s == nil || doneSnap[s.ManifestList] {
			return nil
		}
		doneSnap[s.ManifestList] = true
		return l.snapshotFiles(ctx, s, out, doneManifest, missingOK)
	}
	for _, ref := range st.refs {
		for _, h := range st.heads[ref.Name] {
			if ref.Kind == rat.Tag {
				addMeta(h.loc)
				// A tag is read at its current snapshot.
				if err := addSnap(h.meta.CurrentSnapshot(), false); err != nil {
					return nil, err
				}
				continue
			}
			gone, planned := expired[expiryKey(ref.Name, h.meta)]
			if !planned {
				addMeta(h.loc)
			}
			// A dry run's planned expiry replaces this metadata file:
			// it stays only if a commit within the window holds it.
			for i := range h.meta.Snapshots() {
				s := &h.meta.Snapshots()[i]
				if slices.Contains(gone, s.SnapshotID) {
					continue
				}
				if err := addSnap(s, false); err != nil {
					return nil, err
				}
			}
		}
	}
	for loc, meta := range st.window {
		addMeta(loc)
		if meta == nil {
			continue // gone (missingOK)
		}
		if err := addSnap(meta.CurrentSnapshot(), st.missingOK); err != nil {
			return nil, err
		}
	}
	for loc := range st.views {
		addMeta(loc)
	}
	keys := make(map[string]bool, len(out))
	for k := range out {
		keys[k] = true
	}
	return keys, nil
}

// snapshotFiles adds the keys of a snapshot's manifest list, manifests and
// live data and delete files to out, with their sizes (-1 = unknown). A
// missing manifest list or manifest is an error unless missingOK (a file
// already gone needs no deleting). done, when not nil, holds the manifests
// already read into out (manifests are immutable and shared by the
// snapshots that follow them): they are not read again.
func (l *Lake) snapshotFiles(ctx context.Context, s *table.Snapshot, out map[string]int64, done map[string]bool, missingOK bool) error {
	add := func(loc string, size int64) {
		if key, ok := l.objects.Key(loc); ok {
			out[key] = size
		}
	}
	manifests, err := s.Manifests(l.io)
	if err != nil {
		if missingOK && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("read manifest list %s: %w", s.ManifestList, err)
	}
	add(s.ManifestList, -1)
	for _, m := range manifests {
		add(m.FilePath(), m.Length())
		if done != nil {
			if done[m.FilePath()] {
				continue
			}
			done[m.FilePath()] = true
		}
		entries, err := m.FetchEntries(l.io, true)
		if missingOK && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read manifest %s: %w", m.FilePath(), err)
		}
		for _, e := range entries {
			if e.Status() == iceberg.EntryStatusDELETED {
				continue
			}
			add(e.DataFile().FilePath(), e.DataFile().FileSizeBytes())
		}
	}
	return nil
}
