// Package ingest reads raw files for loading: format detection and the
// validation that turns malformed input into errors with file and line.
package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ratdata/rat"
)

// CheckCSV reads a CSV file completely and reports the first malformed
// record: a field count that differs from the header's, or broken quoting.
// DuckDB's reader, given such a file, may guess another dialect and load
// garbage; checking first makes a bad line an error that names it.
func CheckCSV(path string, delim rune) error {
	f, err := os.Open(path)
	if err != nil {
		return rat.Errorf(rat.ENOTFOUND, "open %s: %w", path, err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(strings.ToLower(path), ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return rat.Errorf(rat.EINVALID, "%s: not a gzip file: %s", filepath.Base(path), err.Error())
		}
		defer gz.Close()
		r = gz
	}
	br := bufio.NewReader(r)
	if err := checkBOM(path, br); err != nil {
		return err
	}
	cr := csv.NewReader(br)
	cr.Comma = delim
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return rat.Errorf(rat.EINVALID, "%s is empty: a CSV file needs a header line", path)
	}
	if err != nil {
		return csvError(path, err)
	}
	header = slices.Clone(header)
	if bad := invalidUTF8(cr, header, nil); bad != nil {
		return bad.error(path)
	}
	cr.FieldsPerRecord = len(header)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return csvError(path, err)
		}
		if bad := invalidUTF8(cr, rec, header); bad != nil {
			return bad.error(path)
		}
	}
}

// notUTF8 is a byte that is not valid UTF-8, at its line in the file.
type notUTF8 struct {
	line   int    // 1-based, counted from the file's start, header included
	column string // the header's name of the field ("" in the header)
	b      byte
}

// invalidUTF8 finds the first invalid UTF-8 byte in the record just read
// and its line: the line of the field's start, plus the line breaks inside
// a quoted field before the byte.
func invalidUTF8(cr *csv.Reader, rec, header []string) *notUTF8 {
	for i, f := range rec {
		if utf8.ValidString(f) {
			continue
		}
		at := 0
		for at < len(f) {
			r, size := utf8.DecodeRuneInString(f[at:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			at += size
		}
		line, _ := cr.FieldPos(i)
		bad := &notUTF8{line: line + strings.Count(f[:at], "\n"), b: f[at]}
		if i < len(header) {
			bad.column = header[i]
		}
		return bad
	}
	return nil
}

func (n *notUTF8) error(path string) error {
	where := "in the header"
	if n.column != "" {
		where = fmt.Sprintf("in column %q", n.column)
	}
	guess := ""
	if n.b >= 0x80 {
		guess = fmt.Sprintf(" (in Windows-1252 or Latin-1 it is %q: the file is probably in one of those)", string(rune(cp1252(n.b))))
	}
	return rat.Errorf(rat.EINVALID, "%s:%d: not UTF-8: byte 0x%02X %s is not valid UTF-8%s; re-encode the file as UTF-8 (for example iconv -f WINDOWS-1252 -t UTF-8 %s > %s) and load the new file",
		path, n.line, n.b, where, guess, filepath.Base(path), utf8Name(filepath.Base(path)))
}

// checkBOM refuses a UTF-16 or UTF-32 file by its byte order mark: read as
// UTF-8 every line would be garbage.
func checkBOM(path string, br *bufio.Reader) error {
	head, _ := br.Peek(4)
	enc := ""
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE, 0, 0}), bytes.HasPrefix(head, []byte{0, 0, 0xFE, 0xFF}):
		enc = "UTF-32"
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		enc = "UTF-16"
	default:
		return nil
	}
	return rat.Errorf(rat.EINVALID, "%s:1: not UTF-8: the file is %s (its first bytes are a %s byte order mark); re-encode it as UTF-8 (for example iconv -f %s -t UTF-8 %s > %s) and load the new file",
		path, enc, enc, enc, filepath.Base(path), utf8Name(filepath.Base(path)))
}

// utf8Name suggests a name for the re-encoded copy of a file.
func utf8Name(base string) string {
	ext := filepath.Ext(base)
	return strings.TrimSuffix(base, ext) + ".utf8" + ext
}

// cp1252 maps a byte to its Windows-1252 character (Latin-1 above 0x9F).
func cp1252(b byte) rune {
	if b >= 0x80 && b < 0xA0 {
		const tbl = "€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008DŽ\u008F\u0090‘’“”•–—˜™š›œ\u009DžŸ"
		return []rune(tbl)[b-0x80]
	}
	return rune(b)
}

// Reject is a malformed line set aside by SplitCSV.
type Reject struct {
	Line  int    // 1-based line in the file
	Error string // what is wrong with it
	Raw   string // the fields that could be read, comma-joined
}

// SplitCSV copies the well-formed records of a CSV file (header included)
// to out and returns the malformed ones: the quarantine of pipelines with
// on_bad_rows: quarantine.
func SplitCSV(path string, delim rune, out string) ([]Reject, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, rat.Errorf(rat.ENOTFOUND, "open %s: %w", path, err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(strings.ToLower(path), ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, rat.Errorf(rat.EINVALID, "%s: not a gzip file: %s", filepath.Base(path), err.Error())
		}
		defer gz.Close()
		r = gz
	}
	dst, err := os.Create(out)
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	br := bufio.NewReader(r)
	if err := checkBOM(path, br); err != nil {
		return nil, err
	}
	cr := csv.NewReader(br)
	cr.Comma = delim
	w := csv.NewWriter(dst)
	w.Comma = delim
	header, err := cr.Read()
	if err != nil {
		return nil, csvError(path, err)
	}
	if bad := invalidUTF8(cr, header, nil); bad != nil {
		return nil, bad.error(path) // no header, no columns: nothing to keep
	}
	if err := w.Write(header); err != nil {
		return nil, err
	}
	cr.FieldsPerRecord = len(header)
	var rejects []Reject
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, csvError(path, err)
			}
			what := pe.Err.Error()
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				what = fmt.Sprintf("%d fields, the header has %d", len(rec), len(header))
			}
			rejects = append(rejects, Reject{Line: pe.StartLine, Error: what, Raw: strings.ToValidUTF8(strings.Join(rec, string(delim)), "\uFFFD")})
			continue
		}
		if bad := invalidUTF8(cr, rec, header); bad != nil {
			what := fmt.Sprintf("not UTF-8: byte 0x%02X in column %q", bad.b, bad.column)
			rejects = append(rejects, Reject{Line: bad.line, Error: what, Raw: strings.ToValidUTF8(strings.Join(rec, string(delim)), "\uFFFD")})
			continue
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	return rejects, dst.Close()
}

func csvError(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		what := pe.Err.Error()
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			what = "wrong number of fields (the header has a different count)"
		}
		return rat.Errorf(rat.EINVALID, "%s:%d: malformed CSV: %s; fix the line (quote fields that contain the delimiter) and load again",
			path, pe.StartLine, what)
	}
	return rat.Errorf(rat.EINVALID, "%s: %s", path, err.Error())
}

// CSVRead is the DuckDB table function call that reads a CSV file
// strictly: a line with too many or too few fields, or broken quoting, is an
// error rather than a reason to guess another dialect.
func CSVRead(path string, delim rune) string {
	return fmt.Sprintf("read_csv(%s, header = true, delim = %s, quote = '\"', escape = '\"', strict_mode = true, null_padding = false)",
		quote(path), quote(string(delim)))
}

// Delimiter returns the field delimiter a CSV-like file's name implies.
func Delimiter(path string) rune {
	n := strings.ToLower(path)
	n = strings.TrimSuffix(strings.TrimSuffix(n, ".gz"), ".zst")
	if strings.HasSuffix(n, ".tsv") {
		return '\t'
	}
	return ','
}

// ErrUnknownFormat is returned by Format for an unrecognised extension.
var ErrUnknownFormat = errors.New("unknown format")

// Format tells a file's format from its extension: csv, json or parquet.
func Format(name string) (string, error) {
	n := strings.ToLower(name)
	for _, c := range []string{".gz", ".zst", ".gzip"} {
		n = strings.TrimSuffix(n, c)
	}
	switch filepath.Ext(n) {
	case ".csv", ".tsv", ".txt":
		return "csv", nil
	case ".json", ".ndjson", ".jsonl":
		return "json", nil
	case ".parquet", ".pq":
		return "parquet", nil
	}
	return "", fmt.Errorf("%s: %w", name, ErrUnknownFormat)
}
