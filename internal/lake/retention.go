package lake

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
)

// IngestedAtColumn is the column rat adds to ingested rows; retention uses
// it by default.
const IngestedAtColumn = "_ingested_at"

// RetentionPolicy says how long the rows of a table, or of every table of
// a layer, are kept.
type RetentionPolicy struct {
	// Table is the table the policy is for; zero when it is a layer's.
	Table rat.TableID
	// Layer: with Table zero, every table of this layer that has no
	// policy of its own.
	Layer string
	// Days: rows whose time column is older than now minus Days days are
	// deleted.
	Days int
	// Column is the time column (a date or timestamp); "" = _ingested_at
	// when the table has it, else the column of its time partition.
	Column string
	// From and ColumnFrom say where Days and Column are set (file:line:
	// key), for messages.
	From, ColumnFrom string
}

// RetentionOptions tune Retention.
type RetentionOptions struct {
	// Policies are the retention settings (see app.RetentionPolicies).
	Policies []RetentionPolicy
	// Tables limits retention to these tables (nil = every table a
	// policy covers); each must have a policy.
	Tables []rat.TableID
	// Branch the deletes are committed on ("" = main).
	Branch string
	// DryRun plans and reports without changing anything.
	DryRun bool
	// Now is the reference time (zero = time.Now()).
	Now time.Time
}

// RetentionTable is what retention deletes from one table.
type RetentionTable struct {
	Table  rat.TableID `json:"table"`
	Column string      `json:"column"`
	Days   int         `json:"days"`
	// Cutoff: rows whose Column is before it go.
	Cutoff time.Time `json:"cutoff"`
	Rows   int64     `json:"rows"` // rows deleted
	// FilesDropped are files whose rows all go: removed from the table
	// without reading or writing data (metadata only).
	FilesDropped int   `json:"files_dropped"`
	BytesDropped int64 `json:"bytes_dropped"`
	// FilesRewritten hold old and new rows: their new rows are written to
	// FilesWritten new files (copy-on-write).
	FilesRewritten int   `json:"files_rewritten"`
	BytesRewritten int64 `json:"bytes_rewritten"`
	FilesWritten   int   `json:"files_written"`
	SnapshotID     int64 `json:"snapshot_id,omitempty"` // the commit's snapshot; 0 for a dry run
}

// RetentionResult reports what Retention did (or, dry, would do). Tables
// lists only the tables that lose rows.
type RetentionResult struct {
	Branch string           `json:"branch"`
	Tables []RetentionTable `json:"tables"`
	Rows   int64            `json:"rows"`
	Bytes  int64            `json:"bytes"` // bytes of files dropped and rewritten
	// Checked counts the tables a policy covers.
	Checked int `json:"checked"`
}

// Retention deletes the rows older than each table's retention from the
// tables the policies cover, one rat commit per table that loses rows (a
// table that loses none gets no commit). Files whose rows are all older
// than the cutoff (by the table's partition values or the column's
// statistics in the manifests) are dropped without reading or writing data;
// files that hold old and new rows are rewritten with their new rows
// (copy-on-write). Each table's change is one atomic commit: earlier
// snapshots stay readable by time travel until they are expired.
func (l *Lake) Retention(ctx context.Context, opts RetentionOptions) (RetentionResult, error) {
	branch := opts.Branch
	if branch == "" {
		branch = "main"
	}
	res := RetentionResult{Branch: branch, Tables: []RetentionTable{}}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	for _, p := range opts.Policies {
		if p.Days < 0 {
			return res, rat.Errorf(rat.EINVALID, "%s: want 0 or more days, got %d", at(p.From, "retention_days"), p.Days)
		}
	}
	entries, err := l.store.Tables(ctx, branch)
	if err != nil {
		return res, err
	}
	plans, err := retentionTargets(entries, opts)
	if err != nil {
		return res, err
	}
	res.Checked = len(plans)
	// Every table's time column is settled before anything is deleted.
	prepared := make([]*retainPlan, len(plans))
	for i, p := range plans {
		if prepared[i], err = l.prepareRetention(ctx, branch, p.id, p.policy, now); err != nil {
			return res, err
		}
	}
	for _, p := range prepared {
		t, err := l.retainRetrying(ctx, branch, p, now, opts.DryRun)
		if err != nil {
			return res, err
		}
		if t.Rows == 0 {
			continue
		}
		res.Tables = append(res.Tables, t)
		res.Rows += t.Rows
		res.Bytes += t.BytesDropped + t.BytesRewritten
	}
	return res, nil
}

type retentionTarget struct {
	id     rat.TableID
	policy RetentionPolicy
}

// retentionTargets pairs each table on the branch with its policy: its own,
// else its layer's.
func retentionTargets(entries []rat.TableEntry, opts RetentionOptions) ([]retentionTarget, error) {
	own := map[rat.TableID]RetentionPolicy{}
	layer := map[string]RetentionPolicy{}
	for _, p := range opts.Policies {
		if p.Table != (rat.TableID{}) {
			own[p.Table] = p
		} else {
			layer[strings.ToLower(p.Layer)] = p
		}
	}
	policyOf := func(id rat.TableID) (RetentionPolicy, bool) {
		if p, ok := own[id]; ok {
			return p, true
		}
		p, ok := layer[strings.ToLower(id.Layer)]
		return p, ok
	}
	onBranch := map[rat.TableID]bool{}
	var out []retentionTarget
	for _, e := range entries {
		if IsView(e.Metadata) || e.Table.Internal() {
			continue
		}
		onBranch[e.Table] = true
		if p, ok := policyOf(e.Table); ok && opts.Tables == nil {
			out = append(out, retentionTarget{id: e.Table, policy: p})
		}
	}
	for _, id := range opts.Tables {
		if !onBranch[id] {
			return nil, rat.Errorf(rat.ENOTFOUND, "retention: table %s is not on branch %s (or is a view): list tables with 'rat tables'", id, branchName(opts.Branch))
		}
		p, ok := policyOf(id)
		if !ok {
			return nil, rat.Errorf(rat.EINVALID, "retention: %s has no retention: set retention_days in its pipeline's YAML or layers.%s.retention_days in workspace.yaml", id, id.Layer)
		}
		out = append(out, retentionTarget{id: id, policy: p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id.String() < out[j].id.String() })
	return out, nil
}

func branchName(b string) string {
	if b == "" {
		return "main"
	}
	return b
}

// at is where a setting is given (file:line: key), else its key.
func at(from, key string) string {
	if from == "" {
		return key
	}
	return from
}

// retentionColumn picks the table's time column for p: p.Column, else
// _ingested_at, else the source column of a time partition.
func retentionColumn(id rat.TableID, meta table.Metadata, p RetentionPolicy) (iceberg.NestedField, error) {
	schema := meta.CurrentSchema()
	if p.Column != "" {
		where := at(p.ColumnFrom, "retention_column")
		f, ok := schema.FindFieldByNameCaseInsensitive(p.Column)
		if !ok {
			return f, rat.Errorf(rat.EINVALID, "%s: %q is not a column of %s (its columns: %s)", where, p.Column, id, columnNames(schema))
		}
		if !timeType(f.Type) {
			return f, rat.Errorf(rat.EINVALID, "%s: column %s of %s is %s: want a date or timestamp column", where, f.Name, id, f.Type)
		}
		return f, nil
	}
	if f, ok := schema.FindFieldByNameCaseInsensitive(IngestedAtColumn); ok && timeType(f.Type) {
		return f, nil
	}
	spec := meta.PartitionSpec()
	for _, pf := range spec.Fields() {
		f, ok := schema.FindFieldByID(pf.SourceID())
		if !ok || !timeType(f.Type) {
			continue
		}
		switch pf.Transform.(type) {
		case iceberg.IdentityTransform, iceberg.DayTransform, iceberg.MonthTransform, iceberg.YearTransform, iceberg.HourTransform:
			return f, nil
		}
	}
	return iceberg.NestedField{}, rat.Errorf(rat.EINVALID, "%s: retention on a table without a usable time column: %s has no %s column and no partition on a date or timestamp column; set retention_column to one of its date or timestamp columns (its columns: %s)", at(p.From, "retention_days"), id, IngestedAtColumn, columnNames(schema))
}

func timeType(t iceberg.Type) bool {
	switch t.(type) {
	case iceberg.DateType, iceberg.TimestampType, iceberg.TimestampTzType:
		return true
	}
	return false
}

const dayMicros = int64(24 * time.Hour / time.Microsecond)

// cutoffBound is the cutoff in the column's unit: a row is old when its
// value is below it. A date is old when its midnight is before the
// cutoff.
func cutoffBound(t iceberg.Type, cutoff time.Time) int64 {
	us := cutoff.UnixMicro()
	if _, ok := t.(iceberg.DateType); ok {
		return floorDiv(us+dayMicros-1, dayMicros)
	}
	return us
}

// cutoffSQL is the cutoff as a DuckDB literal of the column's type.
func cutoffSQL(t iceberg.Type, bound int64) string {
	switch t.(type) {
	case iceberg.DateType:
		return "DATE " + duckdb.Quote(time.UnixMicro(bound*dayMicros).UTC().Format("2006-01-02"))
	case iceberg.TimestampTzType:
		return "TIMESTAMPTZ " + duckdb.Quote(time.UnixMicro(bound).UTC().Format("2006-01-02 15:04:05.999999")+"+00")
	}
	return "TIMESTAMP " + duckdb.Quote(time.UnixMicro(bound).UTC().Format("2006-01-02 15:04:05.999999"))
}

// fileRange is what a file's metadata says about the time column's values
// (in the column's unit): all are at least lo / at most hi when known.
type fileRange struct {
	lo, hi       int64
	hasLo, hasHi bool
	noNulls      bool
}

// valueRange reads df's range of column f from its column bounds and null
// count, narrowed by its partition value on a time transform of f.
func valueRange(df iceberg.DataFile, f iceberg.NestedField, spec *iceberg.PartitionSpec) fileRange {
	var r fileRange
	decode := func(b []byte) (int64, bool) {
		switch f.Type.(type) {
		case iceberg.DateType:
			if len(b) == 4 {
				return int64(int32(binary.LittleEndian.Uint32(b))), true
			}
		case iceberg.TimestampType, iceberg.TimestampTzType:
			if len(b) == 8 {
				return int64(binary.LittleEndian.Uint64(b)), true
			}
		}
		return 0, false
	}
	r.lo, r.hasLo = decode(df.LowerBoundValues()[f.ID])
	r.hi, r.hasHi = decode(df.UpperBoundValues()[f.ID])
	if n, ok := df.NullValueCounts()[f.ID]; ok && n == 0 {
		r.noNulls = true
	}
	if spec == nil {
		return r
	}
	values := df.Partition()
	for _, pf := range spec.Fields() {
		if pf.SourceID() != f.ID {
			continue
		}
		v, ok := values[pf.FieldID]
		if !ok {
			continue
		}
		n, ok := partitionInt(v)
		if !ok {
			continue // a NULL partition: the column is NULL there
		}
		lo, hi, ok := partitionSpan(pf.Transform, f.Type, n)
		if !ok {
			continue
		}
		// A non-NULL partition value: the column has no NULLs here.
		r.noNulls = true
		if !r.hasLo || lo > r.lo {
			r.lo, r.hasLo = lo, true
		}
		if !r.hasHi || hi < r.hi {
			r.hi, r.hasHi = hi, true
		}
	}
	return r
}

// partitionInt reads a partition value of a time transform as a number.
func partitionInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case int:
		return int64(x), true
	case iceberg.Date:
		return int64(x), true
	case iceberg.Timestamp:
		return int64(x), true
	case iceberg.TimestampNano:
		return int64(x) / 1000, true
	case time.Time:
		return x.UnixMicro(), true
	}
	return 0, false
}

// partitionSpan is the smallest and greatest column value (in the
// column's unit) a partition value n of transform t covers.
func partitionSpan(t iceberg.Transform, col iceberg.Type, n int64) (int64, int64, bool) {
	_, isDate := col.(iceberg.DateType)
	var loUS, hiUS int64 // [lo, hi) in micros
	switch t.(type) {
	case iceberg.IdentityTransform:
		return n, n, true
	case iceberg.HourTransform:
		loUS, hiUS = n*int64(time.Hour/time.Microsecond), (n+1)*int64(time.Hour/time.Microsecond)
	case iceberg.DayTransform:
		loUS, hiUS = n*dayMicros, (n+1)*dayMicros
	case iceberg.MonthTransform:
		start := time.Date(1970, time.January+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
		loUS, hiUS = start.UnixMicro(), start.AddDate(0, 1, 0).UnixMicro()
	case iceberg.YearTransform:
		start := time.Date(1970+int(n), time.January, 1, 0, 0, 0, 0, time.UTC)
		loUS, hiUS = start.UnixMicro(), start.AddDate(1, 0, 0).UnixMicro()
	default:
		return 0, 0, false
	}
	if isDate {
		return floorDiv(loUS, dayMicros), floorDiv(hiUS, dayMicros) - 1, true
	}
	return loUS, hiUS - 1, true
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// retainFile is one data file retention looks at.
type retainFile struct {
	df    iceberg.DataFile
	local string
}

// retainPlan is one table's retention, its time column settled.
type retainPlan struct {
	id     rat.TableID
	policy RetentionPolicy
	cutoff time.Time
	loc    string // the table's metadata file
	meta   table.Metadata
	col    iceberg.NestedField
}

// prepareRetention loads a table and settles its time column.
func (l *Lake) prepareRetention(ctx context.Context, branch string, id rat.TableID, p RetentionPolicy, now time.Time) (*retainPlan, error) {
	e, err := l.store.Table(ctx, branch, id)
	if err != nil {
		return nil, err
	}
	meta, err := l.Catalog(branch).ReadMetadata(ctx, e.Metadata)
	if err != nil {
		return nil, fmt.Errorf("retention: table %s: %w", id, err)
	}
	col, err := retentionColumn(id, meta, p)
	if err != nil {
		return nil, err
	}
	cutoff := now.Add(-time.Duration(p.Days) * 24 * time.Hour).UTC()
	return &retainPlan{id: id, policy: p, cutoff: cutoff, loc: e.Metadata, meta: meta, col: col}, nil
}

// retainRetrying is retainTable, planned again from the table as it is
// when a concurrent write made the commit conflict (iceberg-go's replay
// refuses an overwrite over files added since it was planned).
func (l *Lake) retainRetrying(ctx context.Context, branch string, rp *retainPlan, now time.Time, dry bool) (RetentionTable, error) {
	for attempt := 1; ; attempt++ {
		t, err := l.retainTable(ctx, branch, rp, dry)
		if err == nil || !errors.Is(err, table.ErrCommitFailed) || attempt == retentionAttempts {
			return t, err
		}
		if rp, err = l.prepareRetention(ctx, branch, rp.id, rp.policy, now); err != nil {
			return t, err
		}
	}
}

// retentionAttempts bounds how often one table's retention is planned again
// after a conflict.
const retentionAttempts = 5

// retainTable finds, and unless dry deletes, the old rows of one table.
func (l *Lake) retainTable(ctx context.Context, branch string, rp *retainPlan, dry bool) (RetentionTable, error) {
	id, p, cutoff, meta, col := rp.id, rp.policy, rp.cutoff, rp.meta, rp.col
	out := RetentionTable{Table: id, Days: p.Days, Cutoff: cutoff, Column: col.Name}
	bound := cutoffBound(col.Type, cutoff)
	snap := meta.CurrentSnapshot()
	if snap == nil {
		return out, nil
	}
	manifests, err := snap.Manifests(l.io)
	if err != nil {
		return out, fmt.Errorf("retention: read manifest list of %s: %w", id, err)
	}
	var drop, straddle []retainFile
	for _, m := range manifests {
		if m.ManifestContent() != iceberg.ManifestContentData {
			return out, rat.Errorf(rat.EINVALID, "table %s has delete files: rat reads copy-on-write tables only", id)
		}
		spec := meta.PartitionSpecByID(int(m.PartitionSpecID()))
		entries, err := m.FetchEntries(l.io, true)
		if err != nil {
			return out, fmt.Errorf("retention: read manifest %s: %w", m.FilePath(), err)
		}
		for _, ent := range entries {
			df := ent.DataFile()
			r := valueRange(df, col, spec)
			switch {
			case r.hasLo && r.lo >= bound:
				// every value is new (NULLs are never old)
			case r.hasHi && r.hi < bound && r.noNulls:
				drop = append(drop, retainFile{df: df})
			default:
				straddle = append(straddle, retainFile{df: df})
			}
		}
	}
	if len(drop) == 0 && len(straddle) == 0 {
		return out, nil
	}
	old := fmt.Sprintf("%s < %s", duckdb.Ident(col.Name), cutoffSQL(col.Type, bound))
	commit := func(conn *sql.Conn, rewrite []retainFile) error {
		for _, f := range drop {
			out.Rows += f.df.Count()
			out.FilesDropped++
			out.BytesDropped += f.df.FileSizeBytes()
		}
		if out.Rows == 0 || dry {
			return nil
		}
		msg := fmt.Sprintf("retention: %s: delete rows with %s < %s (older than %d days)", id, col.Name, cutoff.Format(time.RFC3339), p.Days)
		cat := l.Catalog(branch).WithMessage(msg)
		tbl, err := cat.Open(ctx, id, rp.loc)
		if err != nil {
			return err
		}
		tx := tbl.NewTransaction()
		gone := make([]string, 0, len(drop)+len(rewrite))
		for _, f := range drop {
			gone = append(gone, f.df.FilePath())
		}
		var urls []string
		var dfs []iceberg.DataFile
		if len(rewrite) > 0 {
			locals := make([]string, len(rewrite))
			for i, f := range rewrite {
				gone = append(gone, f.df.FilePath())
				locals[i] = f.local
			}
			read, err := readFiles(meta, locals, meta.CurrentSchema(), false)
			if err != nil {
				return err
			}
			wres := WriteResult{Table: id}
			source := fmt.Sprintf("SELECT * FROM %s WHERE (%s) IS NOT TRUE", read, old)
			if urls, dfs, _, err = l.writeFiles(ctx, conn, tbl, source, meta.CurrentSchema(), nil, fileOptions{}, &wres); err != nil {
				return err
			}
			out.FilesWritten = wres.Files
		}
		props := iceberg.Properties{"rat.operation": "retention"}
		if err := replaceFiles(ctx, tx, tbl, gone, urls, dfs, props); err != nil {
			return fmt.Errorf("retention: delete rows of %s: %w", id, err)
		}
		committed, err := tx.Commit(ctx)
		if err != nil {
			if errors.Is(err, table.ErrCommitFailed) {
				// A clean conflict committed nothing: the new files are
				// nobody's.
				l.deleteUnreferenced(context.WithoutCancel(ctx), urls)
			}
			return commitError(id, branch, err)
		}
		if s := committed.Metadata().CurrentSnapshot(); s != nil {
			out.SnapshotID = s.SnapshotID
		}
		return nil
	}
	if len(straddle) == 0 {
		return out, commit(nil, nil)
	}
	err = l.db.WithViews(ctx, nil, func(conn *sql.Conn) error {
		rewrite, err := l.countOld(ctx, conn, meta, straddle, old, &drop, &out)
		if err != nil {
			return err
		}
		return commit(conn, rewrite)
	})
	return out, err
}

// countOld reads the files that may hold old rows: those whose rows are
// all old join drop, those with old and new rows are returned (to
// rewrite), the others are left alone.
func (l *Lake) countOld(ctx context.Context, conn *sql.Conn, meta table.Metadata, files []retainFile, old string, drop *[]retainFile, out *RetentionTable) ([]retainFile, error) {
	dfs := make([]DataFile, len(files))
	for i, f := range files {
		dfs[i] = DataFile{Location: f.df.FilePath()}
	}
	paths, err := l.LocalPaths(ctx, dfs)
	if err != nil {
		return nil, err
	}
	byPath := map[string]int{}
	for i, p := range paths {
		files[i].local = p
		byPath[p] = i
	}
	read, err := readFiles(meta, paths, meta.CurrentSchema(), true)
	if err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, fmt.Sprintf("SELECT filename, count(*) FILTER (WHERE %s), count(*) FROM %s GROUP BY filename", old, read))
	if err != nil {
		return nil, duckdb.UserError(fmt.Sprintf("retention: count old rows of %s", out.Table), err)
	}
	defer rows.Close()
	var rewrite []retainFile
	for rows.Next() {
		var name string
		var n, total int64
		if err := rows.Scan(&name, &n, &total); err != nil {
			return nil, err
		}
		i, ok := byPath[name]
		if !ok || n == 0 {
			continue
		}
		f := files[i]
		if n == total {
			*drop = append(*drop, f)
			continue
		}
		rewrite = append(rewrite, f)
		out.Rows += n
		out.FilesRewritten++
		out.BytesRewritten += f.df.FileSizeBytes()
	}
	return rewrite, rows.Err()
}

// deleteUnreferenced deletes written files no commit took (best effort:
// what stays is an orphan that orphan cleanup removes).
func (l *Lake) deleteUnreferenced(ctx context.Context, urls []string) {
	for _, u := range urls {
		if key, ok := l.objects.Key(u); ok {
			_ = l.objects.Delete(ctx, key)
		}
	}
}
