package lake

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/duckdb"
)

// Mode says what a write does to rows already in the table.
type Mode string

// Write modes.
const (
	Append  Mode = "append"  // add the rows
	Replace Mode = "replace" // the rows become the table's whole content
	// Merge upserts by WriteOptions.Key: a new row replaces the old rows with
	// its key; of several new rows with one key, one wins deterministically
	// (the greatest OrderBy, then the greatest row).
	Merge Mode = "merge"
	// DeleteInsert deletes the old rows whose Key values occur in the new
	// rows, then inserts all new rows.
	DeleteInsert Mode = "delete_insert"
)

// ParseMode validates a --mode value.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Append, Replace:
		return Mode(s), nil
	}
	return "", rat.Errorf(rat.EINVALID, "--mode %q: want append or replace", s)
}

// WriteOptions tune Write.
type WriteOptions struct {
	Mode    Mode
	Evolve  bool   // add new columns instead of failing
	Message string // commit message
	// Views make tables readable by the source SQL; nil plans them from
	// the tables the source names, on the branch written to.
	Views []duckdb.View
	// Key is the unique key of Merge, or the columns whose values
	// DeleteInsert replaces.
	Key []string
	// OrderBy picks the winner among new rows sharing a key in Merge: the
	// greatest value wins (a watermark column, typically).
	OrderBy string
	// PartitionBy partitions a table created by this write.
	PartitionBy []Partition
	// PartitionFrom says where PartitionBy is set (file:line: key), for
	// messages about it.
	PartitionFrom string
	// EvolvePartitions makes PartitionBy the partitioning of an existing
	// table too: when it differs, the table's spec evolves in the write's
	// commit (a new spec id for the new files; old files keep theirs).
	EvolvePartitions bool
	// Properties are set on the table in the same commit.
	Properties map[string]string
	// Watermark names a column whose greatest value so far (the table's
	// stored watermark or the new rows' maximum) is stored with the table
	// in the same commit, as WatermarkProperty(column).
	Watermark string
	// Reshape (with Replace) makes the table's columns exactly the new
	// rows' columns: a full rebuild whose SQL changed shape. Columns that
	// are gone are dropped, new ones added, and a column whose type
	// changed incompatibly is replaced.
	Reshape bool
	// Internal lets rat write its own tables (layer _rat, such as the file
	// registry); any other write there is refused.
	Internal bool
}

// WriteResult reports what a write did.
type WriteResult struct {
	Table      rat.TableID
	Created    bool
	Rows       int64
	Files      int
	Bytes      int64
	SnapshotID int64
	Added      []string // columns added by schema evolution
	// NewRows counts the new rows of a Merge or DeleteInsert (Rows also
	// counts the old rows of rewritten files); -1 for other modes.
	NewRows int64
}

// Write runs a SELECT in DuckDB and commits its rows to a table on a branch:
// DuckDB writes Parquet files with Iceberg field ids, rat uploads them and
// commits them in one Iceberg snapshot. Nothing is visible until the commit;
// a failure before it leaves the table as it was.
func (l *Lake) Write(ctx context.Context, ref string, id rat.TableID, source string, opts WriteOptions) (WriteResult, error) {
	if opts.Mode == "" {
		opts.Mode = Append
	}
	if opts.Message == "" {
		opts.Message = fmt.Sprintf("%s into %s", opts.Mode, id)
	}
	if id.Internal() && !opts.Internal {
		return WriteResult{}, rat.InternalTableError(id)
	}
	if _, err := l.store.Ref(ctx, ref); err != nil {
		return WriteResult{}, err
	}
	for attempt := 0; ; attempt++ {
		res, err := l.write(ctx, ref, id, source, opts)
		// A table created concurrently by another writer: write into it.
		if errors.Is(err, icecat.ErrTableAlreadyExists) && attempt < 2 {
			continue
		}
		return res, err
	}
}

func (l *Lake) write(ctx context.Context, ref string, id rat.TableID, source string, opts WriteOptions) (WriteResult, error) {
	res := WriteResult{Table: id, NewRows: -1}
	if opts.Views == nil {
		views, err := l.Plan(ctx, ref, At{}, source)
		if err != nil {
			return res, err
		}
		opts.Views = views
	}
	err := l.db.WithViews(ctx, opts.Views, func(conn *sql.Conn) error {
		cols, err := describe(ctx, conn, source)
		if err != nil {
			return err
		}
		srcSchema, err := duckdb.Schema(cols)
		if err != nil {
			return rat.Errorf(rat.EINVALID, "%s: %s", id, err.Error())
		}
		cat := l.Catalog(ref).WithMessage(opts.Message)
		if opts.Internal {
			cat = cat.WithInternal()
		}
		tbl, created, err := l.loadOrNew(ctx, cat, id, srcSchema, opts)
		if err != nil {
			return err
		}
		res.Created = created
		tx := tbl.NewTransaction()
		if opts.Reshape && opts.Mode == Replace && !created {
			if err := reshape(tx, tbl.Metadata().CurrentSchema(), srcSchema); err != nil {
				return rat.Errorf(rat.EINVALID, "reshape %s: %w", id, err)
			}
			st, err := tx.StagedTable()
			if err != nil {
				return err
			}
			tbl = st.Table
		}
		target, added, err := reconcile(id, tbl.Metadata().CurrentSchema(), cols, opts.Evolve)
		if err != nil {
			return err
		}
		if len(added) > 0 {
			upd := tx.UpdateSchema(false, false)
			for _, f := range added {
				upd.AddColumn([]string{f.Name}, f.Type, "", false, nil)
				res.Added = append(res.Added, f.Name)
			}
			if err := upd.Commit(); err != nil {
				return rat.Errorf(rat.EINVALID, "evolve %s: %w", id, err)
			}
			st, err := tx.StagedTable()
			if err != nil {
				return err
			}
			if target, _, err = reconcile(id, st.Metadata().CurrentSchema(), cols, false); err != nil {
				return err
			}
		}
		if opts.EvolvePartitions && !created {
			if tbl, err = evolveSpec(tx, tbl, id, opts); err != nil {
				return err
			}
		}
		if len(opts.Properties) > 0 {
			if err := tx.SetProperties(opts.Properties); err != nil {
				return fmt.Errorf("set properties of %s: %w", id, err)
			}
		}
		var replaced []string // files a merge rewrites
		newRows := source
		if opts.Mode == Merge || opts.Mode == DeleteInsert {
			defer dropBatches(context.WithoutCancel(ctx), conn)
			if source, replaced, res.NewRows, newRows, err = l.upsertSource(ctx, conn, tbl, target, cols, source, opts); err != nil {
				return err
			}
			cols = nil // the rewritten source has exactly the target's columns
		}
		// A merge's new rows are a small staged table: read their maximum
		// there. Other writes read it from the written files' statistics
		// (their rows are exactly the new rows), never scanning the data twice.
		var wm string
		if opts.Watermark != "" && newRows != source {
			if wm, err = watermark(ctx, conn, newRows, opts.Watermark, ""); err != nil {
				return err
			}
		}
		statsOf := ""
		if opts.Watermark != "" && newRows == source {
			statsOf = opts.Watermark
			if f, ok := target.FindFieldByNameCaseInsensitive(opts.Watermark); ok {
				statsOf = f.Name // the name the files carry
			}
		}
		started := time.Now() // the written files are no older than this
		urls, dfs, fileMax, err := l.writeFiles(ctx, conn, tbl, source, target, cols, fileOptions{statsOf: statsOf}, &res)
		if err != nil {
			return err
		}
		if opts.Watermark != "" {
			if newRows == source {
				wm = fileMax
			}
			if old := tbl.Properties()[WatermarkProperty(opts.Watermark)]; old != "" && (wm == "" || watermarkLess(wm, old)) {
				wm = old
			}
			if wm != "" {
				if err := tx.SetProperties(iceberg.Properties{WatermarkProperty(opts.Watermark): wm}); err != nil {
					return err
				}
			}
		}
		props := iceberg.Properties{"rat.operation": string(opts.Mode)}
		switch {
		case len(replaced) > 0:
			if err := replaceFiles(ctx, tx, tbl, replaced, urls, dfs, props); err != nil {
				return fmt.Errorf("rewrite files of %s: %w", id, err)
			}
		case opts.Mode == Replace:
			old, err := l.Files(ctx, tbl, tbl.Metadata().CurrentSnapshot())
			if err != nil {
				return err
			}
			oldPaths := make([]string, len(old))
			for i, f := range old {
				oldPaths[i] = f.Location
			}
			if len(oldPaths) == 0 && len(urls) == 0 {
				break
			}
			if err := replaceFiles(ctx, tx, tbl, oldPaths, urls, dfs, props); err != nil {
				return fmt.Errorf("replace files of %s: %w", id, err)
			}
		case dfs != nil:
			if err := tx.AddDataFiles(ctx, dfs, props); err != nil {
				return fmt.Errorf("add files to %s: %w", id, err)
			}
		case len(urls) > 0:
			if err := tx.AddFiles(ctx, urls, props, true); err != nil {
				return fmt.Errorf("add files to %s: %w", id, err)
			}
		}
		commitCtx := ctx
		if l.maxWriteAge > 0 {
			commitCtx = catalog.CommitBy(ctx, started.Add(l.maxWriteAge), func() error {
				return rat.Errorf(rat.ECONFLICT, "write into %s on %s took %s, longer than %s (half of maintenance.orphans.older_than): its files may already count as orphans, so it was not committed; run it again, or raise maintenance.orphans.older_than",
					id, ref, time.Since(started).Round(time.Millisecond), l.maxWriteAge)
			})
		}
		committed, err := tx.Commit(commitCtx)
		if err != nil {
			return commitError(id, ref, err)
		}
		if created && committed.MetadataLocation() == "" {
			// No rows and no other change: the transaction committed
			// nothing, so the new table would not exist. Create it empty,
			// with the columns the source has.
			spec := tbl.Spec()
			_, err := cat.CreateTable(ctx, catalog.Identifier(id), tbl.Schema(), icecat.WithPartitionSpec(&spec))
			return err
		}
		if s := committed.Metadata().CurrentSnapshot(); s != nil {
			res.SnapshotID = s.SnapshotID
		}
		return nil
	})
	return res, err
}

// WatermarkProperty is the table property holding a column's watermark.
func WatermarkProperty(column string) string { return "rat.watermark." + column }

// filesMax reads the greatest value of a column from Parquet statistics;
// ok is false when a file lacks them.
func filesMax(ctx context.Context, conn *sql.Conn, paths []string, column string) (string, bool) {
	quoted := make([]string, len(paths))
	for i, p := range paths {
		quoted[i] = duckdb.Quote(p)
	}
	rows, err := conn.QueryContext(ctx, "SELECT stats_max FROM parquet_metadata(["+strings.Join(quoted, ", ")+"]) WHERE path_in_schema = "+duckdb.Quote(column))
	if err != nil {
		return "", false
	}
	defer rows.Close()
	best, seen := "", false
	for rows.Next() {
		var v sql.NullString
		if rows.Scan(&v) != nil {
			return "", false
		}
		if !v.Valid {
			continue // a row group of NULLs only
		}
		if !seen || watermarkLess(best, v.String) {
			best, seen = v.String, true
		}
	}
	return best, rows.Err() == nil
}

// watermark returns the greater of old and the maximum of column in rows.
func watermark(ctx context.Context, conn *sql.Conn, rows, column, old string) (string, error) {
	var v sql.NullString
	q := fmt.Sprintf("SELECT CAST(max(%s) AS VARCHAR) FROM (%s)", duckdb.Ident(column), rows)
	if err := conn.QueryRowContext(ctx, q).Scan(&v); err != nil {
		return "", duckdb.UserError("watermark "+column, err)
	}
	if old != "" && (!v.Valid || watermarkLess(v.String, old)) {
		return old, nil
	}
	return v.String, nil
}

// watermarkLess orders watermark values: numerically when both are numbers,
// else as text (ISO dates and timestamps sort correctly as text).
func watermarkLess(a, b string) bool {
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		return fa < fb
	}
	return a < b
}

// loadOrNew loads a table, or prepares a new one (created by its first commit).
func (l *Lake) loadOrNew(ctx context.Context, cat *catalog.Iceberg, id rat.TableID, schema *iceberg.Schema, wopts WriteOptions) (*table.Table, bool, error) {
	e, err := l.store.Table(ctx, cat.Ref(), id)
	if err == nil && IsView(e.Metadata) {
		return nil, false, rat.Errorf(rat.EINVALID, "%s is a view, not a table: write into another name, or materialize it as a table", id)
	}
	if err == nil {
		tbl, err := cat.Open(ctx, id, e.Metadata)
		return tbl, false, err
	}
	if !rat.IsCode(err, rat.ENOTFOUND) {
		return nil, false, err
	}
	fresh, err := iceberg.AssignFreshSchemaIDs(schema, nil)
	if err != nil {
		return nil, false, err
	}
	var opts []icecat.CreateTableOpt
	if len(wopts.PartitionBy) > 0 {
		spec, err := partitionSpec(id, fresh, wopts.PartitionBy, wopts.PartitionFrom)
		if err != nil {
			return nil, false, err
		}
		opts = append(opts, icecat.WithPartitionSpec(&spec))
	}
	tbl, err := cat.NewTable(id, fresh, opts...)
	return tbl, true, err
}

// writeFiles has DuckDB write the source as Parquet files shaped like the
// target schema, then uploads them into the table's data directory.
//
// With fo.statsOf set, it also returns the greatest value of that column in
// the written files, from their statistics.
//
// When the table's partition spec has a transform whose value the files'
// statistics cannot give (bucket), or fo.dataFiles is set, it also returns
// the files as Iceberg data files carrying their partition values, to
// commit as they are.
func (l *Lake) writeFiles(ctx context.Context, conn *sql.Conn, tbl *table.Table, source string, target *iceberg.Schema, cols []duckdb.Column, fo fileOptions, res *WriteResult) ([]string, []iceberg.DataFile, string, error) {
	statsOf := fo.statsOf
	srcByName := map[string]string{}
	for _, c := range cols {
		srcByName[strings.ToLower(c.Name)] = c.Name
	}
	if cols == nil {
		for _, f := range target.Fields() {
			srcByName[strings.ToLower(f.Name)] = f.Name
		}
	}
	sel := make([]string, 0, len(target.Fields()))
	for _, f := range target.Fields() {
		dt, err := duckdb.TypeOf(f.Type)
		if err != nil {
			return nil, nil, "", err
		}
		if name, ok := srcByName[strings.ToLower(f.Name)]; ok {
			sel = append(sel, fmt.Sprintf("CAST(%s AS %s) AS %s", duckdb.Ident(name), dt, duckdb.Ident(f.Name)))
		} else {
			sel = append(sel, fmt.Sprintf("CAST(NULL AS %s) AS %s", dt, duckdb.Ident(f.Name)))
		}
	}
	if err := os.MkdirAll(l.tmpDir, 0o755); err != nil {
		return nil, nil, "", fmt.Errorf("staging directory: %w", err)
	}
	stage, err := os.MkdirTemp(l.tmpDir, "write-")
	if err != nil {
		return nil, nil, "", fmt.Errorf("staging directory: %w", err)
	}
	defer os.RemoveAll(stage)
	// A partitioned table gets one file per partition value: DuckDB splits
	// on helper columns that it leaves out of the files, and iceberg-go
	// reads each file's partition from its column statistics.
	parts, err := partitionExprs(tbl.Spec(), target)
	if err != nil {
		return nil, nil, "", err
	}
	if fo.partition != nil {
		parts = nil // one partition, known: no split
	}
	fileSize := "'256MB'"
	if fo.fileBytes > 0 {
		fileSize = strconv.FormatInt(fo.fileBytes, 10)
	}
	split, pattern := ", FILE_SIZE_BYTES "+fileSize, newID()+"_{i}"
	bucketed := !tbl.Spec().IsUnpartitioned() && !preservesOrder(tbl.Spec()) && fo.partition == nil
	explicit := bucketed || fo.dataFiles
	if bucketed {
		if err := l.db.RegisterBucket(conn); err != nil {
			return nil, nil, "", err
		}
	}
	if len(parts) > 0 {
		names := make([]string, len(parts))
		for i, e := range parts {
			names[i] = fmt.Sprintf("__rat_p%d", i)
			sel = append(sel, e+" AS "+names[i])
		}
		split = ", PARTITION_BY (" + strings.Join(names, ", ") + ")"
		pattern = newID() + "_{uuid}"
	}
	copySQL := fmt.Sprintf("COPY (SELECT %s FROM (%s)) TO %s (FORMAT parquet, COMPRESSION zstd, FIELD_IDS %s, ROW_GROUP_SIZE %d, FILENAME_PATTERN %s%s)",
		strings.Join(sel, ", "), source, duckdb.Quote(stage), duckdb.FieldIDs(target), max(l.rowGroup, 1), duckdb.Quote(pattern), split)
	r, err := conn.ExecContext(ctx, copySQL)
	if err != nil {
		return nil, nil, "", duckdb.UserError("write "+res.Table.String(), err)
	}
	res.Rows, _ = r.RowsAffected()
	if res.Rows == 0 {
		return nil, nil, "", nil
	}
	var locals []string
	err = filepath.WalkDir(stage, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			locals = append(locals, p)
		}
		return err
	})
	if err != nil {
		return nil, nil, "", err
	}
	sort.Strings(locals)
	var maxValue string
	if statsOf != "" {
		var ok bool
		if maxValue, ok = filesMax(ctx, conn, locals, statsOf); !ok {
			var err error
			if maxValue, err = watermark(ctx, conn, source, statsOf, ""); err != nil {
				return nil, nil, "", err
			}
		}
	}
	var urls []string
	var dfs []iceberg.DataFile
	for _, local := range locals {
		info, err := os.Stat(local)
		if err != nil {
			return nil, nil, "", err
		}
		loc := strings.TrimSuffix(tbl.Location(), "/") + "/data/" + filepath.Base(local)
		key, ok := l.objects.Key(loc)
		if !ok {
			return nil, nil, "", rat.Errorf(rat.EINVALID, "table %s lives at %s, outside the warehouse %s", res.Table, tbl.Location(), l.warehouse)
		}
		if explicit {
			df, err := dataFile(tbl, target, stage, local, loc, info.Size(), fo.partition)
			if err != nil {
				return nil, nil, "", err
			}
			dfs = append(dfs, df)
		}
		if err := l.cache.Put(ctx, key, local); err != nil {
			return nil, nil, "", fmt.Errorf("upload %s: %w", key, err)
		}
		urls = append(urls, loc)
		res.Files++
		res.Bytes += info.Size()
	}
	return urls, dfs, maxValue, nil
}

// fileOptions tune writeFiles.
type fileOptions struct {
	statsOf   string // return the greatest value of this column
	fileBytes int64  // roll over to a new file at about this size (0 = 256 MB); not when split by partition
	dataFiles bool   // return Iceberg data files for every file written
	// partition, when set, holds every row's partition values under the
	// table's current spec (by partition field id): the files are not
	// split by partition, and carry these values.
	partition map[int]any
}

func commitError(id rat.TableID, ref string, err error) error {
	if errors.Is(err, table.ErrCommitFailed) {
		return rat.Errorf(rat.ECONFLICT, "commit to %s on %s kept conflicting with concurrent writers; retry: %w", id, ref, err)
	}
	return fmt.Errorf("commit %s on %s: %w", id, ref, err)
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
