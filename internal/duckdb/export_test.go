package duckdb

import (
	"context"
	"path/filepath"
	"testing"
)

func TestExport(t *testing.T) {
	db := openTest(t, Options{Threads: 2})
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// read reads back an exported file: its rows, the sum of i, and the
	// codec of its first column chunk ("" without a row group).
	read := func(t *testing.T, path string) (n, sum int64, codec string) {
		t.Helper()
		q := "SELECT count(*), coalesce(sum(i), 0) FROM read_parquet(" + Quote(path) + ")"
		if err := conn.QueryRowContext(ctx, q).Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		q = "SELECT coalesce((SELECT compression FROM parquet_metadata(" + Quote(path) + ") LIMIT 1), '')"
		if err := conn.QueryRowContext(ctx, q).Scan(&codec); err != nil {
			t.Fatal(err)
		}
		return n, sum, codec
	}
	for _, c := range []struct {
		name, query string
		o           ExportOptions
		rows, sum   int64
		codec       string
	}{
		{"every row, DuckDB's codec", "SELECT range AS i FROM range(1000)", ExportOptions{}, 1000, 499500, "SNAPPY"},
		{"the first rows", "SELECT range AS i FROM range(1000) ORDER BY i DESC", ExportOptions{Limit: 3}, 3, 999 + 998 + 997, "SNAPPY"},
		{"a limit of its own and a trailing comment", "SELECT range AS i FROM range(1000) LIMIT 10 -- ten", ExportOptions{Limit: 5, Compression: "zstd"}, 5, 10, "ZSTD"},
		{"no row", "SELECT range AS i FROM range(0)", ExportOptions{Compression: "zstd"}, 0, 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.parquet")
			n, err := Export(ctx, conn, c.query, path, c.o)
			if err != nil {
				t.Fatal(err)
			}
			rows, sum, codec := read(t, path)
			if n != c.rows || rows != c.rows || sum != c.sum || codec != c.codec {
				t.Errorf("Export said %d rows; the file holds %d rows summing to %d, codec %s; want %d rows summing to %d, %s",
					n, rows, sum, codec, c.rows, c.sum, c.codec)
			}
		})
	}
	t.Run("an error is DuckDB's", func(t *testing.T) {
		if _, err := Export(ctx, conn, "SELECT nope FROM range(3)", filepath.Join(t.TempDir(), "x.parquet"), ExportOptions{}); err == nil {
			t.Fatal("a query naming an unknown column exported")
		}
	})
}
