package duckdb

import (
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ratdata/rat/internal/textout"
)

// WriteRows renders a result set for people, as rat query prints it: "csv",
// "json" (an array of objects, keys in column order), or else an aligned
// table of at most maxRows rows (0: all) with a note of the rest. It
// returns the number of rows in the result.
func WriteRows(w io.Writer, rows *sql.Rows, format string, maxRows int) (int64, error) {
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	text := Formatters(rows)
	var n int64
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(cols); err != nil {
			return 0, err
		}
		rec := make([]string, len(cols))
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return n, err
			}
			for i, v := range vals {
				rec[i] = text[i](v)
			}
			if err := cw.Write(rec); err != nil {
				return n, err
			}
			n++
		}
		cw.Flush()
		return n, cw.Error()
	case "json":
		if _, err := io.WriteString(w, "["); err != nil {
			return 0, err
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return n, err
			}
			// Keys in column order, which a map would lose.
			var obj strings.Builder
			obj.WriteByte('{')
			for i, v := range vals {
				k, _ := json.Marshal(cols[i])
				val, err := json.Marshal(JSON(v))
				if err != nil {
					return n, err
				}
				if i > 0 {
					obj.WriteByte(',')
				}
				obj.Write(k)
				obj.WriteByte(':')
				obj.Write(val)
			}
			obj.WriteByte('}')
			data := obj.String()
			sep := ",\n "
			if n == 0 {
				sep = "\n "
			}
			if _, err := io.WriteString(w, sep+data); err != nil {
				return n, err
			}
			n++
		}
		_, err := io.WriteString(w, "\n]\n")
		return n, err
	default:
		var table [][]string
		for rows.Next() {
			n++
			if maxRows > 0 && n > int64(maxRows) {
				continue
			}
			if err := rows.Scan(ptrs...); err != nil {
				return n, err
			}
			rec := make([]string, len(cols))
			for i, v := range vals {
				if v == nil {
					rec[i] = "NULL"
				} else {
					rec[i] = text[i](v)
				}
			}
			table = append(table, rec)
		}
		textout.Table(w, cols, table)
		if maxRows > 0 && n > int64(maxRows) {
			fmt.Fprintf(w, "... showing %d of %d rows; use --max-rows 0, or -o FILE for all\n", maxRows, n)
		}
		return n, nil
	}
}
