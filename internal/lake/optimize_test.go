package lake

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

// smallAppends builds a table from n appends of a few hundred rows each,
// k in a scattered order so that a sort has something to do.
func smallAppends(t *testing.T, l *Lake, table string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		mustWrite(t, l, "main", table, fmt.Sprintf("SELECT %d AS batch, (range * 7919 + %d * 104729) %% 10007 AS k, 'v' || range AS s FROM range(300)", i, i), WriteOptions{})
	}
}

// tableState is what a table reads: totals and every row, in order.
func tableState(t *testing.T, l *Lake, table string) []string {
	t.Helper()
	return append(queryText(t, l, "main", At{}, "SELECT count(*), sum(k), sum(batch), count(DISTINCT s) FROM "+table),
		queryText(t, l, "main", At{}, "SELECT * FROM "+table+" ORDER BY ALL")...)
}

func mustOptimize(t *testing.T, l *Lake, opts OptimizeOptions) OptimizeResult {
	t.Helper()
	res, err := l.Optimize(context.Background(), opts)
	if err != nil {
		t.Fatalf("optimize: %v", err)
	}
	return res
}

// TestOptimize: a dry run changes nothing; optimize rewrites 40 small files
// into one sorted file (row groups ordered by the sort key) with exactly
// the same rows, in one commit that rat log shows; a second run is a no-op.
func TestOptimize(t *testing.T) {
	backends(t, testOptimize)
}

func testOptimize(t *testing.T, l *Lake) {
	ctx := context.Background()
	id := rat.TableID{Layer: "bronze", Name: "t"}
	smallAppends(t, l, "bronze.t", 40)
	before := tableState(t, l, "bronze.t")
	head := headOf(t, l, "main")
	opts := OptimizeOptions{TargetFileBytes: 1 << 20, SortBy: map[rat.TableID]SortBy{id: {Columns: []string{"K"}}}}

	dry := opts
	dry.DryRun = true
	res := mustOptimize(t, l, dry)
	if len(res.Tables) != 1 || res.Tables[0].Rewritten != 40 || res.Tables[0].FilesAfter != 1 {
		t.Fatalf("dry run plan: %+v", res.Tables)
	}
	if headOf(t, l, "main") != head {
		t.Fatal("a dry run committed")
	}

	res = mustOptimize(t, l, opts)
	got := res.Tables[0]
	if got.FilesBefore != 40 || got.Rewritten != 40 || got.Written != 1 || got.FilesAfter != 1 || got.Rows != 12_000 || got.Attempts != 1 {
		t.Fatalf("optimize: %+v", got)
	}
	if !slices.Equal(got.SortBy, []string{"k"}) {
		t.Errorf("sort_by resolved to %v, want the column's name k", got.SortBy)
	}
	if after := tableState(t, l, "bronze.t"); !slices.Equal(before, after) {
		t.Fatalf("rows changed:\nbefore %v\nafter  %v", before[:1], after[:1])
	}
	_, files, paths := currentFiles(t, l, id)
	if len(files) != 1 {
		t.Fatalf("%d files after optimize, want 1", len(files))
	}
	log, err := l.Store().Log(ctx, headOf(t, l, "main"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := "optimize: bronze.t: 40 files → 1"; log[0].Message != want {
		t.Errorf("rat log says %q, want %q", log[0].Message, want)
	}

	// Sorted: the row groups' ranges of k follow each other.
	var mins, maxs []int64
	err = l.DB().WithViews(ctx, nil, func(conn *sql.Conn) error {
		rows, err := conn.QueryContext(ctx, "SELECT CAST(stats_min AS BIGINT), CAST(stats_max AS BIGINT) FROM parquet_metadata('"+paths[0]+"') WHERE path_in_schema = 'k' ORDER BY row_group_id")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var lo, hi int64
			if err := rows.Scan(&lo, &hi); err != nil {
				return err
			}
			mins, maxs = append(mins, lo), append(maxs, hi)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(mins) < 4 {
		t.Fatalf("%d row groups, want several", len(mins))
	}
	for i := 1; i < len(mins); i++ {
		if mins[i] < maxs[i-1] {
			t.Fatalf("row group %d starts at k=%d, before the end of the one before (%d): not sorted", i, mins[i], maxs[i-1])
		}
	}

	head = headOf(t, l, "main")
	res = mustOptimize(t, l, opts)
	if res.Tables[0].Rewritten != 0 || headOf(t, l, "main") != head {
		t.Fatalf("a second optimize did something: %+v", res.Tables)
	}
}

// TestOptimizePartitions: files of different partitions are never mixed,
// and files of a schema the table had before read right.
func TestOptimizePartitions(t *testing.T) {
	l := newLocalLake(t)
	id := rat.TableID{Layer: "bronze", Name: "p"}
	for i := 0; i < 6; i++ {
		opts := WriteOptions{PartitionBy: []Partition{{Column: "region"}}}
		src := fmt.Sprintf("SELECT %d AS n, CASE WHEN range %% 2 = 0 THEN 'eu' ELSE 'us' END AS region FROM range(50)", i)
		if i >= 3 {
			opts.Evolve = true
			src = fmt.Sprintf("SELECT %d AS n, CASE WHEN range %% 2 = 0 THEN 'eu' ELSE 'us' END AS region, range AS extra FROM range(50)", i)
		}
		mustWrite(t, l, "main", "bronze.p", src, opts)
	}
	before := queryText(t, l, "main", At{}, "SELECT * FROM bronze.p ORDER BY ALL")
	res := mustOptimize(t, l, OptimizeOptions{TargetFileBytes: 64 << 20})
	if got := res.Tables[0]; got.FilesBefore != 12 || got.Written != 2 || got.Partitions != 2 {
		t.Fatalf("optimize: %+v", got)
	}
	if after := queryText(t, l, "main", At{}, "SELECT * FROM bronze.p ORDER BY ALL"); !slices.Equal(before, after) {
		t.Fatal("rows changed")
	}
	_, files, _ := currentFiles(t, l, id)
	var parts []string
	for _, f := range files {
		parts = append(parts, f.Partition)
	}
	slices.Sort(parts)
	if len(parts) != 2 || parts[0] == parts[1] {
		t.Fatalf("files' partitions after optimize: %q, want one file per region", parts)
	}
	if n := queryInt(t, l, "main", At{}, "SELECT count(DISTINCT region) FROM read_parquet('"+files[0].Location+"')"); n != 1 {
		t.Errorf("a rewritten file holds %d regions", n)
	}
}

// TestOptimizeConcurrentAppend: rows appended between optimize's read and
// its commit are kept, next to the compacted file.
func TestOptimizeConcurrentAppend(t *testing.T) {
	l := newLocalLake(t)
	id := rat.TableID{Layer: "bronze", Name: "t"}
	smallAppends(t, l, "bronze.t", 10)
	before := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.t")
	calls := 0
	res := mustOptimize(t, l, OptimizeOptions{TargetFileBytes: 64 << 20, BeforeCommit: func(ctx context.Context, _ rat.TableID) error {
		calls++
		_, err := l.Write(ctx, "main", id, "SELECT 99 AS batch, 5 AS k, 'late' AS s FROM range(7)", WriteOptions{})
		return err
	}})
	if calls != 1 || res.Tables[0].Attempts != 1 {
		t.Fatalf("hook ran %d times, %d attempts: an append must not make optimize plan again", calls, res.Tables[0].Attempts)
	}
	if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.t"); n != before+7 {
		t.Fatalf("%d rows after optimize, want %d (the concurrent append kept)", n, before+7)
	}
	if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.t WHERE s = 'late'"); n != 7 {
		t.Fatalf("%d appended rows, want 7", n)
	}
	if _, files, _ := currentFiles(t, l, id); len(files) != 2 {
		t.Fatalf("%d files, want 2: the compacted one and the append", len(files))
	}
}

// TestOptimizeConcurrentReplace: a concurrent commit that removes files
// optimize read makes it plan again from the new state (and its first new
// files are deleted); one that keeps doing so makes it give up with
// ECONFLICT. Either way the table holds exactly what the other writer
// committed.
func TestOptimizeConcurrentReplace(t *testing.T) {
	backends(t, testOptimizeConcurrentReplace)
}

func testOptimizeConcurrentReplace(t *testing.T, l *Lake) {
	ctx := context.Background()
	id := rat.TableID{Layer: "bronze", Name: "t"}
	smallAppends(t, l, "bronze.t", 10)
	replace := func(ctx context.Context, n int) error {
		_, err := l.Write(ctx, "main", id, fmt.Sprintf("SELECT %d AS batch, range AS k, 'r' AS s FROM range(3)", n), WriteOptions{Mode: Replace})
		return err
	}

	calls := 0
	res := mustOptimize(t, l, OptimizeOptions{TargetFileBytes: 64 << 20, BeforeCommit: func(ctx context.Context, _ rat.TableID) error {
		calls++
		if calls > 1 {
			return nil
		}
		return replace(ctx, 1)
	}})
	if got := res.Tables[0]; got.Attempts != 2 || got.Rewritten != 0 || got.FilesAfter != 1 {
		t.Fatalf("after a concurrent replace: %+v, want a second plan with nothing to do", got)
	}
	if got := queryText(t, l, "main", At{}, "SELECT count(*), sum(batch) FROM bronze.t"); got[0] != "3 | 3" {
		t.Fatalf("table reads %v, want the replace's 3 rows", got)
	}
	keys, err := l.objects.List(ctx, "bronze/t/data/")
	if err != nil {
		t.Fatal(err)
	}
	_, files, _ := currentFiles(t, l, id)
	written := 0
	for _, k := range keys {
		if !slices.ContainsFunc(files, func(f DataFile) bool { return strings.HasSuffix(f.Location, k.Key) }) {
			written++
		}
	}
	if written != 10 { // the ten original files; optimize's own are gone
		t.Errorf("%d files in the data directory beside the table's, want the 10 replaced ones (optimize's uncommitted files deleted)", written)
	}

	// A writer that replaces the table and adds a small file every time:
	// optimize gives up.
	smallAppends(t, l, "bronze.t", 3)
	calls = 0
	_, err = l.Optimize(ctx, OptimizeOptions{TargetFileBytes: 64 << 20, BeforeCommit: func(ctx context.Context, _ rat.TableID) error {
		calls++
		if err := replace(ctx, 100+calls); err != nil {
			return err
		}
		_, err := l.Write(ctx, "main", id, "SELECT 0 AS batch, 0 AS k, 'a' AS s", WriteOptions{})
		return err
	}})
	if !rat.IsCode(err, rat.ECONFLICT) || !strings.Contains(err.Error(), "optimize bronze.t") {
		t.Fatalf("optimize against a writer replacing every time: %v, want ECONFLICT naming the table", err)
	}
	if calls != optimizeAttempts {
		t.Errorf("%d attempts, want %d", calls, optimizeAttempts)
	}
	want := fmt.Sprintf("4 | %d", 3*(100+calls))
	if got := queryText(t, l, "main", At{}, "SELECT count(*), sum(batch) FROM bronze.t"); got[0] != want {
		t.Fatalf("table reads %v, want %s: the last replace and its append", got, want)
	}
}

// TestOptimizeBadSortBy: a sort key naming a missing column is refused
// with the key, the place it is set and the table; nothing changes.
func TestOptimizeBadSortBy(t *testing.T) {
	l := newLocalLake(t)
	id := rat.TableID{Layer: "bronze", Name: "t"}
	smallAppends(t, l, "bronze.t", 3)
	head := headOf(t, l, "main")
	_, err := l.Optimize(context.Background(), OptimizeOptions{TargetFileBytes: 1 << 20, SortBy: map[rat.TableID]SortBy{id: {Columns: []string{"k", "nope"}, From: "pipelines/bronze/t.yaml:4"}}})
	if !rat.IsCode(err, rat.EINVALID) {
		t.Fatalf("got %v, want EINVALID", err)
	}
	for _, want := range []string{"pipelines/bronze/t.yaml:4", "sort_by", `"nope"`, "bronze.t", "batch, k, s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if headOf(t, l, "main") != head {
		t.Fatal("a refused optimize committed")
	}
	if _, err := l.Optimize(context.Background(), OptimizeOptions{}); !rat.IsCode(err, rat.EINVALID) {
		t.Fatalf("no target size: %v, want EINVALID", err)
	}
}

// TestMergeAfterOptimize: a branch that appended merges into a target that
// was compacted meanwhile (the appends are replayed, every row once); a
// branch that was compacted itself does not replay (its compacted file
// would look new), it conflicts.
func TestMergeAfterOptimize(t *testing.T) {
	l := newLocalLake(t)
	ctx := context.Background()
	smallAppends(t, l, "bronze.t", 5)
	branch := func(name string) {
		t.Helper()
		if err := l.Store().CreateRef(ctx, rat.Ref{Name: name, Kind: rat.Branch, Head: headOf(t, l, "main")}); err != nil {
			t.Fatal(err)
		}
	}
	branch("dev")
	branch("compacted")
	mustWrite(t, l, "dev", "bronze.t", "SELECT 7 AS batch, 1 AS k, 'dev' AS s FROM range(4)", WriteOptions{})
	mustWrite(t, l, "main", "bronze.t", "SELECT 8 AS batch, 1 AS k, 'main' AS s FROM range(2)", WriteOptions{})
	mustOptimize(t, l, OptimizeOptions{TargetFileBytes: 64 << 20})
	mustWrite(t, l, "compacted", "bronze.t", "SELECT 9 AS batch, 1 AS k, 'c' AS s", WriteOptions{})
	mustOptimize(t, l, OptimizeOptions{TargetFileBytes: 64 << 20, Branch: "compacted"})

	res, err := l.Catalog("main").Merge(ctx, "dev", catalog.MergeOptions{})
	if err != nil || len(res.Tables) != 1 || res.Tables[0].Action != catalog.MergeReplay {
		t.Fatalf("merge into a compacted main: %+v, %v; want the appends replayed", res, err)
	}
	if got := queryText(t, l, "main", At{}, "SELECT count(*), count(*) FILTER (s = 'dev'), count(*) FILTER (s = 'main') FROM bronze.t"); got[0] != "1506 | 4 | 2" {
		t.Fatalf("main after the merge: %v, want 1506 rows, 4 from dev, 2 of main's own", got)
	}
	res, err = l.Catalog("main").Merge(ctx, "compacted", catalog.MergeOptions{})
	if err == nil || len(res.Conflicts()) != 1 || !strings.Contains(res.Conflicts()[0].Detail, "replace on compacted") {
		t.Fatalf("merge of a compacted branch: %+v, %v; want a conflict naming its replace", res, err)
	}
}

// TestOptimizeTargetSize: the target size decides how large the files
// written are: a small target gives several files, each but the last at
// least half the target, with the same rows.
func TestOptimizeTargetSize(t *testing.T) {
	l := newTestLake(t, localStore(t, t.TempDir()), localObjects(t, t.TempDir()), t.TempDir(), func(c *Config) { c.RowGroupSize = 2048 })
	id := rat.TableID{Layer: "bronze", Name: "t"}
	for i := 0; i < 12; i++ {
		mustWrite(t, l, "main", "bronze.t", fmt.Sprintf("SELECT %d * 4096 + range AS n, md5(CAST(%d * 4096 + range AS VARCHAR)) AS h FROM range(4096)", i, i), WriteOptions{})
	}
	before := targetSizeState(t, l)
	_, files, _ := currentFiles(t, l, id)
	const target = 300 << 10
	for _, f := range files {
		if f.Bytes >= target/2 {
			t.Fatalf("a written file of %d bytes is not small for the test", f.Bytes)
		}
	}
	res := mustOptimize(t, l, OptimizeOptions{TargetFileBytes: target})
	if got := res.Tables[0]; got.Rewritten != 12 || got.Written < 2 || got.Written > 6 {
		t.Fatalf("optimize with a %d-byte target: %+v, want a few files", target, got)
	}
	_, files, _ = currentFiles(t, l, id)
	small := 0
	for _, f := range files {
		if f.Bytes < target/2 {
			small++
		}
	}
	if small > 1 {
		t.Errorf("%d of %d files under half the target after optimize, want at most the last", small, len(files))
	}
	if after := targetSizeState(t, l); !slices.Equal(before, after) {
		t.Fatal("rows changed")
	}
}

func targetSizeState(t *testing.T, l *Lake) []string {
	t.Helper()
	return queryText(t, l, "main", At{}, "SELECT count(*), sum(n), count(DISTINCT h) FROM bronze.t")
}
