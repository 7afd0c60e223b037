package lake

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
)

func TestMergeUpsert(t *testing.T) {
	backends(t, func(t *testing.T, l *Lake) {
		ctx := context.Background()
		id := rat.TableID{Layer: "silver", Name: "customers"}
		// Two files: keys 1-3 and keys 4-6.
		mustWrite(t, l, "main", "silver.customers", "SELECT * FROM (VALUES (1, 'a', 1), (2, 'b', 1), (3, 'c', 1)) t(id, name, v)", WriteOptions{})
		mustWrite(t, l, "main", "silver.customers", "SELECT * FROM (VALUES (4, 'd', 1), (5, 'e', 1), (6, 'f', 1)) t(id, name, v)", WriteOptions{})
		before, err := l.Resolve(ctx, "main", id, At{})
		if err != nil {
			t.Fatal(err)
		}
		// Key 2 changes twice in one batch (v decides), key 7 is new; the
		// second file holds no affected key and must not be rewritten.
		res := mustWrite(t, l, "main", "silver.customers",
			"SELECT * FROM (VALUES (2, 'B-old', 2), (2, 'B-new', 3), (7, 'g', 1)) t(id, name, v)",
			WriteOptions{Mode: Merge, Key: []string{"id"}, OrderBy: "v"})
		if res.Rows != 4 { // 1, 3 kept from the rewritten file + 2 and 7
			t.Errorf("rows written = %d, want 4 (only the affected file is rewritten)", res.Rows)
		}
		got := queryText(t, l, "main", At{}, "SELECT id, name FROM silver.customers ORDER BY id")
		want := "1 | a;2 | B-new;3 | c;4 | d;5 | e;6 | f;7 | g"
		if strings.Join(got, ";") != want {
			t.Fatalf("after merge: %v, want %s", got, want)
		}
		after, err := l.Resolve(ctx, "main", id, At{})
		if err != nil {
			t.Fatal(err)
		}
		kept := 0
		for _, f := range after.Files {
			for _, g := range before.Files {
				if f.Location == g.Location {
					kept++
				}
			}
		}
		if kept != 1 || len(after.Files) != 2 {
			t.Fatalf("files: %d before, %d after, %d untouched; want the unaffected file kept", len(before.Files), len(after.Files), kept)
		}
		// Delete-insert replaces all rows of the keys given.
		mustWrite(t, l, "main", "silver.customers", "SELECT * FROM (VALUES (5, 'x', 9), (5, 'y', 9)) t(id, name, v)",
			WriteOptions{Mode: DeleteInsert, Key: []string{"id"}})
		got = queryText(t, l, "main", At{}, "SELECT name FROM silver.customers WHERE id = 5 ORDER BY name")
		if strings.Join(got, ";") != "x;y" {
			t.Fatalf("after delete_insert: %v", got)
		}
		if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM silver.customers"); n != 8 {
			t.Fatalf("rows = %d, want 8", n)
		}
		_, err = l.Write(ctx, "main", id, "SELECT 1 AS id", WriteOptions{Mode: Merge, Key: []string{"nope"}})
		if err == nil || !strings.Contains(err.Error(), `"nope"`) {
			t.Fatalf("bad key: %v", err)
		}
	})
}

func TestPartitionedTable(t *testing.T) {
	backends(t, func(t *testing.T, l *Lake) {
		ctx := context.Background()
		parts := []Partition{{Column: "ts", Transform: "day"}, {Column: "region", Transform: "identity"}}
		mustWrite(t, l, "main", "bronze.p", `SELECT * FROM (VALUES
			(TIMESTAMP '2024-01-01 10:00', 'n', 1), (TIMESTAMP '2024-01-01 11:00', 'n', 2),
			(TIMESTAMP '2024-01-02 10:00', 'n', 3), (TIMESTAMP '2024-01-02 10:00', 's', 4)) t(ts, region, v)`,
			WriteOptions{PartitionBy: parts})
		info, err := l.Describe(ctx, "main", rat.TableID{Layer: "bronze", Name: "p"}, true)
		if err != nil {
			t.Fatal(err)
		}
		if info.DataFiles != 3 || info.Partitions != 3 || !strings.Contains(info.Partition, "ts_day") {
			t.Fatalf("files = %d, partitions = %d (want 3, one file per partition), spec %s", info.DataFiles, info.Partitions, info.Partition)
		}
		if n := queryInt(t, l, "main", At{}, "SELECT sum(v) FROM bronze.p WHERE region = 'n'"); n != 6 {
			t.Fatalf("sum = %d", n)
		}
		// A merge into a partitioned table keeps one file per partition.
		mustWrite(t, l, "main", "bronze.p", "SELECT TIMESTAMP '2024-01-03 09:00' AS ts, 's' AS region, 5 AS v", WriteOptions{})
		if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.p"); n != 5 {
			t.Fatalf("rows = %d", n)
		}
	})
}

func TestWriteProperties(t *testing.T) {
	l := newLocalLake(t)
	ctx := context.Background()
	mustWrite(t, l, "main", "bronze.w", "SELECT 1 AS id", WriteOptions{Properties: map[string]string{"rat.watermark.id": "1"}})
	mustWrite(t, l, "main", "bronze.w", "SELECT 2 AS id", WriteOptions{Properties: map[string]string{"rat.watermark.id": "2"}})
	tbl, err := l.Load(ctx, "main", rat.TableID{Layer: "bronze", Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	if got := tbl.Properties()["rat.watermark.id"]; got != "2" {
		t.Fatalf("watermark property = %q, want 2", got)
	}
}

func TestReshape(t *testing.T) {
	l := newLocalLake(t)
	mustWrite(t, l, "main", "gold.g", "SELECT 1 AS id, 'a' AS name, 10 AS amount", WriteOptions{})
	// The SQL changed: name is gone, amount became text, city is new.
	mustWrite(t, l, "main", "gold.g", "SELECT 2 AS id, 'x' AS amount, 'paris' AS city", WriteOptions{Mode: Replace, Reshape: true})
	got := queryText(t, l, "main", At{}, "SELECT * FROM gold.g")
	if strings.Join(got, ";") != "2 | x | paris" {
		t.Fatalf("after reshape: %v", got)
	}
	info, err := l.Describe(context.Background(), "main", rat.TableID{Layer: "gold", Name: "g"}, false)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range info.Columns {
		cols = append(cols, c.Name+" "+c.Type)
	}
	if strings.Join(cols, ",") != "id INTEGER,amount VARCHAR,city VARCHAR" {
		t.Fatalf("columns = %v", cols)
	}
	// The old snapshot still reads with its own schema.
	if n := queryInt(t, l, "main", At{SnapshotID: info.Snapshots[0].ID}, "SELECT amount FROM gold.g"); n != 10 {
		t.Fatalf("time travel to the old shape: %d", n)
	}
}

func TestWriteReadsOtherTables(t *testing.T) {
	l := newLocalLake(t)
	mustWrite(t, l, "main", "bronze.raw", "SELECT * FROM (VALUES (1, 5), (2, 7)) t(id, v)", WriteOptions{})
	mustWrite(t, l, "main", "silver.clean", "SELECT id, v * 2 AS v2 FROM bronze.raw WHERE v > 5", WriteOptions{})
	if got := queryText(t, l, "main", At{}, "SELECT * FROM silver.clean"); strings.Join(got, ";") != "2 | 14" {
		t.Fatalf("derived table: %v", got)
	}
}

func TestHugeintStoredAsLong(t *testing.T) {
	l := newLocalLake(t)
	mustWrite(t, l, "main", "gold.s", "SELECT sum(x) AS total FROM (VALUES (1), (2)) t(x)", WriteOptions{})
	if n := queryInt(t, l, "main", At{}, "SELECT total FROM gold.s"); n != 3 {
		t.Fatalf("total = %d", n)
	}
	_, err := l.Write(context.Background(), "main", rat.TableID{Layer: "gold", Name: "big"},
		"SELECT 170141183460469231731687303715884105727::HUGEINT AS x", WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("overflow must fail loudly: %v", err)
	}
}

func TestPartitionTransforms(t *testing.T) {
	backends(t, func(t *testing.T, l *Lake) {
		ctx := context.Background()
		src := func(from, to int) string {
			return fmt.Sprintf(`SELECT i::BIGINT AS id, TIMESTAMP '2024-01-01' + to_hours(i * 7) AS ts,
				chr((97 + i %% 5)::INTEGER) || chr((97 + i %% 3)::INTEGER) || 'x' AS name, i * 10 AS v FROM range(%d, %d) r(i)`, from, to)
		}
		parts := []Partition{{Column: "ts", Transform: "day"}, {Column: "id", Transform: "bucket", Param: 4}, {Column: "name", Transform: "truncate", Param: 1}}
		mustWrite(t, l, "main", "bronze.p", src(0, 300), WriteOptions{PartitionBy: parts})
		mustWrite(t, l, "main", "bronze.flat", src(0, 300), WriteOptions{})
		id := rat.TableID{Layer: "bronze", Name: "p"}
		info, err := l.Describe(ctx, "main", id, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"ts_day", "day", "id_bucket_4", "bucket[4]", "name_truncate_1", "truncate[1]"} {
			if !strings.Contains(info.Partition, want) {
				t.Fatalf("spec %s lacks %s", info.Partition, want)
			}
		}
		if info.DataFiles < 100 || info.Partitions != int64(info.DataFiles) {
			t.Fatalf("files = %d, partitions = %d: want one file per partition", info.DataFiles, info.Partitions)
		}
		// Every file's bucket is iceberg-go's bucket of each of its ids.
		_, files, paths := currentFiles(t, l, id)
		bucket := iceberg.BucketTransform{NumBuckets: 4}
		for i, f := range files {
			var b, letter string
			for _, kv := range strings.Split(f.Partition, "/") {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "1001":
					b = v
				case "1002":
					letter = v
				}
			}
			rows, err := l.db.SQL().QueryContext(ctx, "SELECT id, name FROM read_parquet("+duckdb.Quote(paths[i])+")")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var n int64
				var name string
				if err := rows.Scan(&n, &name); err != nil {
					t.Fatal(err)
				}
				got := bucket.Apply(iceberg.Optional[iceberg.Literal]{Valid: true, Val: iceberg.Int64Literal(n)})
				if fmt.Sprint(got.Val) != b || name[:1] != letter {
					t.Fatalf("file %s (partition %s) holds id %d name %s: bucket %v", f.Location, f.Partition, n, name, got.Val)
				}
			}
			rows.Close()
		}
		same := func(step string) {
			t.Helper()
			q := "SELECT count(*), sum(v), count(DISTINCT name), min(ts), max(ts) FROM bronze.%s WHERE id %% 7 = 3 OR name LIKE 'b%%'"
			got, want := queryText(t, l, "main", At{}, fmt.Sprintf(q, "p")), queryText(t, l, "main", At{}, fmt.Sprintf(q, "flat"))
			if strings.Join(got, ";") != strings.Join(want, ";") {
				t.Fatalf("%s: partitioned %v, unpartitioned %v", step, got, want)
			}
			got, want = queryText(t, l, "main", At{}, "SELECT * FROM bronze.p ORDER BY id"), queryText(t, l, "main", At{}, "SELECT * FROM bronze.flat ORDER BY id")
			if strings.Join(got, ";") != strings.Join(want, ";") {
				t.Fatalf("%s: the partitioned table's rows differ from the unpartitioned one's", step)
			}
		}
		same("create")
		for _, tb := range []string{"p", "flat"} {
			mustWrite(t, l, "main", "bronze."+tb, src(250, 400), WriteOptions{})
		}
		same("append")
		for _, tb := range []string{"p", "flat"} {
			mustWrite(t, l, "main", "bronze."+tb, "SELECT id, ts, name, v + 1 AS v FROM ("+src(100, 120)+")", WriteOptions{Mode: Merge, Key: []string{"id"}})
		}
		same("merge")
		for _, tb := range []string{"p", "flat"} {
			mustWrite(t, l, "main", "bronze."+tb, src(10, 60), WriteOptions{Mode: Replace})
		}
		same("replace")
		// A transform that does not fit the column, a missing column, a bad width.
		for _, c := range []struct {
			part Partition
			want string
		}{
			{Partition{Column: "v", Transform: "day"}, "transform day does not apply to column v"},
			{Partition{Column: "nope", Transform: "bucket", Param: 2}, `"nope" is not a column`},
			{Partition{Column: "id", Transform: "truncate"}, "truncate(width, col)"},
		} {
			_, err := l.Write(ctx, "main", rat.TableID{Layer: "bronze", Name: "bad"}, src(0, 3), WriteOptions{PartitionBy: []Partition{c.part}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("partition %s: err = %v, want %q", c.part, err, c.want)
			}
		}
	})
}

// TestBucketTypes: the bucket of strings, dates and timestamps is
// iceberg-go's for each row of each file.
func TestBucketTypes(t *testing.T) {
	l := newLocalLake(t)
	ctx := context.Background()
	parts := []Partition{{Column: "name", Transform: "bucket", Param: 3}, {Column: "d", Transform: "bucket", Param: 5}, {Column: "ts", Transform: "bucket", Param: 2}}
	mustWrite(t, l, "main", "bronze.b", `SELECT 'n' || i AS name, DATE '2024-01-01' + CAST(i AS INTEGER) AS d,
		TIMESTAMP '2024-01-01 00:00:00.123456' + to_seconds(i * 3607) AS ts FROM range(60) r(i)
		UNION ALL SELECT NULL, NULL, NULL`, WriteOptions{PartitionBy: parts})
	_, files, paths := currentFiles(t, l, rat.TableID{Layer: "bronze", Name: "b"})
	bucket := func(n int, lit iceberg.Literal) string {
		return fmt.Sprint(iceberg.BucketTransform{NumBuckets: n}.Apply(iceberg.Optional[iceberg.Literal]{Valid: true, Val: lit}).Val)
	}
	rows := 0
	for i, f := range files {
		q := "SELECT name, CAST(d - DATE '1970-01-01' AS INTEGER), epoch_us(ts) FROM read_parquet(" + duckdb.Quote(paths[i]) + ")"
		r, err := l.db.SQL().QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var name *string
			var days *int32
			var us *int64
			if err := r.Scan(&name, &days, &us); err != nil {
				t.Fatal(err)
			}
			rows++
			want := "1000=<nil>/1001=<nil>/1002=<nil>"
			if name != nil {
				want = "1000=" + bucket(3, iceberg.StringLiteral(*name)) + "/1001=" + bucket(5, iceberg.DateLiteral(*days)) + "/1002=" + bucket(2, iceberg.TimestampLiteral(*us))
			}
			if f.Partition != want && !(name == nil && f.Partition == "") {
				t.Fatalf("file %s has partition %q, its row (%v) wants %q", f.Location, f.Partition, name, want)
			}
		}
		r.Close()
	}
	if rows != 61 {
		t.Fatalf("%d rows in the files, want 61", rows)
	}
}

// TestTruncateAndTimeZone: truncate of ints and the days of a
// timestamptz split files exactly where Iceberg's transforms do (each file
// holds one partition of iceberg-go's values), whatever DuckDB's time zone.
func TestTruncateAndTimeZone(t *testing.T) {
	l := newLocalLake(t)
	ctx := context.Background()
	// truncate of a decimal is refused (DuckDB's decimal statistics do not
	// give iceberg-go the file's partition value).
	_, err := l.Write(ctx, "main", rat.TableID{Layer: "bronze", Name: "dec"}, "SELECT 1.25::DECIMAL(10, 2) AS x",
		WriteOptions{PartitionBy: []Partition{{Column: "x", Transform: "truncate", Param: 50}}})
	if err == nil || !strings.Contains(err.Error(), "truncate of a decimal(10, 2) column is not supported") {
		t.Fatalf("truncate of a decimal: %v", err)
	}
	if _, err := l.db.SQL().ExecContext(ctx, "SET GLOBAL TimeZone = 'America/Los_Angeles'"); err != nil {
		t.Skipf("no time zones in this DuckDB: %v", err)
	}
	parts := []Partition{{Column: "amount", Transform: "identity"}, {Column: "n", Transform: "truncate", Param: 10}, {Column: "at", Transform: "day"}}
	mustWrite(t, l, "main", "bronze.tz", `SELECT CAST(i % 3 - 1 AS DECIMAL(10, 2)) AS amount, CAST(i - 50 AS INTEGER) AS n,
		TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_minutes(CAST(i * 37 AS INTEGER)) AS at FROM range(200) r(i)`, WriteOptions{PartitionBy: parts})
	tbl, files, paths := currentFiles(t, l, rat.TableID{Layer: "bronze", Name: "tz"})
	spec := tbl.Spec()
	for i := range files {
		q := "SELECT CAST(amount AS VARCHAR), n, epoch_us(\"at\") FROM read_parquet(" + duckdb.Quote(paths[i]) + ")"
		r, err := l.db.SQL().QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for r.Next() {
			var amount string
			var n int32
			var us int64
			if err := r.Scan(&amount, &n, &us); err != nil {
				t.Fatal(err)
			}
			dec, err := iceberg.StringLiteral(amount).To(iceberg.DecimalTypeOf(10, 2))
			if err != nil {
				t.Fatal(err)
			}
			var key []string
			for j, f := range spec.Fields() {
				var lit iceberg.Literal
				switch j {
				case 0:
					lit = dec
				case 1:
					lit = iceberg.Int32Literal(n)
				case 2:
					lit = iceberg.TimestampLiteral(us)
				}
				key = append(key, fmt.Sprint(f.Transform.Apply(iceberg.Optional[iceberg.Literal]{Valid: true, Val: lit}).Val))
			}
			seen[strings.Join(key, "/")] = true
		}
		r.Close()
		if len(seen) != 1 {
			t.Fatalf("file %s holds rows of %d Iceberg partitions: %v", files[i].Location, len(seen), seen)
		}
	}
}

// currentFiles loads table id on main and returns it with the data files
// of its current snapshot and their local paths.
func currentFiles(t *testing.T, l *Lake, id rat.TableID) (*table.Table, []DataFile, []string) {
	t.Helper()
	ctx := context.Background()
	tbl, err := l.Load(ctx, "main", id)
	if err != nil {
		t.Fatal(err)
	}
	files, err := l.Files(ctx, tbl, tbl.Metadata().CurrentSnapshot())
	if err != nil {
		t.Fatal(err)
	}
	paths, err := l.LocalPaths(ctx, files)
	if err != nil {
		t.Fatal(err)
	}
	return tbl, files, paths
}
