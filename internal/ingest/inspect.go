package ingest

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ratdata/rat"
)

// Contents says what a look at a file found in it.
type Contents int

const (
	// HasRows: the file holds rows (or a cheap look cannot tell otherwise).
	HasRows Contents = iota
	// NoRows: the file names its columns but holds no row: a CSV file with
	// its header line only, a Parquet file of 0 rows.
	NoRows
	// NoRecords: a JSON file with no record ("[]"): neither rows nor
	// columns.
	NoRecords
)

// Inspect checks an input file before DuckDB reads it and tells whether it
// holds rows. A file of 0 bytes (or only blank space) is an error that
// names it: it has nothing to load, not even columns. A Parquet file is
// validated (CheckParquet). The look is cheap: a CSV file's first two
// records, a JSON file's first bytes, a Parquet file's footer and pages.
func Inspect(path, format string) (Contents, error) {
	st, err := os.Stat(path)
	if err != nil {
		return HasRows, rat.Errorf(rat.ENOTFOUND, "open %s: %w", path, err)
	}
	if st.Size() == 0 {
		return HasRows, emptyFile(path, format, "0 bytes")
	}
	switch format {
	case "parquet":
		rep, err := CheckParquet(path)
		if err != nil {
			return HasRows, err
		}
		if rep.Rows == 0 {
			return NoRows, nil
		}
		return HasRows, nil
	case "csv":
		return inspectCSV(path)
	case "json":
		return inspectJSON(path)
	}
	return HasRows, nil
}

// emptyFile is the error for a file with nothing in it.
func emptyFile(path, format, what string) error {
	need := "data"
	switch format {
	case "csv":
		need = "at least a header line naming the columns"
	case "json":
		need = "at least one record"
	case "parquet":
		need = "a Parquet footer"
	}
	return rat.Errorf(rat.EINVALID, "%s is empty (%s): nothing to load; a %s file needs %s: check the export that wrote it, or remove the file",
		path, what, strings.ToUpper(format), need)
}

// open opens a file, decompressing .gz; ok is false for compressions Go
// does not read here (.zst), which the caller then leaves to DuckDB.
func open(path string) (io.ReadCloser, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, rat.Errorf(rat.ENOTFOUND, "open %s: %w", path, err)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".gz", ".gzip":
		gz, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, false, rat.Errorf(rat.EINVALID, "%s: not a gzip file: %s", path, err.Error())
		}
		return struct {
			io.Reader
			io.Closer
		}{gz, f}, true, nil
	case ".zst":
		f.Close()
		return nil, false, nil
	}
	return f, true, nil
}

func inspectCSV(path string) (Contents, error) {
	r, ok, err := open(path)
	if err != nil || !ok {
		return HasRows, err
	}
	defer r.Close()
	cr := csv.NewReader(r)
	cr.Comma = Delimiter(path)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	if _, err := cr.Read(); errors.Is(err, io.EOF) {
		return HasRows, emptyFile(path, "csv", "blank lines only")
	} else if err != nil {
		return HasRows, nil // malformed: DuckDB's strict read and ExplainFiles say where
	}
	if _, err := cr.Read(); errors.Is(err, io.EOF) {
		return NoRows, nil
	}
	return HasRows, nil
}

func inspectJSON(path string) (Contents, error) {
	r, ok, err := open(path)
	if err != nil || !ok {
		return HasRows, err
	}
	defer r.Close()
	br := bufio.NewReader(r)
	next := func() (byte, bool) {
		for {
			c, err := br.ReadByte()
			if err != nil {
				return 0, false
			}
			switch c {
			case ' ', '\t', '\r', '\n', 0xEF, 0xBB, 0xBF: // blank space, a UTF-8 byte order mark
				continue
			}
			return c, true
		}
	}
	c, ok := next()
	if !ok {
		return HasRows, emptyFile(path, "json", "blank space only")
	}
	if c != '[' {
		return HasRows, nil
	}
	if c, ok := next(); !ok || c != ']' {
		return HasRows, nil
	}
	if _, ok := next(); ok {
		return HasRows, nil // more after "[]": let DuckDB judge
	}
	return NoRecords, nil
}
