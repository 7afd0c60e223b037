package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/thrift/lib/go/thrift"
)

// WriteTestParquet writes rows of (id BIGINT from 1000, amount DOUBLE,
// every tenth NULL) as uncompressed, plain-encoded Parquet with statistics
// and no page CRCs (as most writers do), rowGroup rows per row group.
func writeTestParquet(t testing.TB, path string, rows, rowGroup int) {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := range rows {
		b.Field(0).(*array.Int64Builder).Append(int64(1000 + i))
		if i%10 == 9 {
			b.Field(1).(*array.Float64Builder).AppendNull()
		} else {
			b.Field(1).(*array.Float64Builder).Append(float64(i) + 0.5)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	tbl := array.NewTableFromRecords(sc, []arrow.RecordBatch{rec})
	defer tbl.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Uncompressed),
		parquet.WithDictionaryDefault(false), parquet.WithStats(true))
	if err := pqarrow.WriteTable(tbl, f, int64(rowGroup), props, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
}

// chunkAt returns where a column chunk's data starts and its size.
func chunkAt(t testing.TB, path string, rowGroup, column int) (int64, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(binary.LittleEndian.Uint32(b[len(b)-8:]))
	meta, err := metadata.NewFileMetaData(b[int64(len(b))-8-n:len(b)-8], nil)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := meta.RowGroup(rowGroup).ColumnChunk(column)
	if err != nil {
		t.Fatal(err)
	}
	return cc.DataPageOffset(), cc.TotalCompressedSize()
}

// damage copies src to a new file with n bytes at off set to b.
func damage(t testing.TB, src, name string, off int64, n int, b byte) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for i := off; i < off+int64(n); i++ {
		data[i] = b
	}
	p := filepath.Join(filepath.Dir(src), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckParquet(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	writeTestParquet(t, good, 5000, 1000)
	rep, err := CheckParquet(good)
	if err != nil || rep.Rows != 5000 || rep.RowGroups != 5 || rep.Checked != 0 {
		t.Fatalf("a sound file: %+v, %v", rep, err)
	}
	idStart, idSize := chunkAt(t, good, 2, 0)
	amountStart, amountSize := chunkAt(t, good, 3, 1)
	size := func() int64 { st, _ := os.Stat(good); return st.Size() }()
	cases := []struct {
		name string
		path string
		want string
	}{
		// The middle of the ids of row group 2 (3000..3999) read as 0.
		{"zeroed ids", damage(t, good, "ids.parquet", idStart+idSize/2, 64, 0),
			"ids.parquet is damaged at row group 2, column id: a value 0 lies outside the range [3000, 3999] its footer records; nothing was loaded: export or copy the file again"},
		// Zeroed definition levels make values NULL; the null count tells.
		{"zeroed levels", damage(t, good, "levels.parquet", amountStart+40, 16, 0),
			"levels.parquet is damaged at row group 3, column amount"},
		{"overwritten amounts", damage(t, good, "amounts.parquet", amountStart+amountSize-200, 64, 0x7F),
			"amounts.parquet is damaged at row group 3, column amount"},
		{"zeroed page header", damage(t, good, "header.parquet", idStart, 24, 0),
			"header.parquet is damaged at row group 2, column id, page 0"},
		{"truncated", damage(t, good, "truncated.parquet", size-4, 4, 0),
			"truncated.parquet is damaged: it does not start and end with the Parquet marker PAR1"},
		{"zeroed footer", damage(t, good, "footer.parquet", size-200, 100, 0),
			"footer.parquet is damaged"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := CheckParquet(c.path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant one containing %q", err, c.want)
			}
		})
	}
}

// A page CRC, where the writer stored one, catches any change to the page,
// even one that leaves its values plausible.
func TestCheckParquetCRC(t *testing.T) {
	dir := t.TempDir()
	data, valuesAt := crcParquet(t)
	good := filepath.Join(dir, "crc.parquet")
	if err := os.WriteFile(good, data, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := CheckParquet(good)
	if err != nil || rep.Rows != 100 || rep.Pages != 1 || rep.Checked != 1 {
		t.Fatalf("a sound file with a CRC: %+v, %v", rep, err)
	}
	// Value 50 becomes 51: inside the footer's range, but not the CRC's.
	bad := damage(t, good, "bad.parquet", valuesAt+49*8, 1, 51)
	if _, err := CheckParquet(bad); err == nil || !strings.Contains(err.Error(), "bad.parquet is damaged at row group 0, column v, page 0 (byte 4): the page's content does not match its CRC checksum") {
		t.Fatalf("err = %v", err)
	}
}

// crcParquet builds a Parquet file by hand: one REQUIRED INT64 column v
// holding 1..100 in one plain, uncompressed data page with a CRC. It
// returns the file and where the values start.
func crcParquet(t testing.TB) ([]byte, int64) {
	t.Helper()
	ctx := context.Background()
	values := make([]byte, 800)
	for i := range 100 {
		binary.LittleEndian.PutUint64(values[i*8:], uint64(i+1))
	}
	enc := func(write func(p *thrift.TCompactProtocol) error) []byte {
		buf := thrift.NewTMemoryBuffer()
		p := thrift.NewTCompactProtocolConf(buf, &thrift.TConfiguration{})
		if err := write(p); err != nil {
			t.Fatal(err)
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	i32 := func(p *thrift.TCompactProtocol, id int16, v int32) {
		p.WriteFieldBegin(ctx, "", thrift.I32, id)
		p.WriteI32(ctx, v)
		p.WriteFieldEnd(ctx)
	}
	i64 := func(p *thrift.TCompactProtocol, id int16, v int64) {
		p.WriteFieldBegin(ctx, "", thrift.I64, id)
		p.WriteI64(ctx, v)
		p.WriteFieldEnd(ctx)
	}
	str := func(p *thrift.TCompactProtocol, id int16, v string) {
		p.WriteFieldBegin(ctx, "", thrift.STRING, id)
		p.WriteString(ctx, v)
		p.WriteFieldEnd(ctx)
	}
	begin := func(p *thrift.TCompactProtocol, typ thrift.TType, id int16) {
		p.WriteFieldBegin(ctx, "", typ, id)
	}
	end := func(p *thrift.TCompactProtocol) {
		p.WriteFieldStop(ctx)
		p.WriteStructEnd(ctx)
		p.WriteFieldEnd(ctx)
	}
	header := enc(func(p *thrift.TCompactProtocol) error {
		p.WriteStructBegin(ctx, "PageHeader")
		i32(p, 1, 0) // DATA_PAGE
		i32(p, 2, 800)
		i32(p, 3, 800)
		i32(p, 4, int32(crc32.ChecksumIEEE(values)))
		begin(p, thrift.STRUCT, 5)
		p.WriteStructBegin(ctx, "DataPageHeader")
		i32(p, 1, 100) // num_values
		i32(p, 2, 0)   // PLAIN
		i32(p, 3, 3)   // RLE
		i32(p, 4, 3)   // RLE
		end(p)
		p.WriteFieldStop(ctx)
		return p.WriteStructEnd(ctx)
	})
	chunk := int64(len(header) + len(values))
	footer := enc(func(p *thrift.TCompactProtocol) error {
		p.WriteStructBegin(ctx, "FileMetaData")
		i32(p, 1, 1)
		begin(p, thrift.LIST, 2)
		p.WriteListBegin(ctx, thrift.STRUCT, 2)
		p.WriteStructBegin(ctx, "SchemaElement")
		str(p, 4, "schema")
		i32(p, 5, 1)
		p.WriteFieldStop(ctx)
		p.WriteStructEnd(ctx)
		p.WriteStructBegin(ctx, "SchemaElement")
		i32(p, 1, 2) // INT64
		i32(p, 3, 0) // REQUIRED
		str(p, 4, "v")
		p.WriteFieldStop(ctx)
		p.WriteStructEnd(ctx)
		p.WriteListEnd(ctx)
		p.WriteFieldEnd(ctx)
		i64(p, 3, 100)
		begin(p, thrift.LIST, 4)
		p.WriteListBegin(ctx, thrift.STRUCT, 1)
		p.WriteStructBegin(ctx, "RowGroup")
		begin(p, thrift.LIST, 1)
		p.WriteListBegin(ctx, thrift.STRUCT, 1)
		p.WriteStructBegin(ctx, "ColumnChunk")
		i64(p, 2, 4)
		begin(p, thrift.STRUCT, 3)
		p.WriteStructBegin(ctx, "ColumnMetaData")
		i32(p, 1, 2)
		begin(p, thrift.LIST, 2)
		p.WriteListBegin(ctx, thrift.I32, 1)
		p.WriteI32(ctx, 0)
		p.WriteListEnd(ctx)
		p.WriteFieldEnd(ctx)
		begin(p, thrift.LIST, 3)
		p.WriteListBegin(ctx, thrift.STRING, 1)
		p.WriteString(ctx, "v")
		p.WriteListEnd(ctx)
		p.WriteFieldEnd(ctx)
		i32(p, 4, 0) // UNCOMPRESSED
		i64(p, 5, 100)
		i64(p, 6, chunk)
		i64(p, 7, chunk)
		i64(p, 9, 4)
		end(p) // ColumnMetaData
		p.WriteFieldStop(ctx)
		p.WriteStructEnd(ctx)
		p.WriteListEnd(ctx)
		p.WriteFieldEnd(ctx)
		i64(p, 2, chunk)
		i64(p, 3, 100)
		p.WriteFieldStop(ctx)
		p.WriteStructEnd(ctx)
		p.WriteListEnd(ctx)
		p.WriteFieldEnd(ctx)
		p.WriteFieldStop(ctx)
		return p.WriteStructEnd(ctx)
	})
	var b bytes.Buffer
	b.WriteString("PAR1")
	b.Write(header)
	b.Write(values)
	b.Write(footer)
	binary.Write(&b, binary.LittleEndian, uint32(len(footer)))
	b.WriteString("PAR1")
	return b.Bytes(), int64(4 + len(header))
}

func TestExplainParquet(t *testing.T) {
	paths := []string{"/d/a.parquet", "/d/b.parquet"}
	cases := []struct{ err, want string }{
		{`read source: Invalid Input Error: Failed to read file "/d/b.parquet": Snappy decompression failure`,
			"/d/b.parquet is damaged: DuckDB cannot decode its data (Snappy decompression failure); nothing was loaded: export or copy the file again"},
		{"read source: Invalid Error: Failed to decompress GZIP block: buf error",
			"one of /d/a.parquet, /d/b.parquet is damaged: DuckDB cannot decode its data (Failed to decompress GZIP block: buf error)"},
		{`column "x" is VARCHAR in the new data but BIGINT in bronze.t`, ""},
	}
	for _, c := range cases {
		got := explainParquet(paths, func(p string) string { return p }, errors.New(c.err))
		if c.want == "" {
			if got != nil {
				t.Errorf("%q: explained as %v", c.err, got)
			}
			continue
		}
		if got == nil || !strings.Contains(got.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.err, got, c.want)
		}
	}
}
