package cli

import (
	"strings"
	"testing"
)

// Loading nothing says what happened: a 0-byte file is an error naming it;
// a header line alone cannot type a new table, so none is created (and the
// error says so); a 0-row Parquet file creates its typed, empty table; no
// rows appended to a table commit nothing; no rows in a replace empty it.
func TestLoadNothing(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	u.write("empty.csv", "")
	u.write("header.csv", "id,amount\n")
	u.write("empty.json", "[]\n")
	u.write("blank.json", " \n\n")
	u.write("sales.csv", "id,amount\n1,10\n2,20\n")
	u.ok("query", "SELECT 1::INTEGER AS id, 2.5::DOUBLE AS amount WHERE false", "-o", "zero.parquet")
	u.ok("load", "sales.csv", "--into", "bronze.sales")
	before := u.commits()

	u.fails("empty.csv is empty (0 bytes): nothing to load", "load", "empty.csv", "--into", "bronze.a")
	u.fails("empty.csv is empty (0 bytes)", "load", "sales.csv", "empty.csv", "--into", "bronze.sales")
	line := u.fails("header.csv holds a header line only, no rows", "load", "header.csv", "--into", "bronze.b")
	if !strings.Contains(line, "bronze.b was not created") {
		t.Errorf("the error should say no table was created: %s", line)
	}
	u.fails("empty.json holds no records", "load", "empty.json", "--into", "bronze.c")
	u.fails("blank.json is empty (blank space only)", "load", "blank.json", "--into", "bronze.c")
	if out := u.ok("tables"); strings.Contains(out, "bronze.a") || strings.Contains(out, "bronze.b") || strings.Contains(out, "bronze.c") {
		t.Fatalf("a refused load left a table:\n%s", out)
	}
	if n := u.commits(); n != before {
		t.Fatalf("refused loads committed: %d commits, want %d", n, before)
	}

	// Appending no rows changes nothing, and says so.
	if out := u.ok("load", "header.csv", "--into", "bronze.sales"); !strings.Contains(out, "no rows to load (header.csv holds a header line only, no rows): bronze.sales on main unchanged, nothing committed") {
		t.Fatalf("output: %s", out)
	}
	if n := u.commits(); n != before {
		t.Fatalf("appending no rows committed")
	}
	// Beside a file with rows, a header-only file is skipped: its untyped
	// columns do not turn the table's BIGINT into VARCHAR.
	out := u.ok("load", "header.csv", "sales.csv", "--into", "bronze.sales")
	if !strings.Contains(out, "skipped header.csv: a header line only, no rows") || !strings.Contains(out, "loaded 2 rows") {
		t.Fatalf("output: %s", out)
	}
	if n := u.count("bronze.sales"); n != "4" {
		t.Fatalf("rows = %s", n)
	}
	// A 0-row Parquet file has typed columns: the table is created, empty.
	if out := u.ok("load", "zero.parquet", "--into", "bronze.zero"); !strings.Contains(out, "created table bronze.zero on main with no rows (zero.parquet holds no rows)") {
		t.Fatalf("output: %s", out)
	}
	if n := u.count("bronze.zero"); n != "0" {
		t.Fatalf("rows = %s", n)
	}
	if out := u.ok("describe", "bronze.zero"); !strings.Contains(out, "INTEGER") || !strings.Contains(out, "DOUBLE") {
		t.Fatalf("describe: %s", out)
	}
	// A replace with no rows empties the table, and says so.
	if out := u.ok("load", "header.csv", "--into", "bronze.sales", "--mode", "replace"); !strings.Contains(out, "the table is now empty") {
		t.Fatalf("output: %s", out)
	}
	if n := u.count("bronze.sales"); n != "0" {
		t.Fatalf("rows after an empty replace = %s", n)
	}
}

// rat ingest: a 0-byte file is an error; a header-only file cannot create
// a table; into an existing table it is recorded (not ingested again) with
// no rows, and the output says so.
func TestIngestNothing(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	u.write("empty.csv", "")
	u.write("header.csv", "id,amount\n")
	u.write("sales.csv", "id,amount\n1,10\n2,20\n")
	u.fails("empty.csv is empty (0 bytes)", "ingest", "empty.csv", "--into", "bronze.orders")
	line := u.fails("header.csv: no rows", "ingest", "header.csv", "--into", "bronze.orders")
	if !strings.Contains(line, "bronze.orders was not created") {
		t.Errorf("error: %s", line)
	}
	if out := u.ok("tables"); strings.Contains(out, "bronze.orders") {
		t.Fatalf("a refused ingest left a table:\n%s", out)
	}
	u.ok("ingest", "sales.csv", "--into", "bronze.orders")
	out := u.ok("ingest", "header.csv", "--into", "bronze.orders")
	if !strings.Contains(out, "ingested 1 file (0 rows)") || !strings.Contains(out, "recorded without rows (they hold none): header.csv") {
		t.Fatalf("output: %s", out)
	}
	if out := u.ok("ingest", "header.csv", "--into", "bronze.orders"); !strings.Contains(out, "skipped header.csv: already ingested") {
		t.Fatalf("output: %s", out)
	}
	if n := u.count("bronze.orders"); n != "2" {
		t.Fatalf("rows = %s", n)
	}
}
