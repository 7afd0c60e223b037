package pgwire

import (
	"math/big"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

func TestTypeOID(t *testing.T) {
	for duck, want := range map[string]uint32{
		"BOOLEAN": pgtype.BoolOID, "TINYINT": pgtype.Int2OID, "UTINYINT": pgtype.Int2OID, "SMALLINT": pgtype.Int2OID,
		"USMALLINT": pgtype.Int4OID, "INTEGER": pgtype.Int4OID, "UINTEGER": pgtype.Int8OID, "BIGINT": pgtype.Int8OID,
		"UBIGINT": pgtype.NumericOID, "HUGEINT": pgtype.NumericOID, "DECIMAL(18,3)": pgtype.NumericOID, "decimal(4,1)": pgtype.NumericOID,
		"FLOAT": pgtype.Float4OID, "DOUBLE": pgtype.Float8OID, "VARCHAR": pgtype.TextOID, "BLOB": pgtype.ByteaOID,
		"DATE": pgtype.DateOID, "TIMESTAMP": pgtype.TimestampOID, "TIMESTAMP_NS": pgtype.TimestampOID,
		"TIMESTAMPTZ": pgtype.TimestamptzOID, "TIMESTAMP WITH TIME ZONE": pgtype.TimestamptzOID,
		// No close Postgres type: text.
		"TIME": pgtype.TextOID, "INTERVAL": pgtype.TextOID, "UUID": pgtype.TextOID, "INTEGER[]": pgtype.TextOID,
		"STRUCT(a INTEGER)": pgtype.TextOID, "MAP(VARCHAR, INTEGER)": pgtype.TextOID, "": pgtype.TextOID,
	} {
		if got := typeOID(duck); got != want {
			t.Errorf("typeOID(%q) = %d, want %d", duck, got, want)
		}
	}
}

func TestPGValue(t *testing.T) {
	day := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		oid  uint32
		in   any
		want any
	}{
		{pgtype.Int2OID, int8(-3), int64(-3)},
		{pgtype.Int4OID, uint16(65535), int64(65535)},
		{pgtype.Int8OID, uint32(7), int64(7)},
		{pgtype.Float8OID, 1.5, 1.5},
		{pgtype.DateOID, day, day},
		{pgtype.TextOID, "x", "x"},
		{pgtype.TextOID, []any{int32(1), "a"}, "[1, 'a']"},
		{pgtype.TextOID, map[string]any{"a": int32(1)}, "{a: 1}"},
		{pgtype.BoolOID, nil, nil},
	} {
		got, err := pgValue(c.oid, c.in)
		if err != nil || got != c.want {
			t.Errorf("pgValue(%d, %#v) = %#v, %v; want %#v", c.oid, c.in, got, err, c.want)
		}
	}
	got, err := pgValue(pgtype.NumericOID, uint64(1<<63))
	if n, ok := got.(pgtype.Numeric); err != nil || !ok || n.Int.Cmp(new(big.Int).SetUint64(1<<63)) != 0 {
		t.Errorf("UBIGINT as numeric: %#v, %v", got, err)
	}
	if _, err := pgValue(pgtype.Int4OID, "not a number"); err == nil {
		t.Error("a string for an int4 column should be an error")
	}
}

func TestSetBranch(t *testing.T) {
	for q, want := range map[string]string{
		"SET rat.branch = 'dev'":                  "dev",
		"set rat.branch to dev;":                  "dev",
		" SET SESSION rat.branch TO 'feature/x' ": "feature/x",
		"SET rat.branch='v1.0'":                   "v1.0",
		"SET search_path = 'dev'":                 "",
		"SET rat.branch = 'a'; DROP x":            "",
		"SELECT 'SET rat.branch = dev'":           "",
	} {
		got := ""
		if m := setBranch.FindStringSubmatch(q); m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("%q: branch %q, want %q", q, got, want)
		}
	}
}
