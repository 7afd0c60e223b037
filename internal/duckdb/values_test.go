package duckdb

import (
	"context"
	"strings"
	"testing"
)

func TestFormatters(t *testing.T) {
	db := openTest(t, Options{Threads: 1})
	rows, err := db.SQL().QueryContext(context.Background(), "SELECT TIME '12:30:00' AS t, TIMESTAMP '2024-01-01 00:00:00' AS ts, DATE '2024-01-02' AS d, TIMESTAMPTZ '2024-01-01 10:00:00+00' AS tz, 1.50::DECIMAL(4,2) AS dec")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	text := Formatters(rows)
	var got []string
	_, err = EachRow(rows, func(_ []string, vals []any) error {
		for i, v := range vals {
			got = append(got, text[i](v))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != "12:30:00|2024-01-01 00:00:00|2024-01-02|2024-01-01 10:00:00+00:00|1.5" {
		t.Fatalf("got %v", got)
	}
}
