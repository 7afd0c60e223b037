package duckdb

import (
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Text formats a scanned value for tables and CSV; NULL is "".
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return `\x` + hex.EncodeToString(x)
	case time.Time:
		return formatTime(x)
	case duckdb.Decimal:
		return x.String()
	case duckdb.UUID:
		return x.String()
	case *duckdb.UUID:
		return x.String()
	case duckdb.Interval:
		return fmt.Sprintf("%d months %d days %dµs", x.Months, x.Days, x.Micros)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = literal(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + literal(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case duckdb.Map:
		parts := make([]string, 0, len(x))
		for k, e := range x {
			parts = append(parts, literal(k)+"="+literal(e))
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	default:
		return fmt.Sprint(v)
	}
}

// literal formats a nested value, quoting strings.
func literal(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return Quote(x)
	default:
		return Text(v)
	}
}

func formatTime(t time.Time) string {
	if t.Year() == 1 && t.Month() == 1 && t.Day() == 1 {
		return t.Format("15:04:05.999999") // a TIME value
	}
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 && t.Location() == time.UTC {
		return t.Format("2006-01-02")
	}
	if t.Location() == time.UTC {
		return t.Format("2006-01-02 15:04:05.999999")
	}
	return t.Format("2006-01-02 15:04:05.999999-07:00")
}

// JSON converts a scanned value into something encoding/json renders well:
// decimals and UUIDs become strings, nested values are converted recursively.
func JSON(v any) any {
	switch x := v.(type) {
	case duckdb.Decimal, duckdb.UUID, *duckdb.UUID, []byte, duckdb.Interval:
		return Text(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = JSON(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = JSON(e)
		}
		return out
	case duckdb.Map:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[Text(k)] = JSON(e)
		}
		return out
	default:
		return v
	}
}

// EachRow calls fn with the column names and the values of every row
// (scanned into any: DuckDB's Go types), and returns the column names. fn
// must not keep vals: it is reused for the next row.
func EachRow(rows *sql.Rows, fn func(cols []string, vals []any) error) ([]string, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return cols, err
		}
		if err := fn(cols, vals); err != nil {
			return cols, err
		}
	}
	return cols, rows.Err()
}

// Formatters returns, per result column, the function that renders its
// values as text: like Text, but timestamps at midnight keep their time
// (Text alone cannot tell them from dates).
func Formatters(rows *sql.Rows) []func(any) string {
	types, err := rows.ColumnTypes()
	out := make([]func(any) string, len(types))
	for i := range out {
		out[i] = Text
		if err != nil {
			continue
		}
		switch name := types[i].DatabaseTypeName(); {
		case strings.HasPrefix(name, "TIMESTAMP"):
			layout := "2006-01-02 15:04:05.999999"
			if strings.Contains(name, "TZ") || strings.Contains(name, "ZONE") {
				layout += "-07:00"
			}
			out[i] = func(v any) string {
				if t, ok := v.(time.Time); ok {
					return t.Format(layout)
				}
				return Text(v)
			}
		}
	}
	return out
}

// Decimal returns a DECIMAL value as its unscaled integer and scale
// (value = unscaled × 10^-scale); false for any other value.
func Decimal(v any) (*big.Int, int, bool) {
	d, ok := v.(duckdb.Decimal)
	if !ok || d.Value == nil {
		return nil, 0, false
	}
	return d.Value, int(d.Scale), true
}
