package pgwire

import (
	"bytes"
	"fmt"
	"math/big"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/ratdata/rat/internal/duckdb"
)

// typeOID is the Postgres type a DuckDB column type (its type text, as
// database/sql names it) is sent as. Types Postgres has no close match for
// (unsigned 64-bit and wider integers aside, which go as numeric) are sent
// as text: TIME, INTERVAL, UUID, lists, structs, maps, unions, …
func typeOID(duckType string) uint32 {
	t := strings.ToUpper(strings.TrimSpace(duckType))
	if strings.HasPrefix(t, "DECIMAL") || strings.HasPrefix(t, "NUMERIC") {
		return pgtype.NumericOID
	}
	switch t {
	case "BOOLEAN", "BOOL":
		return pgtype.BoolOID
	case "TINYINT", "UTINYINT", "SMALLINT":
		return pgtype.Int2OID
	case "USMALLINT", "INTEGER", "INT":
		return pgtype.Int4OID
	case "UINTEGER", "BIGINT":
		return pgtype.Int8OID
	case "UBIGINT", "HUGEINT", "UHUGEINT", "VARINT", "BIGNUM":
		return pgtype.NumericOID
	case "FLOAT", "REAL":
		return pgtype.Float4OID
	case "DOUBLE":
		return pgtype.Float8OID
	case "VARCHAR", "TEXT", "STRING":
		return pgtype.TextOID
	case "BLOB", "BYTEA":
		return pgtype.ByteaOID
	case "DATE":
		return pgtype.DateOID
	case "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATETIME":
		return pgtype.TimestampOID
	case "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		return pgtype.TimestamptzOID
	}
	return pgtype.TextOID
}

// pgValue converts a value DuckDB gave for a column of Postgres type oid
// to one the type's encoder takes. nil stays nil (NULL).
func pgValue(oid uint32, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		switch x := v.(type) {
		case int8:
			return int64(x), nil
		case int16:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case int64:
			return x, nil
		case uint8:
			return int64(x), nil
		case uint16:
			return int64(x), nil
		case uint32:
			return int64(x), nil
		}
	case pgtype.NumericOID:
		if unscaled, scale, ok := duckdb.Decimal(v); ok {
			return pgtype.Numeric{Int: unscaled, Exp: -int32(scale), Valid: true}, nil
		}
		switch x := v.(type) {
		case *big.Int:
			return pgtype.Numeric{Int: x, Valid: true}, nil
		case uint64:
			return pgtype.Numeric{Int: new(big.Int).SetUint64(x), Valid: true}, nil
		case int64:
			return pgtype.Numeric{Int: big.NewInt(x), Valid: true}, nil
		}
	case pgtype.Float4OID, pgtype.Float8OID, pgtype.BoolOID, pgtype.DateOID, pgtype.TimestampOID, pgtype.TimestamptzOID:
		return v, nil
	case pgtype.ByteaOID:
		if b, ok := v.([]byte); ok {
			return bytes.Clone(b), nil
		}
	case pgtype.TextOID:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return duckdb.Text(v), nil // TIME, INTERVAL, UUID, lists, structs, maps, …
	}
	return nil, fmt.Errorf("a %T value in a column sent as Postgres type %d: please report this", v, oid)
}

// valueSize is what a value counts against the byte cap: its bytes as
// text for strings and blobs, 8 for anything else, plus the 4 bytes of
// its length in the row.
func valueSize(v any) int64 {
	switch x := v.(type) {
	case string:
		return int64(len(x)) + 4
	case []byte:
		return int64(len(x)) + 4
	}
	return 12
}
