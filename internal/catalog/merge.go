package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
)

// MergeAction says what a merge did (or would do) to one table.
type MergeAction string

// Merge actions.
const (
	MergeAdd      MergeAction = "add"      // new on the source
	MergeUpdate   MergeAction = "update"   // changed on the source only
	MergeDrop     MergeAction = "drop"     // dropped on the source
	MergeReplay   MergeAction = "replay"   // appends on both sides: source's files appended to the target
	MergeConflict MergeAction = "conflict" // changed on both sides in ways rat cannot combine
)

// MergedTable is one table's part in a merge.
type MergedTable struct {
	Table  rat.TableID `json:"table"`
	Action MergeAction `json:"action"`
	Detail string      `json:"detail,omitempty"`
}

// MergeResult reports a merge.
type MergeResult struct {
	Source      string        `json:"source"`
	Target      string        `json:"target"`
	Base        string        `json:"base"`
	UpToDate    bool          `json:"up_to_date"`
	FastForward bool          `json:"fast_forward"`
	Commit      string        `json:"commit,omitempty"` // the target's new head
	Tables      []MergedTable `json:"tables"`
	DryRun      bool          `json:"dry_run"`
}

// Conflicts returns the tables that conflict.
func (r MergeResult) Conflicts() []MergedTable {
	var out []MergedTable
	for _, t := range r.Tables {
		if t.Action == MergeConflict {
			out = append(out, t)
		}
	}
	return out
}

// MergeOptions tune Merge.
type MergeOptions struct {
	DryRun  bool
	Message string
}

// Merge merges the ref source into the branch c is bound to: a fast-forward
// when the target has not moved since they forked, otherwise a three-way
// merge by table. A table changed on both sides conflicts, unless both sides
// only appended data since the merge base: then the source's new data files
// are appended to the target. With conflicts nothing is written and the
// error (ECONFLICT) names every conflicting table.
func (c *Iceberg) Merge(ctx context.Context, source string, opts MergeOptions) (MergeResult, error) {
	for attempt := 0; ; attempt++ {
		res, err := c.merge(ctx, source, opts)
		// The target moved while we merged: start over on its new head.
		if rat.IsCode(err, rat.ECONFLICT) && len(res.Conflicts()) == 0 && attempt < 5 {
			continue
		}
		return res, err
	}
}

func (c *Iceberg) merge(ctx context.Context, source string, opts MergeOptions) (MergeResult, error) {
	res := MergeResult{Source: source, Target: c.ref, DryRun: opts.DryRun}
	if rat.ReservedRefName(c.ref) {
		// rat never merges into its own branches; nobody else may.
		return res, rat.ReservedTargetError(c.ref, "merge into")
	}
	target, err := c.store.Ref(ctx, c.ref)
	if err != nil {
		return res, err
	}
	if target.Kind != rat.Branch {
		return res, rat.Errorf(rat.EINVALID, "cannot merge into tag %s: merge into a branch", c.ref)
	}
	srcHead, err := ResolveRef(ctx, c.store, source)
	if err != nil {
		return res, err
	}
	base, err := c.store.MergeBase(ctx, srcHead, target.Head)
	if err != nil {
		return res, err
	}
	res.Base = base
	if base == srcHead {
		res.UpToDate, res.Commit = true, target.Head
		return res, nil
	}
	baseTables, err := TableMap(ctx, c.store, base)
	if err != nil {
		return res, err
	}
	srcTables, err := TableMap(ctx, c.store, srcHead)
	if err != nil {
		return res, err
	}
	if base == target.Head {
		res.FastForward = true
		res.Tables = diffTables(baseTables, srcTables)
		if opts.DryRun {
			return res, nil
		}
		if err := c.store.MoveRef(ctx, c.ref, target.Head, srcHead); err != nil {
			return res, err
		}
		res.Commit = srcHead
		return res, nil
	}
	tgtTables, err := TableMap(ctx, c.store, target.Head)
	if err != nil {
		return res, err
	}
	var changes []Change
	for _, id := range unionKeys(baseTables, srcTables, tgtTables) {
		b, s, t := baseTables[id], srcTables[id], tgtTables[id]
		if s == b || s == t {
			continue // nothing new from the source
		}
		if t == b {
			action := MergeUpdate
			switch {
			case b == "":
				action = MergeAdd
			case s == "":
				action = MergeDrop
			}
			res.Tables = append(res.Tables, MergedTable{Table: id, Action: action})
			changes = append(changes, Change{Table: id, Expected: t, Metadata: s})
			continue
		}
		change, detail, err := c.replayAppends(ctx, id, b, s, t, source, opts.DryRun)
		if err != nil {
			return res, err
		}
		if change == nil {
			res.Tables = append(res.Tables, MergedTable{Table: id, Action: MergeConflict, Detail: detail})
			continue
		}
		res.Tables = append(res.Tables, MergedTable{Table: id, Action: MergeReplay, Detail: detail})
		if !opts.DryRun {
			changes = append(changes, *change)
		}
	}
	if conflicts := res.Conflicts(); len(conflicts) > 0 {
		parts := make([]string, len(conflicts))
		for i, t := range conflicts {
			parts[i] = t.Table.String() + " (" + t.Detail + ")"
		}
		return res, rat.Errorf(rat.ECONFLICT, "merge %s into %s: %d table(s) conflict: %s; resolve by rewriting them on one side (or merge %s into %s first) and merge again",
			source, c.ref, len(conflicts), strings.Join(parts, "; "), c.ref, source)
	}
	if opts.DryRun {
		return res, nil
	}
	msg := opts.Message
	if msg == "" {
		msg = fmt.Sprintf("merge %s into %s", source, c.ref)
	}
	commit, err := c.store.Commit(ctx, CommitRequest{
		Branch: c.ref, Author: c.author, Message: msg, Changes: changes,
		ExpectedHead: target.Head, MergeParent: srcHead,
	})
	if err != nil {
		return res, err
	}
	res.Commit = commit.ID
	return res, nil
}

// replayAppends tries to combine appends made on both sides. It returns nil
// and the reason when the table's changes cannot be combined.
func (c *Iceberg) replayAppends(ctx context.Context, id rat.TableID, b, s, t, source string, dryRun bool) (*Change, string, error) {
	switch {
	case b == "":
		return nil, "created on both sides", nil
	case s == "":
		return nil, "dropped on " + source + ", changed on " + c.ref, nil
	case t == "":
		return nil, "dropped on " + c.ref + ", changed on " + source, nil
	case IsView(b) || IsView(s) || IsView(t):
		return nil, "a view changed on both sides", nil
	}
	bm, err := c.ReadMetadata(ctx, b)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "its state at the fork was expired (rat maintain expire)", nil
	}
	if err != nil {
		return nil, "", err
	}
	sm, err := c.ReadMetadata(ctx, s)
	if err != nil {
		return nil, "", err
	}
	tm, err := c.ReadMetadata(ctx, t)
	if err != nil {
		return nil, "", err
	}
	if sm.TableUUID() != bm.TableUUID() || tm.TableUUID() != bm.TableUUID() {
		return nil, "replaced by a different table", nil
	}
	if sm.CurrentSchema().ID != bm.CurrentSchema().ID || tm.CurrentSchema().ID != bm.CurrentSchema().ID ||
		sm.DefaultPartitionSpec() != bm.DefaultPartitionSpec() || tm.DefaultPartitionSpec() != bm.DefaultPartitionSpec() {
		return nil, "schema or partitioning changed", nil
	}
	var baseSnap int64 = -1
	if cs := bm.CurrentSnapshot(); cs != nil {
		baseSnap = cs.SnapshotID
	}
	if op, ok := appendsOnly(sm, baseSnap, false); !ok {
		return nil, fmt.Sprintf("%s on %s", op, source), nil
	}
	// The target may also have been compacted (rat optimize: a replace
	// keeps its rows); on the source, a replace would make rows of the
	// fork look new.
	if op, ok := appendsOnly(tm, baseSnap, true); !ok {
		return nil, fmt.Sprintf("%s on %s", op, c.ref), nil
	}
	fsys, err := c.fs(ctx)
	if err != nil {
		return nil, "", err
	}
	baseFiles, err := dataFiles(fsys, bm.CurrentSnapshot())
	if err != nil {
		return nil, "", err
	}
	srcFiles, err := dataFiles(fsys, sm.CurrentSnapshot())
	if err != nil {
		return nil, "", err
	}
	var added []iceberg.DataFile
	var rows int64
	for _, df := range srcFiles {
		if _, ok := baseFiles[df.FilePath()]; !ok {
			added = append(added, df)
			rows += df.Count()
		}
	}
	sort.Slice(added, func(i, j int) bool { return added[i].FilePath() < added[j].FilePath() })
	detail := fmt.Sprintf("appends on both sides: %d file(s), %d row(s) from %s appended", len(added), rows, source)
	if dryRun {
		return &Change{Table: id, Expected: t}, detail, nil
	}
	tbl := table.New(Identifier(id), tm, c.locs.Resolve(t), c.fs, c)
	tx := tbl.NewTransaction()
	if err := tx.AddDataFiles(ctx, added, iceberg.Properties{"rat.operation": "merge", "rat.merge.source": source}); err != nil {
		return nil, "", fmt.Errorf("replay appends of %s: %w", id, err)
	}
	tc, err := tx.TableCommit()
	if err != nil {
		return nil, "", fmt.Errorf("replay appends of %s: %w", id, err)
	}
	st, err := c.stageOn(ctx, id, tm, t, tc)
	if err != nil {
		return nil, "", err
	}
	return &Change{Table: id, Expected: t, Metadata: c.locs.Stored(st.loc)}, detail, nil
}

// appendsOnly walks a table's snapshots back to the one with id since and
// reports whether every snapshot on the way only appended data (or, with
// replaces, rewrote files without changing rows: compaction); otherwise it
// returns the first other operation.
func appendsOnly(meta table.Metadata, since int64, replaces bool) (string, bool) {
	for s := meta.CurrentSnapshot(); s != nil && s.SnapshotID != since; {
		if s.Summary == nil || (s.Summary.Operation != table.OpAppend && !(replaces && s.Summary.Operation == table.OpReplace)) {
			op := "a change"
			if s.Summary != nil {
				op = "an " + string(s.Summary.Operation)
			}
			return op, false
		}
		if s.ParentSnapshotID == nil {
			if since == -1 {
				return "", true
			}
			return "history rewritten", false
		}
		if s = meta.SnapshotByID(*s.ParentSnapshotID); s == nil {
			// What happened in between cannot be told any more.
			return "snapshots since the fork were expired (rat maintain expire)", false
		}
	}
	return "", true
}

func dataFiles(io icebergio.IO, snap *table.Snapshot) (map[string]iceberg.DataFile, error) {
	out := map[string]iceberg.DataFile{}
	if snap == nil {
		return out, nil
	}
	manifests, err := snap.Manifests(io)
	if err != nil {
		return nil, fmt.Errorf("read manifest list: %w", err)
	}
	for _, m := range manifests {
		entries, err := m.FetchEntries(io, true)
		if err != nil {
			return nil, fmt.Errorf("read manifest %s: %w", m.FilePath(), err)
		}
		for _, e := range entries {
			out[e.DataFile().FilePath()] = e.DataFile()
		}
	}
	return out, nil
}

// ViewSuffix ends the location of a catalog entry that is a view (a stored
// SELECT) rather than an Iceberg table.
const ViewSuffix = ".view.json"

// IsView reports whether a catalog entry's location is a view definition.
func IsView(location string) bool { return strings.HasSuffix(location, ViewSuffix) }

// ResolveRef returns the commit a branch, tag or commit id (prefix) names.
func ResolveRef(ctx context.Context, store Store, name string) (string, error) {
	ref, err := store.Ref(ctx, name)
	if err == nil {
		return ref.Head, nil
	}
	if !rat.IsCode(err, rat.ENOTFOUND) {
		return "", err
	}
	if len(name) >= 6 && isHex(name) {
		c, cerr := store.GetCommit(ctx, name)
		if cerr == nil {
			return c.ID, nil
		}
		if !rat.IsCode(cerr, rat.ENOTFOUND) {
			return "", cerr
		}
	}
	return "", rat.Errorf(rat.ENOTFOUND, "no branch, tag or commit named %q: list refs with 'rat branch list'", name)
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// TableMap returns the tables at a commit: each one's metadata location.
func TableMap(ctx context.Context, store Store, commit string) (map[rat.TableID]string, error) {
	entries, err := store.TablesAt(ctx, commit)
	if err != nil {
		return nil, err
	}
	m := make(map[rat.TableID]string, len(entries))
	for _, e := range entries {
		m[e.Table] = e.Metadata
	}
	return m, nil
}

func unionKeys(ms ...map[rat.TableID]string) []rat.TableID {
	seen := map[rat.TableID]bool{}
	var out []rat.TableID
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func diffTables(from, to map[rat.TableID]string) []MergedTable {
	var out []MergedTable
	for _, id := range unionKeys(from, to) {
		a, b := from[id], to[id]
		switch {
		case a == b:
		case a == "":
			out = append(out, MergedTable{Table: id, Action: MergeAdd})
		case b == "":
			out = append(out, MergedTable{Table: id, Action: MergeDrop})
		default:
			out = append(out, MergedTable{Table: id, Action: MergeUpdate})
		}
	}
	return out
}
