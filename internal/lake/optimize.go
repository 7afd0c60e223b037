package lake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/textout"
)

// DefaultMinSmallFiles is the fewest small files a partition needs before
// Optimize rewrites them: one small file alone gains nothing.
const DefaultMinSmallFiles = 2

// optimizeAttempts bounds how often Optimize plans a table again after a
// concurrent writer removed files it read.
const optimizeAttempts = 4

// groupFactor caps one rewrite (one DuckDB COPY) at this many target files
// of input; a partition with more small files is rewritten in several.
const groupFactor = 32

// OptimizeOptions tune Optimize.
type OptimizeOptions struct {
	// Tables limits compaction to these tables (nil = every table of the
	// branch, except views and rat's own tables).
	Tables []rat.TableID
	// Branch is the branch to compact ("" = main).
	Branch string
	// TargetFileBytes is the size of the files written; a data file under
	// half of it is small. Must be positive.
	TargetFileBytes int64
	// MinSmallFiles: a partition is rewritten when it holds at least this
	// many small files (0 = DefaultMinSmallFiles; never less than 2).
	MinSmallFiles int
	// SortBy orders the rows of the files written, per table.
	SortBy map[rat.TableID]SortBy
	// DryRun plans and reports without changing anything.
	DryRun bool
	// BeforeCommit, when set, runs after a table's new files are written
	// and before they are committed (tests use it to commit concurrently).
	BeforeCommit func(ctx context.Context, id rat.TableID) error
}

// SortBy is a table's sort key for compaction and where it is set.
type SortBy struct {
	Columns []string
	From    string // file:line or flag, for messages
}

// OptimizedTable is what Optimize did (or, dry, would do) to one table.
type OptimizedTable struct {
	Table        rat.TableID `json:"table"`
	FilesBefore  int         `json:"files_before"` // data files of the table before
	FilesAfter   int         `json:"files_after"`  // after (a dry run estimates)
	Rewritten    int         `json:"rewritten"`    // small files read and replaced
	Written      int         `json:"written"`      // files written (a dry run estimates)
	BytesRead    int64       `json:"bytes_read"`
	BytesWritten int64       `json:"bytes_written"`
	Rows         int64       `json:"rows"`
	Partitions   int         `json:"partitions"` // partitions rewritten
	SortBy       []string    `json:"sort_by,omitempty"`
	SnapshotID   int64       `json:"snapshot_id,omitempty"`
	Attempts     int         `json:"attempts"` // plans made (more than 1: files read were changed concurrently)
}

// OptimizeResult reports what Optimize did.
type OptimizeResult struct {
	Branch string           `json:"branch"`
	Tables []OptimizedTable `json:"tables"` // every table looked at, in order
}

// Optimize compacts tables: in each partition with at least MinSmallFiles
// small data files (under half of TargetFileBytes), DuckDB reads the small
// files and writes their rows again as files of about TargetFileBytes,
// sorted by the table's SortBy columns if any (streaming: memory stays
// within DuckDB's memory limit, sorts spill to its temp directory). Files
// of different partitions or partition specs are never mixed.
//
// Each table is one rat commit ("optimize: bronze.x: 2,000 files → 3") that
// replaces exactly the files read: rows appended concurrently are kept.
// If a concurrent commit removed a file optimize read, its new files are
// dropped and the table is planned again from its new state, up to a few
// times, then it gives up with ECONFLICT and the table as the other writer
// left it. Rows are never lost or duplicated.
func (l *Lake) Optimize(ctx context.Context, opts OptimizeOptions) (OptimizeResult, error) {
	if opts.TargetFileBytes <= 0 {
		return OptimizeResult{}, rat.Errorf(rat.EINVALID, "optimize: the target file size must be positive, got %d bytes", opts.TargetFileBytes)
	}
	if opts.MinSmallFiles == 0 {
		opts.MinSmallFiles = DefaultMinSmallFiles
	}
	opts.MinSmallFiles = max(opts.MinSmallFiles, 2)
	if opts.Branch == "" {
		opts.Branch = rat.DefaultBranch
	}
	res := OptimizeResult{Branch: opts.Branch}
	if _, err := l.store.Ref(ctx, opts.Branch); err != nil {
		return res, err
	}
	ids := opts.Tables
	if ids == nil {
		entries, err := l.store.Tables(ctx, opts.Branch)
		if err != nil {
			return res, err
		}
		for _, e := range entries {
			if !IsView(e.Metadata) && !e.Table.Internal() {
				ids = append(ids, e.Table)
			}
		}
	}
	// Check every table and sort key first: bad input changes nothing.
	sorts := make([][]string, len(ids))
	for i, id := range ids {
		if id.Internal() {
			return res, rat.InternalTableError(id)
		}
		tbl, err := l.Load(ctx, opts.Branch, id)
		if err != nil {
			return res, err
		}
		if sorts[i], err = sortColumns(tbl.Schema(), id, opts.SortBy[id]); err != nil {
			return res, err
		}
	}
	for i, id := range ids {
		t, err := l.optimizeTable(ctx, id, sorts[i], opts)
		if err != nil {
			return res, err
		}
		res.Tables = append(res.Tables, t)
	}
	return res, nil
}

// sortColumns resolves a sort key to the schema's column names.
func sortColumns(schema *iceberg.Schema, id rat.TableID, s SortBy) ([]string, error) {
	out := make([]string, 0, len(s.Columns))
	for _, c := range s.Columns {
		f, ok := schema.FindFieldByNameCaseInsensitive(c)
		if !ok {
			names := make([]string, 0, len(schema.Fields()))
			for _, f := range schema.Fields() {
				names = append(names, f.Name)
			}
			from := s.From
			if from == "" {
				from = "sort_by"
			}
			return nil, rat.Errorf(rat.EINVALID, "%s: sort_by: %q is not a column of %s (its columns: %s): fix the column name or remove it",
				from, c, id, strings.Join(names, ", "))
		}
		out = append(out, f.Name)
	}
	return out, nil
}

// liveFile is a data file of a table's current snapshot.
type liveFile struct {
	df    iceberg.DataFile
	group string // partition spec id and partition values
}

// compactGroup is a set of small files of one partition rewritten together.
type compactGroup struct {
	files []liveFile
	bytes int64
}

func (l *Lake) optimizeTable(ctx context.Context, id rat.TableID, sortBy []string, opts OptimizeOptions) (OptimizedTable, error) {
	out := OptimizedTable{Table: id, SortBy: sortBy}
	for attempt := 1; ; attempt++ {
		out.Attempts = attempt
		e, err := l.store.Table(ctx, opts.Branch, id)
		if err != nil {
			return out, err
		}
		tbl, err := l.Catalog(opts.Branch).Open(ctx, id, e.Metadata)
		if err != nil {
			return out, err
		}
		live, err := l.liveFiles(tbl)
		if err != nil {
			return out, err
		}
		groups := planCompaction(live, opts.TargetFileBytes, opts.MinSmallFiles)
		out.FilesBefore, out.Rewritten, out.BytesRead, out.Rows = len(live), 0, 0, 0
		parts := map[string]bool{}
		for _, g := range groups {
			out.Rewritten += len(g.files)
			out.BytesRead += g.bytes
			parts[g.files[0].group] = true
			for _, f := range g.files {
				out.Rows += f.df.Count()
			}
		}
		out.Partitions = len(parts)
		if len(groups) == 0 {
			out.Rows, out.Written, out.BytesWritten = 0, 0, 0
			out.FilesAfter = out.FilesBefore
			return out, nil
		}
		if opts.DryRun {
			out.Written, out.BytesWritten = 0, 0
			for _, g := range groups {
				out.Written += int(max(1, (g.bytes+opts.TargetFileBytes-1)/opts.TargetFileBytes))
			}
			out.FilesAfter = out.FilesBefore - out.Rewritten + out.Written
			return out, nil
		}
		added, wr, err := l.rewriteGroups(ctx, tbl, groups, sortBy, opts.TargetFileBytes)
		if err != nil {
			return out, err
		}
		out.Written, out.BytesWritten, out.Rows = len(added), wr.Bytes, wr.Rows
		out.FilesAfter = out.FilesBefore - out.Rewritten + out.Written
		snap, err := l.commitCompaction(ctx, id, e.Metadata, groups, added, out, opts)
		if err == nil {
			out.SnapshotID = snap
			return out, nil
		}
		// The new files are referenced by nothing: drop them.
		l.dropFiles(context.WithoutCancel(ctx), added)
		if !errors.Is(err, table.ErrCommitDiverged) && !errors.Is(err, table.ErrCommitFailed) {
			return out, fmt.Errorf("optimize %s: %w", id, err)
		}
		if attempt == optimizeAttempts {
			return out, rat.Errorf(rat.ECONFLICT, "optimize %s on %s: concurrent writers kept changing the files it read (%d attempts); nothing was changed by optimize, run it again later: %v",
				id, opts.Branch, attempt, err)
		}
	}
}

// liveFiles lists the data files of a table's current snapshot with their
// partition group.
func (l *Lake) liveFiles(tbl *table.Table) ([]liveFile, error) {
	snap := tbl.Metadata().CurrentSnapshot()
	if snap == nil {
		return nil, nil
	}
	manifests, err := snap.Manifests(l.io)
	if err != nil {
		return nil, fmt.Errorf("read manifest list of %v: %w", tbl.Identifier(), err)
	}
	var out []liveFile
	for _, m := range manifests {
		entries, err := m.FetchEntries(l.io, true)
		if err != nil {
			return nil, fmt.Errorf("read manifest %s: %w", m.FilePath(), err)
		}
		for _, en := range entries {
			if en.Status() == iceberg.EntryStatusDELETED {
				continue
			}
			df := en.DataFile()
			if df.ContentType() != iceberg.EntryContentData {
				return nil, rat.Errorf(rat.EINVALID, "table %v has delete files: rat compacts copy-on-write tables only", tbl.Identifier())
			}
			out = append(out, liveFile{df: df, group: fmt.Sprintf("%d/%s", df.SpecID(), partitionKey(df.Partition()))})
		}
	}
	return out, nil
}

// planCompaction bin-packs the small files of each partition into groups:
// a partition with fewer than minSmall small files is left alone, and one
// group reads at most groupFactor target files' worth.
func planCompaction(live []liveFile, target int64, minSmall int) []compactGroup {
	byPart := map[string][]liveFile{}
	for _, f := range live {
		if f.df.FileSizeBytes() < target/2 {
			byPart[f.group] = append(byPart[f.group], f)
		}
	}
	keys := make([]string, 0, len(byPart))
	for k, fs := range byPart {
		if len(fs) >= minSmall {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var groups []compactGroup
	for _, k := range keys {
		fs := byPart[k]
		sort.Slice(fs, func(i, j int) bool { return fs[i].df.FilePath() < fs[j].df.FilePath() })
		var g compactGroup
		for _, f := range fs {
			if len(g.files) > 0 && g.bytes+f.df.FileSizeBytes() > groupFactor*target {
				groups = append(groups, g)
				g = compactGroup{}
			}
			g.files = append(g.files, f)
			g.bytes += f.df.FileSizeBytes()
		}
		// A last group of one file gains nothing unless it joins the one before.
		if len(g.files) == 1 && len(groups) > 0 && groups[len(groups)-1].files[0].group == k {
			last := &groups[len(groups)-1]
			last.files = append(last.files, g.files...)
			last.bytes += g.bytes
		} else if len(g.files) > 1 {
			groups = append(groups, g)
		}
	}
	return groups
}

// rewriteGroups has DuckDB write each group's rows again as files of about
// target bytes, in the table's data directory, and describes them as
// Iceberg data files.
func (l *Lake) rewriteGroups(ctx context.Context, tbl *table.Table, groups []compactGroup, sortBy []string, target int64) ([]iceberg.DataFile, WriteResult, error) {
	id, err := catalog.TableID(tbl.Identifier())
	if err != nil {
		return nil, WriteResult{}, err
	}
	total := WriteResult{Table: id}
	var added []iceberg.DataFile
	schema := tbl.Schema()
	order := ""
	if len(sortBy) > 0 {
		cols := make([]string, len(sortBy))
		for i, c := range sortBy {
			cols[i] = duckdb.Ident(c)
		}
		order = " ORDER BY " + strings.Join(cols, ", ")
	}
	err = l.db.WithViews(ctx, nil, func(conn *sql.Conn) error {
		for _, g := range groups {
			files := make([]DataFile, len(g.files))
			for i, f := range g.files {
				files[i] = DataFile{Location: f.df.FilePath()}
			}
			paths, err := l.LocalPaths(ctx, files)
			if err != nil {
				return err
			}
			from, err := readFiles(tbl.Metadata(), paths, schema, false)
			if err != nil {
				return err
			}
			fo := fileOptions{fileBytes: target, dataFiles: true}
			if first := g.files[0].df; int(first.SpecID()) == tbl.Metadata().DefaultPartitionSpec() {
				// All rows are of this one partition: no split, files of
				// the target size. (Files of an older spec are written
				// again under the current one, split by DuckDB.)
				fo.partition = map[int]any{}
				maps.Copy(fo.partition, first.Partition())
			}
			res := WriteResult{Table: id}
			_, dfs, _, err := l.writeFiles(ctx, conn, tbl, "SELECT * FROM "+from+order, schema, nil, fo, &res)
			added = append(added, dfs...)
			if err != nil {
				return err
			}
			total.Rows += res.Rows
			total.Bytes += res.Bytes
		}
		return nil
	})
	if err != nil {
		l.dropFiles(context.WithoutCancel(ctx), added)
		return nil, total, err
	}
	return added, total, nil
}

// commitCompaction replaces the groups' files with the added ones in one
// rat commit on the table's state at metaLoc. iceberg-go replays it onto
// concurrent commits: appends are kept; a file read that is gone makes it
// fail (table.ErrCommitDiverged).
func (l *Lake) commitCompaction(ctx context.Context, id rat.TableID, metaLoc string, groups []compactGroup, added []iceberg.DataFile, out OptimizedTable, opts OptimizeOptions) (int64, error) {
	msg := fmt.Sprintf("optimize: %s: %s files → %s", id, textout.Count(int64(out.FilesBefore)), textout.Count(int64(out.FilesAfter)))
	tbl, err := l.Catalog(opts.Branch).WithMessage(msg).Open(ctx, id, metaLoc)
	if err != nil {
		return 0, err
	}
	tx := tbl.NewTransaction()
	rw := tx.NewRewrite(iceberg.Properties{"rat.operation": "optimize"})
	for _, g := range groups {
		for _, f := range g.files {
			rw.DeleteFile(f.df)
		}
	}
	for _, df := range added {
		rw.AddDataFile(df)
	}
	if err := rw.Commit(ctx); err != nil {
		return 0, err
	}
	if opts.BeforeCommit != nil {
		if err := opts.BeforeCommit(ctx, id); err != nil {
			return 0, err
		}
	}
	committed, err := tx.Commit(ctx)
	if err != nil {
		return 0, err
	}
	if s := committed.Metadata().CurrentSnapshot(); s != nil {
		return s.SnapshotID, nil
	}
	return 0, nil
}

// dropFiles deletes files written for a commit that did not happen (best
// effort: what stays behind is an orphan that orphan cleanup removes).
func (l *Lake) dropFiles(ctx context.Context, files []iceberg.DataFile) {
	for _, df := range files {
		if key, ok := l.objects.Key(df.FilePath()); ok {
			_ = l.objects.Delete(ctx, key)
		}
	}
}
