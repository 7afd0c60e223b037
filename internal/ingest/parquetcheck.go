package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/thrift/lib/go/thrift"
	"github.com/ratdata/rat"
)

// ParquetReport is what CheckParquet found in a sound file.
type ParquetReport struct {
	Rows      int64 // rows the footer declares
	RowGroups int
	Pages     int // pages walked
	Checked   int // pages whose CRC was present and verified
}

// CheckParquet validates a Parquet file before DuckDB reads it: the magic
// bytes, the footer, every column chunk's place in the file and, page by
// page, the page headers (their sizes must tile the chunk, their value
// counts must add up to the chunk's) and the page CRCs where the writer
// stored them (DuckDB verifies none); then the values of plain-encoded
// numeric chunks against the footer's statistics (checkValues). A zeroed
// or overwritten region is an error that names the file, row group and
// column, instead of wrong values in a table.
func CheckParquet(path string) (ParquetReport, error) {
	var rep ParquetReport
	f, err := os.Open(path)
	if err != nil {
		return rep, rat.Errorf(rat.ENOTFOUND, "open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return rep, err
	}
	size := st.Size()
	if size == 0 {
		return rep, rat.Errorf(rat.EINVALID, "%s is empty (0 bytes): not a Parquet file; export it again", path)
	}
	damaged := func(format string, args ...any) error {
		return rat.Errorf(rat.EINVALID, "%s is damaged: %s; nothing was loaded: export or copy the file again", path, fmt.Sprintf(format, args...))
	}
	if size < 12 {
		return rep, damaged("%d bytes is too small for a Parquet file", size)
	}
	var head, tail [4]byte
	var footLen [4]byte
	if _, err := f.ReadAt(head[:], 0); err != nil {
		return rep, err
	}
	if _, err := f.ReadAt(footLen[:], size-8); err != nil {
		return rep, err
	}
	if _, err := f.ReadAt(tail[:], size-4); err != nil {
		return rep, err
	}
	if string(tail[:]) == "PARE" {
		return rep, nil // encrypted footer: DuckDB decides, with the key
	}
	if string(head[:]) != "PAR1" || string(tail[:]) != "PAR1" {
		return rep, damaged("it does not start and end with the Parquet marker PAR1 (truncated, or not Parquet)")
	}
	n := int64(binary.LittleEndian.Uint32(footLen[:]))
	footStart := size - 8 - n
	if n == 0 || footStart < 4 {
		return rep, damaged("its footer length (%d bytes) does not fit in the file (%d bytes)", n, size)
	}
	raw := make([]byte, n)
	if _, err := f.ReadAt(raw, footStart); err != nil {
		return rep, err
	}
	meta, err := metadata.NewFileMetaData(raw, nil)
	if err != nil {
		return rep, damaged("its footer cannot be decoded (%s)", firstLine(err))
	}
	rep.Rows, rep.RowGroups = meta.NumRows, meta.NumRowGroups()
	var rows int64
	w := pageWalker{f: f, path: path, end: footStart, sealed: map[valueJob]bool{}}
	for i := range meta.NumRowGroups() {
		rg := meta.RowGroup(i)
		rows += rg.NumRows()
		for j := range rg.NumColumns() {
			cc, err := rg.ColumnChunk(j)
			if err != nil {
				return rep, damaged("row group %d, column %d: %s", i, j, firstLine(err))
			}
			if cc.FilePath() != "" {
				continue // the chunk lives in another file
			}
			where := fmt.Sprintf("row group %d, column %s", i, cc.PathInSchema().String())
			if err := w.chunk(cc, where, valueJob{i, j}, &rep); err != nil {
				return rep, err
			}
		}
	}
	if rows != meta.NumRows {
		return rep, damaged("its row groups hold %d rows but the footer says %d", rows, meta.NumRows)
	}
	return rep, checkValues(path, meta, w.sealed)
}

// pageWalker reads the page headers of column chunks.
type pageWalker struct {
	f    *os.File
	path string
	end  int64 // where the footer starts: no page reaches past it
	buf  []byte
	// sealed are the chunks whose every page carried a CRC that matched:
	// their values need no other check.
	sealed map[valueJob]bool
}

func (w *pageWalker) damaged(where, format string, args ...any) error {
	return rat.Errorf(rat.EINVALID, "%s is damaged at %s: %s; nothing was loaded: export or copy the file again",
		w.path, where, fmt.Sprintf(format, args...))
}

// chunk walks one column chunk's pages.
func (w *pageWalker) chunk(cc *metadata.ColumnChunkMetaData, where string, job valueJob, rep *ParquetReport) error {
	start := cc.DataPageOffset()
	if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && cc.DictionaryPageOffset() < start {
		start = cc.DictionaryPageOffset()
	}
	end := start + cc.TotalCompressedSize()
	if start < 4 || cc.TotalCompressedSize() <= 0 || end > w.end {
		return w.damaged(where, "the column chunk (bytes %d to %d) lies outside the data (bytes 4 to %d)", start, end, w.end)
	}
	var values int64
	sealed := true
	for pos, page := start, 0; pos < end; page++ {
		h, hlen, err := w.header(pos, end)
		if err != nil {
			return w.damaged(fmt.Sprintf("%s, page %d (byte %d)", where, page, pos), "unreadable page header (%s)", firstLine(err))
		}
		if h.compressed < 0 || pos+hlen+h.compressed > end {
			return w.damaged(fmt.Sprintf("%s, page %d (byte %d)", where, page, pos), "the page (%d bytes) runs past the end of its column chunk", h.compressed)
		}
		if h.hasCRC {
			sum := crc32.NewIEEE()
			if _, err := io.Copy(sum, io.NewSectionReader(w.f, pos+hlen, h.compressed)); err != nil {
				return err
			}
			if int32(sum.Sum32()) != h.crc {
				return w.damaged(fmt.Sprintf("%s, page %d (byte %d)", where, page, pos), "the page's content does not match its CRC checksum")
			}
			rep.Checked++
		} else {
			sealed = false
		}
		if h.data {
			values += int64(h.values)
		}
		rep.Pages++
		pos += hlen + h.compressed
	}
	if values != cc.NumValues() {
		return w.damaged(where, "its pages hold %d values but the footer says %d", values, cc.NumValues())
	}
	if sealed {
		w.sealed[job] = true
	}
	return nil
}

// pageHeader is what the checks need of a Parquet PageHeader.
type pageHeader struct {
	compressed int64
	crc        int32
	hasCRC     bool
	data       bool // a data page (v1 or v2), whose values count
	values     int32
}

// header decodes the page header at pos; it returns the header and its
// length in bytes.
func (w *pageWalker) header(pos, end int64) (pageHeader, int64, error) {
	// Headers are small, but statistics inside them can be large: read a
	// window and grow it while the header does not fit.
	for size := int64(16 << 10); ; size *= 4 {
		n := min(size, end-pos)
		if int64(cap(w.buf)) < n {
			w.buf = make([]byte, n)
		}
		buf := w.buf[:n]
		if _, err := w.f.ReadAt(buf, pos); err != nil {
			return pageHeader{}, 0, err
		}
		mb := &thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(buf)}
		h, err := decodePageHeader(thrift.NewTCompactProtocolConf(mb, &thrift.TConfiguration{}))
		if err == nil {
			return h, n - int64(mb.Len()), nil
		}
		if n == end-pos || size >= 64<<20 || !isEOF(err) {
			return pageHeader{}, 0, err
		}
	}
}

func isEOF(err error) bool {
	var te thrift.TTransportException
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		(errors.As(err, &te) && te.TypeId() == thrift.END_OF_FILE)
}

// Parquet's PageHeader field ids and page types (parquet.thrift).
const (
	pageTypeData   = 0
	pageTypeDataV2 = 3
)

// decodePageHeader reads a thrift PageHeader: type (1), compressed size
// (3), crc (4), and num_values (field 1) of data_page_header (5) or
// data_page_header_v2 (8). Other fields are skipped.
func decodePageHeader(p thrift.TProtocol) (pageHeader, error) {
	ctx := context.Background()
	var h pageHeader
	var seen [4]bool // type, uncompressed size, compressed size, values
	if _, err := p.ReadStructBegin(ctx); err != nil {
		return h, err
	}
	for {
		_, typ, id, err := p.ReadFieldBegin(ctx)
		if err != nil {
			return h, err
		}
		if typ == thrift.STOP {
			break
		}
		switch {
		case id == 1 && typ == thrift.I32:
			t, err := p.ReadI32(ctx)
			if err != nil {
				return h, err
			}
			h.data, seen[0] = t == pageTypeData || t == pageTypeDataV2, true
		case id == 2 && typ == thrift.I32:
			if _, err := p.ReadI32(ctx); err != nil {
				return h, err
			}
			seen[1] = true
		case id == 3 && typ == thrift.I32:
			v, err := p.ReadI32(ctx)
			if err != nil {
				return h, err
			}
			h.compressed, seen[2] = int64(v), true
		case id == 4 && typ == thrift.I32:
			if h.crc, err = p.ReadI32(ctx); err != nil {
				return h, err
			}
			h.hasCRC = true
		case (id == 5 || id == 8) && typ == thrift.STRUCT:
			if h.values, err = readNumValues(ctx, p); err != nil {
				return h, err
			}
			seen[3] = true
		default:
			if err := p.Skip(ctx, typ); err != nil {
				return h, err
			}
		}
		if err := p.ReadFieldEnd(ctx); err != nil {
			return h, err
		}
	}
	if err := p.ReadStructEnd(ctx); err != nil {
		return h, err
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return h, errors.New("required fields missing")
	}
	if h.data && !seen[3] {
		return h, errors.New("a data page without its data page header")
	}
	return h, nil
}

// readNumValues reads field 1 (num_values) of a DataPageHeader or
// DataPageHeaderV2 and skips the rest.
func readNumValues(ctx context.Context, p thrift.TProtocol) (int32, error) {
	var v int32
	found := false
	if _, err := p.ReadStructBegin(ctx); err != nil {
		return 0, err
	}
	for {
		_, typ, id, err := p.ReadFieldBegin(ctx)
		if err != nil {
			return 0, err
		}
		if typ == thrift.STOP {
			break
		}
		if id == 1 && typ == thrift.I32 {
			if v, err = p.ReadI32(ctx); err != nil {
				return 0, err
			}
			found = true
		} else if err := p.Skip(ctx, typ); err != nil {
			return 0, err
		}
		if err := p.ReadFieldEnd(ctx); err != nil {
			return 0, err
		}
	}
	if !found {
		return 0, errors.New("num_values missing")
	}
	return v, p.ReadStructEnd(ctx)
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// damageSigns are what DuckDB's errors say when it cannot decode a Parquet
// file's pages (lower case).
var damageSigns = []string{"decompress", "out of buffer", "corrupt", "invalid page", "checksum", "dictionary index"}

// explainParquet turns a DuckDB error that says it could not decode
// Parquet data into one that names the damaged file (DuckDB names it only
// sometimes) and what to do; nil when err is not about damaged data.
// name gives a file's name for the message.
func explainParquet(paths []string, name func(string) string, err error) error {
	msg := err.Error()
	lower := strings.ToLower(msg)
	sign := ""
	for _, s := range damageSigns {
		if strings.Contains(lower, s) {
			sign = s
			break
		}
	}
	if sign == "" || len(paths) == 0 {
		return nil
	}
	var named []string
	for _, p := range paths {
		if strings.Contains(msg, p) {
			named = append(named, p)
		}
	}
	if len(named) == 0 {
		named = paths
	}
	// DuckDB's message: "...: Invalid Input Error: Failed to read file
	// "PATH": Snappy decompression failure"; keep what went wrong.
	cause := msg
	if i := strings.LastIndex(cause, "Error: "); i >= 0 {
		cause = cause[i+len("Error: "):]
	}
	if strings.HasPrefix(cause, "Failed to read file ") {
		if j := strings.Index(cause, "\": "); j >= 0 {
			cause = cause[j+3:]
		}
	}
	if len(named) == 1 {
		return rat.Errorf(rat.EINVALID, "%s is damaged: DuckDB cannot decode its data (%s); nothing was loaded: export or copy the file again",
			name(named[0]), firstLine(errors.New(cause)))
	}
	names := make([]string, len(named))
	for i, p := range named {
		names[i] = name(p)
	}
	return rat.Errorf(rat.EINVALID, "one of %s is damaged: DuckDB cannot decode its data (%s); nothing was loaded: load them one by one to find it, then export or copy it again",
		strings.Join(names, ", "), firstLine(errors.New(cause)))
}
