package duckdb

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
)

func openTest(t *testing.T, opts Options) *DB {
	t.Helper()
	db, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSettingsApplyToEveryConnection(t *testing.T) {
	db := openTest(t, Options{MemoryLimitMB: 512, Threads: 1, TempDir: t.TempDir()})
	ctx := context.Background()
	// Two distinct connections must both carry the limits.
	for i := 0; i < 2; i++ {
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var threads int64
		var mem string
		if err := conn.QueryRowContext(ctx, "SELECT current_setting('threads'), current_setting('memory_limit')").Scan(&threads, &mem); err != nil {
			t.Fatal(err)
		}
		if threads != 1 {
			t.Errorf("threads = %d, want 1", threads)
		}
		if !strings.HasPrefix(mem, "488") && !strings.Contains(mem, "512") {
			t.Errorf("memory_limit = %q, want about 512MB", mem)
		}
	}
}

func TestParseType(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"INTEGER", "int"},
		{"BIGINT", "long"},
		{"DECIMAL(18,3)", "decimal(18, 3)"},
		{"VARCHAR[]", "list<string>"},
		{"TIMESTAMP WITH TIME ZONE", "timestamptz"},
		{`STRUCT(a INTEGER, "b c" VARCHAR[])`, "struct<1: a: optional int, 2: b c: optional list<string>>"},
		{"MAP(VARCHAR, DOUBLE)", "map<string, double>"},
		{"UUID", "uuid"},
		{"BLOB", "binary"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := Schema([]Column{{Name: "c", Type: tt.in}})
			if err != nil {
				t.Fatal(err)
			}
			got := s.Field(0).Type.String()
			if tt.in == `STRUCT(a INTEGER, "b c" VARCHAR[])` {
				if !strings.Contains(got, "b c") || !strings.Contains(got, "list<string>") {
					t.Errorf("got %s", got)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestParseTypeMalformed: type text the parser cannot read is an error that
// quotes the text, never a half-parsed type.
func TestParseTypeMalformed(t *testing.T) {
	for _, in := range []string{"MAP(VARCHAR)", "MAP(VARCHAR, INTEGER, DOUBLE)", "MAP(VARCHAR INTEGER)",
		"STRUCT(a INTEGER", "STRUCT(a INTEGER b VARCHAR)", "DECIMAL(18,x)", "DECIMAL(18,3", "STRUCT a"} {
		if typ, err := ParseType(in); err == nil || !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Errorf("ParseType(%q) = %+v, %v; want an error quoting the text", in, typ, err)
		}
	}
	nested, err := ParseType("MAP(VARCHAR, STRUCT(a DECIMAL(10,2), b INTEGER[]))")
	if err != nil || nested.Key.Name != "VARCHAR" || len(nested.Val.Fields) != 2 || nested.Val.Fields[0].Type.Args[1] != 2 || nested.Val.Fields[1].Type.Name != "LIST" {
		t.Errorf("nested MAP = %+v, %v", nested, err)
	}
}

func TestUnsupportedTypeNamesColumn(t *testing.T) {
	_, err := Schema([]Column{{Name: "ok", Type: "INTEGER"}, {Name: "span", Type: "INTERVAL"}})
	if err == nil || !strings.Contains(err.Error(), `"span"`) || !strings.Contains(err.Error(), "INTERVAL") {
		t.Fatalf("err = %v, want it to name column span and INTERVAL", err)
	}
}

// TestFieldIDRoundTrip writes a file with field ids, then reads it back with a
// renamed column: the id, not the name, must decide which column is read.
func TestFieldIDRoundTrip(t *testing.T) {
	db := openTest(t, Options{Threads: 1})
	ctx := context.Background()
	const q = `SELECT 1::INTEGER AS id, 'x'::VARCHAR AS name, [1,2]::INTEGER[] AS tags,
		{'a': 1.5::DOUBLE}::STRUCT(a DOUBLE) AS st, MAP {'k': 2::BIGINT} AS m,
		'2024-01-02 03:04:05'::TIMESTAMP AS ts, '2024-01-02 03:04:05+00'::TIMESTAMPTZ AS tz,
		12.5::DECIMAL(10,2) AS amount, gen_random_uuid() AS u, 'ab'::BLOB AS b, DATE '2024-01-02' AS d, true AS flag`
	rows, err := db.SQL().QueryContext(ctx, "DESCRIBE "+q)
	if err != nil {
		t.Fatal(err)
	}
	var cols []Column
	for rows.Next() {
		var name, typ string
		var n1, n2, n3, n4 any
		if err := rows.Scan(&name, &typ, &n1, &n2, &n3, &n4); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, Column{Name: name, Type: typ})
	}
	rows.Close()
	schema, err := Schema(cols)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "f.parquet")
	copySQL := "COPY (" + q + ") TO " + Quote(path) + " (FORMAT parquet, FIELD_IDS " + FieldIDs(schema) + ")"
	if _, err := db.SQL().ExecContext(ctx, copySQL); err != nil {
		t.Fatalf("%s: %v", copySQL, err)
	}
	// Rename "name" to "label" in the table schema, keeping its id.
	fields := schema.Fields()
	fields[1].Name = "label"
	renamed := iceberg.NewSchema(1, fields...)
	read, err := ReadParquet([]string{path}, renamed)
	if err != nil {
		t.Fatal(err)
	}
	var label string
	var id int
	var amount float64
	if err := db.SQL().QueryRowContext(ctx, "SELECT id, label, amount::DOUBLE FROM "+read).Scan(&id, &label, &amount); err != nil {
		t.Fatalf("read %s: %v", read, err)
	}
	if id != 1 || label != "x" || amount != 12.5 {
		t.Errorf("got (%d, %q, %v), want (1, x, 12.5)", id, label, amount)
	}
	empty, err := ReadParquet(nil, renamed)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM "+empty).Scan(&n); err != nil || n != 0 {
		t.Fatalf("empty read: n=%d err=%v", n, err)
	}
}

// TestTypeOfRoundTrip: the DuckDB type text TypeOf writes for an Iceberg type
// converts back to the same type, nested types included.
func TestTypeOfRoundTrip(t *testing.T) {
	types := []iceberg.Type{iceberg.DecimalTypeOf(12, 4)}
	for _, p := range primitives {
		types = append(types, p.iceberg)
	}
	types = append(types,
		&iceberg.ListType{ElementID: 2, Element: iceberg.PrimitiveTypes.TimestampTz, ElementRequired: false},
		&iceberg.MapType{KeyID: 2, KeyType: iceberg.PrimitiveTypes.String, ValueID: 3, ValueType: iceberg.PrimitiveTypes.Float64},
		&iceberg.StructType{FieldList: []iceberg.NestedField{
			{ID: 2, Name: "a b", Type: iceberg.PrimitiveTypes.Int64},
			{ID: 3, Name: "c", Type: &iceberg.ListType{ElementID: 4, Element: iceberg.PrimitiveTypes.Date}},
		}})
	for _, want := range types {
		text, err := TypeOf(want)
		if err != nil {
			t.Fatalf("TypeOf(%s): %v", want, err)
		}
		s, err := Schema([]Column{{Name: "c", Type: text}})
		if err != nil {
			t.Fatalf("%s as %q: %v", want, text, err)
		}
		if got := s.Field(0).Type; got.String() != want.String() {
			t.Errorf("%s → %q → %s", want, text, got)
		}
	}
	if text, err := TypeOf(iceberg.FixedTypeOf(16)); err != nil || text != "BLOB" {
		t.Errorf("TypeOf(fixed[16]) = %q, %v; want BLOB", text, err)
	}
	if _, err := TypeOf(iceberg.PrimitiveTypes.TimestampNs); err == nil {
		t.Error("TypeOf(timestamp_ns) succeeded; want an error")
	}
}
