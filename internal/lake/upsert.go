package lake

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
)

// upsertSource stages a Merge or DeleteInsert: it materialises the new rows
// in a temporary table (rat_batch_*, dropped by the caller with
// dropBatches), finds the data files that hold any of their keys, and
// returns the SQL of those files' surviving rows plus the new rows, the
// files it replaces and the number of new rows. Only files with affected
// keys are rewritten (copy-on-write). It also returns the SQL of the new
// rows alone.
func (l *Lake) upsertSource(ctx context.Context, conn *sql.Conn, tbl *table.Table, target *iceberg.Schema, cols []duckdb.Column, source string, opts WriteOptions) (string, []string, int64, string, error) {
	id := tbl.Identifier()
	if len(opts.Key) == 0 {
		return "", nil, 0, "", rat.Errorf(rat.EINVALID, "%s into %v needs a unique key", opts.Mode, id)
	}
	have := map[string]bool{}
	for _, c := range cols {
		have[strings.ToLower(c.Name)] = true
	}
	keys := make([]string, len(opts.Key))
	for i, k := range opts.Key {
		f, ok := target.FindFieldByNameCaseInsensitive(k)
		if !ok || !have[strings.ToLower(k)] {
			return "", nil, 0, "", rat.Errorf(rat.EINVALID, "unique key column %q is missing from %v or from the new rows", k, id)
		}
		keys[i] = duckdb.Ident(f.Name)
	}
	keyList := strings.Join(keys, ", ")
	batch := "rat_batch_" + newID()
	if _, err := conn.ExecContext(ctx, "CREATE TEMP TABLE "+batch+" AS SELECT * FROM ("+source+")"); err != nil {
		return "", nil, 0, "", duckdb.UserError(fmt.Sprintf("stage new rows of %v", id), err)
	}
	if opts.Mode == Merge {
		// Several new rows with one key: keep one, deterministically. Most
		// batches have none, and the window below is not free.
		var dups bool
		q := fmt.Sprintf("SELECT count(*) > count(DISTINCT (%s)) FROM %s", keyList, batch)
		if err := conn.QueryRowContext(ctx, q).Scan(&dups); err != nil {
			return "", nil, 0, "", duckdb.UserError(fmt.Sprintf("stage new rows of %v", id), err)
		}
		if dups {
			order := ""
			if opts.OrderBy != "" {
				order = duckdb.Ident(opts.OrderBy) + " DESC NULLS LAST, "
			}
			dedup := fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS SELECT * EXCLUDE (rat_rn) FROM (SELECT s.*, row_number() OVER (PARTITION BY %s ORDER BY %sCAST(s AS VARCHAR) DESC) AS rat_rn FROM %s s) WHERE rat_rn = 1",
				batch, keyList, order, batch)
			if _, err := conn.ExecContext(ctx, dedup); err != nil {
				return "", nil, 0, "", duckdb.UserError(fmt.Sprintf("deduplicate new rows of %v", id), err)
			}
		}
	}
	var n int64
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+batch).Scan(&n); err != nil {
		return "", nil, 0, "", err
	}
	drop := func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+batch) }
	files, err := l.Files(ctx, tbl, tbl.Metadata().CurrentSnapshot())
	if err != nil {
		drop()
		return "", nil, 0, "", err
	}
	newRows := "SELECT * FROM " + batch
	if len(files) == 0 {
		return newRows, nil, n, newRows, nil
	}
	paths, err := l.LocalPaths(ctx, files)
	if err != nil {
		drop()
		return "", nil, 0, "", err
	}
	read, err := readFiles(tbl.Metadata(), paths, target, true)
	if err != nil {
		drop()
		return "", nil, 0, "", err
	}
	match := fmt.Sprintf("(%s) IN (SELECT %s FROM %s)", keyList, keyList, batch)
	// A static range of the first key column lets DuckDB skip the files and
	// row groups whose statistics rule it out, before the IN probe.
	prune := ""
	var lo, hi sql.NullString
	if err := conn.QueryRowContext(ctx, fmt.Sprintf("SELECT CAST(min(%s) AS VARCHAR), CAST(max(%s) AS VARCHAR) FROM %s", keys[0], keys[0], batch)).Scan(&lo, &hi); err == nil && lo.Valid && hi.Valid {
		f, _ := target.FindFieldByNameCaseInsensitive(opts.Key[0])
		if dt, err := duckdb.TypeOf(f.Type); err == nil {
			prune = fmt.Sprintf("%s BETWEEN CAST(%s AS %s) AND CAST(%s AS %s) AND ", keys[0], duckdb.Quote(lo.String), dt, duckdb.Quote(hi.String), dt)
		}
	}
	rows, err := conn.QueryContext(ctx, fmt.Sprintf("SELECT DISTINCT filename FROM %s WHERE %s%s", read, prune, match))
	if err != nil {
		drop()
		return "", nil, 0, "", duckdb.UserError(fmt.Sprintf("find rows to replace in %v", id), err)
	}
	byPath := make(map[string]string, len(files))
	for i, p := range paths {
		byPath[p] = files[i].Location
	}
	var affected, affectedPaths []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			drop()
			return "", nil, 0, "", err
		}
		affected = append(affected, byPath[p])
		affectedPaths = append(affectedPaths, p)
	}
	rows.Close()
	if len(affected) == 0 {
		return newRows, nil, n, newRows, nil
	}
	keep, err := readFiles(tbl.Metadata(), affectedPaths, target, false)
	if err != nil {
		drop()
		return "", nil, 0, "", err
	}
	return fmt.Sprintf("SELECT * FROM %s WHERE NOT %s UNION ALL BY NAME %s", keep, match, newRows), affected, n, newRows, nil
}

// dropBatches drops the temporary tables upsertSource made on conn.
func dropBatches(ctx context.Context, conn *sql.Conn) {
	rows, err := conn.QueryContext(ctx, "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'rat_batch_%'")
	if err != nil {
		return
	}
	var names []string
	for rows.Next() {
		var n string
		if rows.Scan(&n) == nil {
			names = append(names, n)
		}
	}
	rows.Close()
	for _, n := range names {
		_, _ = conn.ExecContext(ctx, "DROP TABLE IF EXISTS temp."+duckdb.Ident(n))
	}
}

// readFiles reads data files of a table with its current schema.
func readFiles(meta table.Metadata, paths []string, schema *iceberg.Schema, filename bool) (string, error) {
	read := duckdb.ReadParquet
	if len(meta.Schemas()) == 1 {
		read = duckdb.ReadParquetByName
	}
	expr, err := read(paths, schema)
	if err != nil || !filename {
		return expr, err
	}
	// read_parquet(...) → read_parquet(..., filename = true)
	return strings.TrimSuffix(expr, ")") + ", filename = true)", nil
}

// Partition is one field of a table's partitioning (see rat.Partition).
type Partition = rat.Partition

// partitionTransform is p's Iceberg transform.
func partitionTransform(p Partition) (iceberg.Transform, error) {
	switch p.Transform {
	case "identity", "":
		return iceberg.IdentityTransform{}, nil
	case "year":
		return iceberg.YearTransform{}, nil
	case "month":
		return iceberg.MonthTransform{}, nil
	case "day":
		return iceberg.DayTransform{}, nil
	case "hour":
		return iceberg.HourTransform{}, nil
	case "bucket":
		if p.Param > 0 {
			return iceberg.BucketTransform{NumBuckets: p.Param}, nil
		}
	case "truncate":
		if p.Param > 0 {
			return iceberg.TruncateTransform{Width: p.Param}, nil
		}
	}
	return nil, rat.Errorf(rat.EINVALID, "partition %s: want col, year(col), month(col), day(col), hour(col), bucket(n, col) or truncate(width, col) with n and width above 0", p)
}

// partitionSpec builds the spec of parts over schema; from (file:line:
// key) prefixes its errors.
func partitionSpec(id rat.TableID, schema *iceberg.Schema, parts []Partition, from string) (iceberg.PartitionSpec, error) {
	fields := make([]iceberg.PartitionField, 0, len(parts))
	names := map[string]bool{}
	fail := func(format string, args ...any) (iceberg.PartitionSpec, error) {
		msg := fmt.Sprintf(format, args...)
		if from != "" {
			msg = from + ": " + msg
		}
		return iceberg.PartitionSpec{}, rat.Errorf(rat.EINVALID, "%s", msg)
	}
	for i, p := range parts {
		f, ok := schema.FindFieldByNameCaseInsensitive(p.Column)
		if !ok {
			return fail("partition %s: %q is not a column of %s (its columns: %s)", p, p.Column, id, columnNames(schema))
		}
		t, err := partitionTransform(p)
		if err != nil {
			return fail("%v", err)
		}
		if !t.CanTransform(f.Type) {
			return fail("partition %s: transform %s does not apply to column %s of type %s", p, p.Transform, f.Name, f.Type)
		}
		name := f.Name
		switch p.Transform {
		case "identity", "":
		case "bucket", "truncate":
			name = fmt.Sprintf("%s_%s_%d", f.Name, p.Transform, p.Param)
		default:
			name = f.Name + "_" + p.Transform
		}
		if names[name] {
			return fail("partition %s is given twice", p)
		}
		names[name] = true
		fields = append(fields, iceberg.PartitionField{SourceIDs: []int{f.ID}, FieldID: 1000 + i, Name: name, Transform: t})
	}
	return iceberg.NewPartitionSpec(fields...), nil
}

// evolveSpec stages, in tx, the change of tbl's partition spec to
// opts.PartitionBy when they differ (as sets of column and transform):
// fields no longer wanted are removed, new ones added. New files get the
// new spec; files already written keep theirs.
func evolveSpec(tx *table.Transaction, tbl *table.Table, id rat.TableID, opts WriteOptions) (*table.Table, error) {
	st, err := tx.StagedTable()
	if err != nil {
		return nil, err
	}
	schema := st.Metadata().CurrentSchema()
	want, err := partitionSpec(id, schema, opts.PartitionBy, opts.PartitionFrom)
	if err != nil {
		return nil, err
	}
	key := func(f iceberg.PartitionField) string { return fmt.Sprintf("%d/%s", f.SourceID(), f.Transform) }
	have := map[string]iceberg.PartitionField{}
	cur := st.Spec()
	for _, f := range cur.Fields() {
		have[key(f)] = f
	}
	wanted := map[string]bool{}
	upd := tx.UpdateSpec(false)
	changed := false
	for _, f := range want.Fields() {
		wanted[key(f)] = true
		if _, ok := have[key(f)]; !ok {
			src, _ := schema.FindColumnName(f.SourceID())
			upd.AddField(src, f.Transform, f.Name)
			changed = true
		}
	}
	for k, f := range have {
		if !wanted[k] {
			upd.RemoveField(f.Name)
			changed = true
		}
	}
	if !changed {
		return tbl, nil
	}
	if err := upd.Commit(); err != nil {
		where := ""
		if opts.PartitionFrom != "" {
			where = opts.PartitionFrom + ": "
		}
		return nil, rat.Errorf(rat.EINVALID, "%schange the partitioning of %s from %s: %v", where, id, cur, err)
	}
	if st, err = tx.StagedTable(); err != nil {
		return nil, err
	}
	return st.Table, nil
}

// partitionByText writes spec the way partition_by takes it.
func partitionByText(spec iceberg.PartitionSpec, schema *iceberg.Schema) string {
	var out []string
	for _, f := range spec.Fields() {
		col, ok := schema.FindColumnName(f.SourceID())
		if !ok {
			col = fmt.Sprintf("field %d", f.SourceID())
		}
		p := Partition{Column: col, Transform: f.Transform.String()}
		switch t := f.Transform.(type) {
		case iceberg.BucketTransform:
			p.Transform, p.Param = "bucket", t.NumBuckets
		case iceberg.TruncateTransform:
			p.Transform, p.Param = "truncate", t.Width
		}
		out = append(out, p.String())
	}
	return strings.Join(out, ", ")
}

func columnNames(schema *iceberg.Schema) string {
	names := make([]string, 0, len(schema.Fields()))
	for _, f := range schema.Fields() {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

// partitionExprs gives, per partition field, the DuckDB expression whose
// value is constant within one partition (bucket: the bucket number itself,
// computed by iceberg-go's transform through duckdb.BucketFunction).
func partitionExprs(spec iceberg.PartitionSpec, schema *iceberg.Schema) ([]string, error) {
	var out []string
	for _, f := range spec.Fields() {
		src, ok := schema.FindFieldByID(f.SourceID())
		if !ok {
			return nil, rat.Errorf(rat.EINTERNAL, "partition field %s has no source column", f.Name)
		}
		col := duckdb.Ident(src.Name)
		if _, ok := src.Type.(iceberg.TimestampTzType); ok {
			// Iceberg's hours, days, months and years of a timestamptz
			// are UTC's, whatever DuckDB's time zone.
			col = "timezone('UTC', " + col + ")"
		}
		switch t := f.Transform.(type) {
		case iceberg.IdentityTransform:
			out = append(out, col)
		case iceberg.HourTransform:
			out = append(out, "date_trunc('hour', "+col+")")
		case iceberg.DayTransform:
			out = append(out, "CAST("+col+" AS DATE)")
		case iceberg.MonthTransform:
			out = append(out, "date_trunc('month', "+col+")")
		case iceberg.YearTransform:
			out = append(out, "date_trunc('year', "+col+")")
		case iceberg.TruncateTransform:
			switch src.Type.(type) {
			case iceberg.StringType:
				out = append(out, fmt.Sprintf("left(%s, %d)", col, t.Width))
			case iceberg.Int32Type, iceberg.Int64Type:
				out = append(out, fmt.Sprintf("(%s - (((%s %% %d) + %d) %% %d))", col, col, t.Width, t.Width, t.Width))
			default:
				return nil, rat.Errorf(rat.EINVALID, "partition %s: truncate of a %s column is not supported for writes; use an int, long or string column", f.Name, src.Type)
			}
		case iceberg.BucketTransform:
			arg, err := bucketArg(col, src.Type)
			if err != nil {
				return nil, rat.Errorf(rat.EINVALID, "partition %s: %v", f.Name, err)
			}
			out = append(out, fmt.Sprintf("%s(%d, %s)", duckdb.BucketFunction, t.NumBuckets, arg))
		default:
			return nil, rat.Errorf(rat.EINVALID, "partition transform %s is not supported for writes", f.Transform)
		}
	}
	return out, nil
}

// bucketArg gives the value Iceberg's bucket hashes, as DuckDB computes
// it: the 64-bit integer of ints, dates (days) and timestamps
// (microseconds since the epoch), or the text of a string.
func bucketArg(col string, t iceberg.Type) (string, error) {
	switch t.(type) {
	case iceberg.Int32Type, iceberg.Int64Type:
		return "CAST(" + col + " AS BIGINT)", nil
	case iceberg.DateType:
		return "CAST(" + col + " - DATE '1970-01-01' AS BIGINT)", nil
	case iceberg.TimestampType, iceberg.TimestampTzType:
		return "epoch_us(" + col + ")", nil
	case iceberg.StringType:
		return "CAST(" + col + " AS VARCHAR)", nil
	}
	return "", fmt.Errorf("bucket of a %s column is not supported for writes; use an int, long, date, timestamp or string column", t)
}

// reshape stages schema changes that make the table's columns those of src.
func reshape(tx *table.Transaction, current, src *iceberg.Schema) error {
	srcByName := map[string]iceberg.NestedField{}
	for _, f := range src.Fields() {
		srcByName[strings.ToLower(f.Name)] = f
	}
	curByName := map[string]iceberg.NestedField{}
	var drop []string
	for _, f := range current.Fields() {
		curByName[strings.ToLower(f.Name)] = f
		sf, ok := srcByName[strings.ToLower(f.Name)]
		if !ok || !compatible(f.Type, sf.Type) {
			drop = append(drop, f.Name)
		}
	}
	var add []iceberg.NestedField
	for _, f := range src.Fields() {
		cf, ok := curByName[strings.ToLower(f.Name)]
		if !ok || !compatible(cf.Type, f.Type) {
			add = append(add, f)
		}
	}
	if len(drop) == 0 && len(add) == 0 {
		return nil
	}
	// One schema update: each update of a transaction asserts the schema it
	// started from, so a second one would fail against the catalog's.
	upd := tx.UpdateSchema(false, true)
	for _, name := range drop {
		upd.DeleteColumn([]string{name})
	}
	for _, f := range add {
		upd.AddColumn([]string{f.Name}, f.Type, "", false, nil)
	}
	return upd.Commit()
}
