package duckdb

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/ratdata/rat"
)

func TestReferenced(t *testing.T) {
	db := openTest(t, Options{Threads: 1})
	ctx := context.Background()
	got, err := db.Referenced(ctx, "WITH q AS (SELECT * FROM bronze.x) SELECT * FROM bronze.sales s JOIN silver.c USING (id) JOIN q USING (id) WHERE id IN (SELECT id FROM gold.t)")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "bronze.sales,bronze.x,gold.t,silver.c" {
		t.Errorf("Referenced = %v", got)
	}
	for _, q := range []string{"INSERT INTO bronze.sales VALUES (1)", "CREATE TABLE x AS SELECT 1", "DROP TABLE bronze.sales", "SELECT 1; SELECT 2"} {
		if _, err := db.Referenced(ctx, q); err == nil {
			t.Errorf("%q: want an error", q)
		}
	}
	_, err = db.Referenced(ctx, "DELETE FROM bronze.sales")
	if err == nil || !strings.Contains(err.Error(), "rat load") {
		t.Errorf("write error should say how to write: %v", err)
	}
	_, err = db.Referenced(ctx, "SELEC 1")
	if err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("syntax error: %v", err)
	}
}

func TestWithViewsIsolated(t *testing.T) {
	db := openTest(t, Options{Threads: 1})
	ctx := context.Background()
	dir := t.TempDir()
	schema := iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "n", Type: iceberg.PrimitiveTypes.Int64})
	write := func(name string, rows int) string {
		p := filepath.Join(dir, name)
		_, err := db.SQL().ExecContext(ctx, "COPY (SELECT range AS n FROM range("+strconv.Itoa(rows)+")) TO "+Quote(p)+" (FORMAT parquet, FIELD_IDS "+FieldIDs(schema)+")")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := write("a.parquet", 3), write("b.parquet", 5)
	count := func(files ...string) int {
		from, err := ReadParquet(files, schema)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = db.WithViews(ctx, []View{{Schema: "bronze", Name: "sales", From: from}}, func(conn *sql.Conn) error {
			return conn.QueryRowContext(ctx, "SELECT count(*) FROM bronze.sales").Scan(&n)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(a); n != 3 {
		t.Errorf("count(a) = %d, want 3", n)
	}
	if n := count(a, b); n != 8 {
		t.Errorf("count(a,b) = %d, want 8", n)
	}
	if n := count(); n != 0 {
		t.Errorf("count() = %d, want 0", n)
	}
}

func TestInline(t *testing.T) {
	db := openTest(t, Options{Threads: 1})
	ctx := context.Background()
	from := map[string]string{"bronze.sales": "SRC_S", "silver.c": "SRC_C"}
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"SELECT count(*) FROM bronze.sales", `SELECT count(*) FROM SRC_S AS "sales"`, true},
		{"SELECT s.id FROM bronze.sales s", "SELECT s.id FROM SRC_S s", true},
		{"SELECT sales.id FROM bronze.sales AS x JOIN silver.c USING (id)", `SELECT sales.id FROM SRC_S AS x JOIN SRC_C AS "c" USING (id)`, true},
		{`SELECT * FROM "bronze"."sales"`, `SELECT * FROM SRC_S AS "sales"`, true},
		{"SELECT * FROM BRONZE . Sales", `SELECT * FROM SRC_S AS "sales"`, true},
		{"SELECT 'é bronze.sales' AS x, * FROM bronze.sales", `SELECT 'é bronze.sales' AS x, * FROM SRC_S AS "sales"`, true},
		{"WITH q AS (SELECT * FROM bronze.sales) SELECT * FROM q JOIN bronze.sales b USING (id)", `WITH q AS (SELECT * FROM SRC_S AS "sales") SELECT * FROM q JOIN SRC_S b USING (id)`, true},
		{"SELECT bronze.sales.id FROM bronze.sales", "", false},
		{"SELECT * FROM bronze.sales t(a, b)", "", false},
		{"SELECT * FROM gold.other", "", false},
	}
	for _, tt := range tests {
		st, err := db.Parse(ctx, tt.in)
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		got, ok := st.Inline(from)
		if ok != tt.ok || got != tt.want {
			t.Errorf("Inline(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestCopyRefused: a COPY through a query is refused with a message that
// points to rat optimize and to writing a result with -o; other writes get
// the general read-only message.
func TestCopyRefused(t *testing.T) {
	db := openTest(t, Options{Threads: 1})
	for _, q := range []string{
		"COPY (SELECT 1) TO 'x.parquet' (FORMAT parquet)",
		"  -- rewrite\n/* sorted */ copy bronze.t TO 'y.parquet'",
	} {
		_, err := db.Parse(context.Background(), q)
		if !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), "rat optimize TABLE") || !strings.Contains(err.Error(), "--export out.parquet") {
			t.Errorf("%q: %v, want a refusal pointing to rat optimize and -o", q, err)
		}
	}
	_, err := db.Parse(context.Background(), "CREATE TABLE copy_of AS SELECT 1")
	if err == nil || strings.Contains(err.Error(), "rat optimize") || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("CREATE: %v, want the read-only message", err)
	}
}
