package lake

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/duckdb"
)

// allTypes selects one column of every type rat maps to Iceberg.
const allTypes = `SELECT * FROM (VALUES
	(1::TINYINT, 2::SMALLINT, 3::INTEGER, 4::BIGINT, 12.34::DECIMAL(10,2), 1.5::DOUBLE, 'hello'::VARCHAR, true,
	 DATE '2024-02-29', TIMESTAMP '2024-02-29 12:34:56.789', TIMESTAMPTZ '2024-02-29 12:34:56+00', '\xAB\x01'::BLOB,
	 '6ba7b810-9dad-11d1-80b4-00c04fd430c8'::UUID, [1, 2, 3]::INTEGER[], {'a': 1, 'b': 'x'}::STRUCT(a INTEGER, b VARCHAR),
	 MAP {'k1': 10, 'k2': 20}::MAP(VARCHAR, INTEGER)),
	(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
) t(ti, si, i, bi, dec, dbl, s, b, d, ts, tz, bl, u, l, st, m)`

func TestTypesRoundTrip(t *testing.T) {
	backends(t, func(t *testing.T, l *Lake) {
		ctx := context.Background()
		res := mustWrite(t, l, rat.DefaultBranch, "bronze.types", allTypes, WriteOptions{})
		if !res.Created || res.Rows != 2 || res.Files != 1 {
			t.Fatalf("write result = %+v, want a new table with 2 rows in 1 file", res)
		}
		got := queryText(t, l, rat.DefaultBranch, At{}, "SELECT * FROM bronze.types ORDER BY i NULLS LAST")
		var want []string
		err := l.db.WithViews(ctx, nil, func(conn *sql.Conn) error {
			rows, err := conn.QueryContext(ctx, "SELECT * FROM ("+allTypes+") ORDER BY i NULLS LAST")
			if err != nil {
				return err
			}
			defer rows.Close()
			want, err = renderRows(rows)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("round trip differs:\n got %q\nwant %q", got, want)
		}
		info, err := l.Describe(ctx, rat.DefaultBranch, rat.TableID{Layer: "bronze", Name: "types"}, false)
		if err == nil && info.Partitions != 1 {
			t.Errorf("an unpartitioned table has %d partitions, want 1", info.Partitions)
		}
		if err != nil {
			t.Fatal(err)
		}
		types := map[string]string{}
		for _, c := range info.Columns {
			types[c.Name] = c.Type
		}
		for col, want := range map[string]string{"ti": "INTEGER", "bi": "BIGINT", "dec": "DECIMAL(10,2)", "tz": "TIMESTAMPTZ", "u": "UUID", "l": "INTEGER[]", "m": "MAP(VARCHAR, INTEGER)", "bl": "BLOB"} {
			if types[col] != want {
				t.Errorf("column %s has type %s, want %s", col, types[col], want)
			}
		}
	})
}

func TestUnsupportedTypeCommitsNothing(t *testing.T) {
	l := newLocalLake(t)
	before := headOf(t, l, rat.DefaultBranch)
	_, err := l.Write(context.Background(), rat.DefaultBranch, rat.TableID{Layer: "bronze", Name: "x"},
		"SELECT 1 AS ok, INTERVAL 3 DAY AS span", WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), `"span"`) || !rat.IsCode(err, rat.EINVALID) {
		t.Fatalf("err = %v, want EINVALID naming column span", err)
	}
	if after := headOf(t, l, rat.DefaultBranch); after != before {
		t.Errorf("a failed write committed: head moved from %s to %s", before, after)
	}
}

func TestAppendReplaceEmpty(t *testing.T) {
	backends(t, func(t *testing.T, l *Lake) {
		src := "SELECT range AS id, 'r' || range AS name FROM range(%d, %d)"
		mustWrite(t, l, "main", "bronze.t", fmt.Sprintf(src, 0, 100), WriteOptions{})
		mustWrite(t, l, "main", "bronze.t", fmt.Sprintf(src, 100, 150), WriteOptions{})
		if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.t"); n != 150 {
			t.Fatalf("after two appends: %d rows, want 150", n)
		}
		mustWrite(t, l, "main", "bronze.t", fmt.Sprintf(src, 0, 10), WriteOptions{Mode: Replace})
		if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.t"); n != 10 {
			t.Fatalf("after replace: %d rows, want 10", n)
		}
		// A replace with no rows empties the table: no stale rows.
		res := mustWrite(t, l, "main", "bronze.t", fmt.Sprintf(src, 0, 0), WriteOptions{Mode: Replace})
		if res.Rows != 0 {
			t.Fatalf("rows = %d", res.Rows)
		}
		if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.t"); n != 0 {
			t.Fatalf("after empty replace: %d rows, want 0", n)
		}
	})
}

// A first write with no rows creates the table, empty, with the source's
// columns and types: the table a load or a pipeline says it created exists.
func TestFirstWriteWithNoRowsCreatesTable(t *testing.T) {
	backends(t, func(t *testing.T, l *Lake) {
		ctx := context.Background()
		src := "SELECT 1::BIGINT AS id, 'x' AS name, DATE '2024-01-01' AS day WHERE false"
		res := mustWrite(t, l, "main", "bronze.empty", src, WriteOptions{})
		if !res.Created || res.Rows != 0 || res.Files != 0 {
			t.Fatalf("write result = %+v, want a new table with no rows", res)
		}
		if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.empty"); n != 0 {
			t.Fatalf("count = %d", n)
		}
		info, err := l.Describe(ctx, "main", rat.TableID{Layer: "bronze", Name: "empty"}, false)
		if err != nil {
			t.Fatalf("the new empty table does not exist: %v", err)
		}
		var cols []string
		for _, c := range info.Columns {
			cols = append(cols, c.Name+" "+c.Type)
		}
		if got := strings.Join(cols, ", "); got != "id BIGINT, name VARCHAR, day DATE" {
			t.Errorf("columns = %s", got)
		}
		// Partitioned too; and the next write appends to it.
		res = mustWrite(t, l, "main", "bronze.parts", src, WriteOptions{PartitionBy: []Partition{{Column: "day", Transform: "month"}}})
		if !res.Created {
			t.Fatalf("partitioned: %+v", res)
		}
		res = mustWrite(t, l, "main", "bronze.parts", "SELECT 7::BIGINT AS id, 'y' AS name, DATE '2024-03-05' AS day", WriteOptions{})
		if res.Created || res.Rows != 1 {
			t.Fatalf("second write = %+v", res)
		}
		if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.parts WHERE id = 7"); n != 1 {
			t.Fatalf("count = %d", n)
		}
	})
}

func TestSchemaChange(t *testing.T) {
	l := newLocalLake(t)
	ctx := context.Background()
	id := rat.TableID{Layer: "bronze", Name: "s"}
	mustWrite(t, l, "main", "bronze.s", "SELECT 1 AS id, 'a' AS name", WriteOptions{})
	before := headOf(t, l, "main")
	_, err := l.Write(ctx, "main", id, "SELECT 2 AS id, 'b' AS name, 3.5 AS price", WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), "price") || !strings.Contains(err.Error(), "--evolve") {
		t.Fatalf("err = %v, want it to name the new column and --evolve", err)
	}
	_, err = l.Write(ctx, "main", id, "SELECT 'x' AS id", WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), `"id"`) {
		t.Fatalf("type change: err = %v, want it to name column id", err)
	}
	if headOf(t, l, "main") != before {
		t.Fatal("failed writes committed")
	}
	res := mustWrite(t, l, "main", "bronze.s", "SELECT 2 AS id, 'b' AS name, 3.5 AS price", WriteOptions{Evolve: true})
	if strings.Join(res.Added, ",") != "price" {
		t.Fatalf("added = %v, want [price]", res.Added)
	}
	// Old rows read NULL for the new column; a source without a column writes NULL.
	mustWrite(t, l, "main", "bronze.s", "SELECT 3 AS id", WriteOptions{})
	got := queryText(t, l, "main", At{}, "SELECT id, name, price FROM bronze.s ORDER BY id")
	want := []string{"1 | a | NULL", "2 | b | 3.5", "3 | NULL | NULL"}
	if strings.Join(got, ";") != strings.Join(want, ";") {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Widening int -> bigint is accepted.
	mustWrite(t, l, "main", "bronze.s", "SELECT 4::INTEGER AS id", WriteOptions{})
}

func TestTimeTravel(t *testing.T) {
	l := newLocalLake(t)
	ctx := context.Background()
	id := rat.TableID{Layer: "bronze", Name: "tt"}
	first := mustWrite(t, l, "main", "bronze.tt", "SELECT range AS id FROM range(3)", WriteOptions{})
	time.Sleep(20 * time.Millisecond)
	between := time.Now()
	time.Sleep(20 * time.Millisecond)
	mustWrite(t, l, "main", "bronze.tt", "SELECT range AS id FROM range(5)", WriteOptions{})
	if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.tt"); n != 8 {
		t.Fatalf("current: %d, want 8", n)
	}
	if n := queryInt(t, l, "main", At{SnapshotID: first.SnapshotID}, "SELECT count(*) FROM bronze.tt"); n != 3 {
		t.Fatalf("at first snapshot: %d, want 3", n)
	}
	if n := queryInt(t, l, "main", At{Time: between}, "SELECT count(*) FROM bronze.tt"); n != 3 {
		t.Fatalf("at time between: %d, want 3", n)
	}
	_, err := l.Resolve(ctx, "main", id, At{SnapshotID: 42})
	if !rat.IsCode(err, rat.ENOTFOUND) {
		t.Fatalf("unknown snapshot: err = %v, want ENOTFOUND", err)
	}
	_, err = l.Resolve(ctx, "main", id, At{Time: between.Add(-time.Hour)})
	if !rat.IsCode(err, rat.ENOTFOUND) || !strings.Contains(err.Error(), "no snapshot") {
		t.Fatalf("too early: err = %v", err)
	}
	for _, s := range []string{"123", "2024-05-01", "2024-05-01 10:00:00", "2024-05-01T10:00:00Z"} {
		if _, err := ParseAt(s); err != nil {
			t.Errorf("ParseAt(%q): %v", s, err)
		}
	}
	if _, err := ParseAt("yesterday"); err == nil {
		t.Error("ParseAt(yesterday): want an error")
	}
}

func TestRowGroupSize(t *testing.T) {
	l := newLocalLake(t)
	l.rowGroup = 4096 // DuckDB rounds row groups to its vector size (2048)
	ctx := context.Background()
	mustWrite(t, l, "main", "bronze.rg", "SELECT range AS id FROM range(20000)", WriteOptions{})
	res, err := l.Resolve(ctx, "main", rat.TableID{Layer: "bronze", Name: "rg"}, At{})
	if err != nil {
		t.Fatal(err)
	}
	paths, err := l.LocalPaths(ctx, res.Files)
	if err != nil || len(paths) != 1 {
		t.Fatalf("paths = %v, %v", paths, err)
	}
	var groups int
	if err := l.db.SQL().QueryRowContext(ctx, "SELECT count(DISTINCT row_group_id) FROM parquet_metadata("+duckdb.Quote(paths[0])+")").Scan(&groups); err != nil {
		t.Fatal(err)
	}
	if groups != 5 {
		t.Fatalf("row groups = %d, want 5 (20000 rows in groups of 4096)", groups)
	}
}

func TestQueryErrors(t *testing.T) {
	l := newLocalLake(t)
	mustWrite(t, l, "main", "bronze.sales", "SELECT 1 AS id", WriteOptions{})
	ctx := context.Background()
	noop := func(*sql.Rows) error { return nil }
	for q, want := range map[string]string{
		"SELECT * FROM bronze.sale":           "did you mean bronze.sales",
		"INSERT INTO bronze.sales VALUES (1)": "read-only",
		"SELEC 1":                             "syntax error",
	} {
		err := l.Query(ctx, "main", At{}, q, noop)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", q, err, want)
		}
	}
	if err := l.Query(ctx, "nope", At{}, "SELECT 1", noop); err != nil {
		// A query reading no table does not need the branch.
		t.Logf("query on a missing branch without tables: %v", err)
	}
	err := l.Query(ctx, "nope", At{}, "SELECT * FROM bronze.sales", noop)
	if !rat.IsCode(err, rat.ENOTFOUND) {
		t.Errorf("missing branch: err = %v, want ENOTFOUND", err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	backends(t, func(t *testing.T, l *Lake) {
		ctx := context.Background()
		mustWrite(t, l, "main", "bronze.c", "SELECT 0 AS w, 0::BIGINT AS k", WriteOptions{})
		const writers, each = 6, 3
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := 1; w <= writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for k := 0; k < each; k++ {
					_, err := l.Write(ctx, "main", rat.TableID{Layer: "bronze", Name: "c"},
						fmt.Sprintf("SELECT %d AS w, range AS k FROM range(10)", w), WriteOptions{})
					if err != nil {
						errs <- err
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.c"); n != 1+writers*each*10 {
			t.Fatalf("rows = %d, want %d: a concurrent append was lost", n, 1+writers*each*10)
		}
	})
}

func TestMerge(t *testing.T) {
	backends(t, func(t *testing.T, l *Lake) {
		ctx := context.Background()
		store := l.Store()
		mustWrite(t, l, "main", "bronze.a", "SELECT range AS id FROM range(10)", WriteOptions{})
		mustWrite(t, l, "main", "bronze.b", "SELECT range AS id FROM range(10)", WriteOptions{})
		if err := store.CreateRef(ctx, rat.Ref{Name: "dev", Kind: rat.Branch, Head: headOf(t, l, "main")}); err != nil {
			t.Fatal(err)
		}
		// Fast-forward.
		mustWrite(t, l, "dev", "bronze.a", "SELECT range AS id FROM range(5)", WriteOptions{})
		if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.a"); n != 10 {
			t.Fatalf("main sees dev's write: %d", n)
		}
		res, err := l.Catalog("main").Merge(ctx, "dev", catalog.MergeOptions{})
		if err != nil || !res.FastForward {
			t.Fatalf("merge = %+v, %v; want a fast-forward", res, err)
		}
		if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.a"); n != 15 {
			t.Fatalf("after fast-forward: %d, want 15", n)
		}
		// Appends on both sides are combined, and one-sided changes are taken.
		mustWrite(t, l, "dev", "bronze.a", "SELECT range AS id FROM range(3)", WriteOptions{})
		mustWrite(t, l, "dev", "bronze.new", "SELECT 1 AS id", WriteOptions{})
		mustWrite(t, l, "main", "bronze.a", "SELECT range AS id FROM range(4)", WriteOptions{})
		mustWrite(t, l, "main", "bronze.b", "SELECT range AS id FROM range(2)", WriteOptions{})
		dry, err := l.Catalog("main").Merge(ctx, "dev", catalog.MergeOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		mainHead := headOf(t, l, "main")
		if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.a"); n != 19 || len(dry.Tables) != 2 {
			t.Fatalf("dry run changed something or reported %v", dry.Tables)
		}
		res, err = l.Catalog("main").Merge(ctx, "dev", catalog.MergeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.FastForward || res.Commit == "" || res.Commit == mainHead {
			t.Fatalf("want a merge commit, got %+v", res)
		}
		actions := map[string]catalog.MergeAction{}
		for _, mt := range res.Tables {
			actions[mt.Table.String()] = mt.Action
		}
		if actions["bronze.a"] != catalog.MergeReplay || actions["bronze.new"] != catalog.MergeAdd {
			t.Fatalf("actions = %v", actions)
		}
		if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.a"); n != 22 {
			t.Fatalf("after replay: %d rows, want 22 (15 + 3 from dev + 4 on main)", n)
		}
		if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.b"); n != 12 {
			t.Fatalf("bronze.b = %d, want 12 (main's append kept)", n)
		}
		c, err := store.GetCommit(ctx, res.Commit)
		if err != nil || len(c.Parents) != 2 {
			t.Fatalf("merge commit parents = %v, %v", c.Parents, err)
		}
		// A replace on both sides conflicts, names the table and writes nothing.
		mustWrite(t, l, "dev", "bronze.b", "SELECT 1 AS id", WriteOptions{Mode: Replace})
		mustWrite(t, l, "main", "bronze.b", "SELECT 2 AS id", WriteOptions{Mode: Replace})
		before := headOf(t, l, "main")
		res, err = l.Catalog("main").Merge(ctx, "dev", catalog.MergeOptions{})
		if !rat.IsCode(err, rat.ECONFLICT) || !strings.Contains(err.Error(), "bronze.b") || len(res.Conflicts()) != 1 {
			t.Fatalf("merge: %v, %+v; want a conflict on bronze.b", err, res)
		}
		if headOf(t, l, "main") != before {
			t.Fatal("a conflicting merge moved main")
		}
		// Merging again what is already merged is a no-op.
		res, err = l.Catalog("dev").Merge(ctx, "main~none", catalog.MergeOptions{})
		if !rat.IsCode(err, rat.ENOTFOUND) {
			t.Fatalf("unknown source: %v", err)
		}
	})
}

// TestQueryPaths checks that queries DuckDB reads through inlined file
// reads and through views (the fallback) see the same rows.
func TestQueryPaths(t *testing.T) {
	l := newLocalLake(t)
	mustWrite(t, l, "main", "bronze.sales", "SELECT range AS id, range % 3 AS g FROM range(10)", WriteOptions{})
	mustWrite(t, l, "main", "bronze.sales", "SELECT range AS id, range % 3 AS g FROM range(10, 15)", WriteOptions{})
	for _, q := range []string{
		"SELECT count(*), sum(id) FROM bronze.sales",                     // inlined
		"SELECT count(*), sum(bronze.sales.id) FROM bronze.sales",        // views: three-part column name
		"SELECT count(*), sum(s.id) FROM Bronze.Sales s",                 // inlined, any case
		"SELECT count(*), sum(a) FROM bronze.sales t(a, b)",              // views: column aliases
		"SELECT count(*), sum(x.id) FROM (SELECT * FROM bronze.sales) x", // inlined in a subquery
	} {
		got := queryText(t, l, "main", At{}, q)
		if len(got) != 1 || got[0] != "15 | 105" {
			t.Errorf("%s: %v, want [15 | 105]", q, got)
		}
	}
}
