package duckdb

import (
	"context"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	duckdb "github.com/duckdb/duckdb-go/v2"
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

// TestJSONValues: values JSON cannot render as they are become their text
// form (as Text prints them), nested ones included; the rest pass through.
func TestJSONValues(t *testing.T) {
	t.Parallel()
	id := duckdb.UUID{0x12, 0x34, 15: 0xff}
	v := map[string]any{
		"dec":   duckdb.Decimal{Width: 10, Scale: 2, Value: big.NewInt(12345)},
		"uuid":  id,
		"puuid": &id,
		"blob":  []byte{0xca, 0xfe},
		"span":  duckdb.Interval{Months: 1, Days: 2, Micros: 3},
		"list":  []any{int64(1), duckdb.Decimal{Width: 4, Scale: 1, Value: big.NewInt(-5)}},
		"map":   duckdb.Map{int32(7): "seven"},
		"n":     int64(42),
	}
	b, err := json.Marshal(JSON(v))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"blob":"\\xcafe","dec":"123.45","list":[1,"-0.5"],"map":{"7":"seven"},"n":42,` +
		`"puuid":"12340000-0000-0000-0000-0000000000ff","span":"1 months 2 days 3µs","uuid":"12340000-0000-0000-0000-0000000000ff"}`
	if string(b) != want {
		t.Errorf("JSON:\n%s\nwant\n%s", b, want)
	}
}
