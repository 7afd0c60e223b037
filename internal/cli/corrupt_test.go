package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// A CSV file that is not UTF-8 is refused with the line of the bad byte,
// counted from the file's start (header and the lines of quoted multi-line
// fields included), the column, and how to re-encode it.
func TestCSVNotUTF8NamesTheLine(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	var b strings.Builder
	b.WriteString("id,note\n")
	for i := 1; i <= 20; i++ {
		note := "\"line one\nline two\""
		if i == 9 {
			note = "\"Gr\xfc\xdfe\naus M\xfcnchen\""
		}
		b.WriteString(strconv.Itoa(i) + "," + note + "\n")
	}
	u.write("latin.csv", b.String())
	// Record 9 starts on line 2*9 = 18: the header is line 1, each record
	// takes two lines.
	line := u.fails("latin.csv:18: not UTF-8: byte 0xFC in column \"note\"", "load", "latin.csv", "--into", "bronze.notes")
	if !strings.Contains(line, "iconv -f WINDOWS-1252 -t UTF-8 latin.csv > latin.utf8.csv") {
		t.Errorf("the error should say how to re-encode the file: %s", line)
	}
	u.fails("latin.csv:18: not UTF-8", "ingest", "latin.csv", "--into", "bronze.notes")
}

// writeParquet writes rows of (id BIGINT from 1000, amount DOUBLE) as
// plain-encoded Parquet with statistics and no page CRCs, 1,000 rows per
// row group, and returns where row group 2's id values start and their size.
func writeParquet(t *testing.T, path string, rows int, codec compress.Compression) (int64, int64) {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "amount", Type: arrow.PrimitiveTypes.Float64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := range rows {
		b.Field(0).(*array.Int64Builder).Append(int64(1000 + i))
		b.Field(1).(*array.Float64Builder).Append(float64(i) / 4)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	props := parquet.NewWriterProperties(parquet.WithCompression(codec), parquet.WithDictionaryDefault(false))
	if err := pqarrow.WriteTable(array.NewTableFromRecords(sc, []arrow.RecordBatch{rec}), &buf, 1000, props, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cc, err := f.MetaData().RowGroup(2).ColumnChunk(0)
	if err != nil {
		t.Fatal(err)
	}
	return cc.DataPageOffset(), cc.TotalCompressedSize()
}

// zero copies a file with n bytes from off set to zero.
func zero(t *testing.T, src, dst string, off int64, n int) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	clear(b[off : off+int64(n)])
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A Parquet file with a zeroed region in the middle of a column chunk was
// loaded with zeros in place of its values. It is refused, naming the
// file, row group and column; so is one DuckDB cannot decode.
func TestCorruptParquetIsRefused(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	good := filepath.Join(u.dir, "good.parquet")
	at, size := writeParquet(t, good, 5000, compress.Codecs.Uncompressed)
	u.ok("load", "good.parquet", "--into", "bronze.good")
	if n := u.count("bronze.good"); n != "5000" {
		t.Fatalf("rows = %s", n)
	}
	before := u.commits()
	zero(t, good, filepath.Join(u.dir, "bad.parquet"), at+size/2, 256)
	line := u.fails("bad.parquet is damaged at row group 2, column id: a value 0 lies outside the range [3000, 3999]", "load", "bad.parquet", "--into", "bronze.bad")
	if !strings.Contains(line, "nothing was loaded: export or copy the file again") {
		t.Errorf("the error should say what to do: %s", line)
	}
	u.fails("bad.parquet is damaged at row group 2, column id", "ingest", "bad.parquet", "--into", "bronze.bad")

	snappy := filepath.Join(u.dir, "snappy.parquet")
	at, size = writeParquet(t, snappy, 5000, compress.Codecs.Snappy)
	zero(t, snappy, filepath.Join(u.dir, "snappy_bad.parquet"), at+size/2, 256)
	u.fails("snappy_bad.parquet is damaged: DuckDB cannot decode its data", "load", "snappy_bad.parquet", "--into", "bronze.bad")

	if n := u.commits(); n != before {
		t.Fatalf("refused loads committed: %d commits, want %d", n, before)
	}
	if out := u.ok("tables"); strings.Contains(out, "bronze.bad") {
		t.Fatalf("a refused load left a table:\n%s", out)
	}
}
