// Package ingest reads raw files for loading: format detection and the
// validation that turns malformed input into errors with file and line.
package ingest

import (
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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
	cr := csv.NewReader(r)
	cr.Comma = delim
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return rat.Errorf(rat.EINVALID, "%s is empty: a CSV file needs a header line", path)
	}
	if err != nil {
		return csvError(path, err)
	}
	want := len(header)
	cr.FieldsPerRecord = want
	for {
		_, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return csvError(path, err)
		}
	}
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
	cr := csv.NewReader(r)
	cr.Comma = delim
	w := csv.NewWriter(dst)
	w.Comma = delim
	header, err := cr.Read()
	if err != nil {
		return nil, csvError(path, err)
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
			rejects = append(rejects, Reject{Line: pe.StartLine, Error: what, Raw: strings.Join(rec, string(delim))})
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

// Explain turns a failed read of CSV files into an error that names the
// file and line of the first malformed record, when there is one (DuckDB's
// own message may name neither); otherwise it returns err.
func Explain(paths []string, err error) error {
	if err == nil {
		return nil
	}
	for _, p := range paths {
		if f, ferr := Format(p); ferr != nil || f != "csv" {
			continue
		}
		if cerr := CheckCSV(p, Delimiter(p)); cerr != nil {
			return cerr
		}
	}
	return err
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
