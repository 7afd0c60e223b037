package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ratdata/rat"
)

// File is one file in a landing zone.
type File struct {
	Zone   string `json:"zone"`
	Name   string `json:"name"` // zone-relative path
	Size   int64  `json:"size"`
	Hash   string `json:"hash"` // sha256 of the content, hex
	Format string `json:"format"`
	Local  string `json:"-"` // a local path DuckDB can read
	// IngestedAt, when set, is the file's _ingested_at (the time it was
	// first ingested); zero means ReadOptions.IngestedAt.
	IngestedAt time.Time `json:"-"`
	// Contents is what InspectFiles found in the file.
	Contents Contents `json:"-"`
}

// Source is how the file is named in _source_file: zone/name, or the
// file's own path when it came from the command line.
func (f File) Source() string {
	if f.Zone == "" {
		return f.Name
	}
	return f.Zone + "/" + f.Name
}

// LocalFiles describes files given by path (rat ingest FILE...).
func LocalFiles(paths []string) ([]File, error) {
	out := make([]File, 0, len(paths))
	for _, p := range paths {
		format, err := Format(p)
		if IsExcel(p) {
			format, err = "excel", nil
		}
		if err != nil {
			return nil, rat.Errorf(rat.EINVALID, "cannot tell the format of %s from its extension: use .csv, .tsv, .json, .ndjson, .parquet or .xlsx", p)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, rat.Errorf(rat.ENOTFOUND, "open %s: %w", p, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		name := p
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
				name = rel
			}
		}
		out = append(out, File{Name: name, Size: n, Hash: hex.EncodeToString(h.Sum(nil)), Format: format, Local: p})
	}
	return out, nil
}

// ReadOptions tune ReadSQL.
type ReadOptions struct {
	IngestedAt time.Time
	Sheet      string // Excel: the sheet to read ("" = every sheet)
	TmpDir     string // converted files (Excel sheets, quarantined CSVs) go here
	// Quarantine sets malformed CSV lines aside (returned as rejects)
	// instead of failing on the first one.
	Quarantine bool
}

// Rejected is a malformed line of a landing file.
type Rejected struct {
	Source string
	Reject
}

// ReadSQL builds a DuckDB SELECT over files: all their columns (by name;
// files of one zone may differ) plus _source_file and _ingested_at. CSV
// files are checked first, so a malformed line is an error with file:line
// (or, with Quarantine, set aside and returned). Excel files are converted
// to CSV, one table per sheet. PlainSQL reads files without the lineage
// columns.
func ReadSQL(files []File, o ReadOptions) (string, []Rejected, error) {
	if len(files) == 0 {
		return "", nil, rat.Errorf(rat.EINVALID, "no files to read")
	}
	var parts []string
	var rejected []Rejected
	for _, f := range files {
		src := quote(f.Source())
		t := o.IngestedAt
		if !f.IngestedAt.IsZero() {
			t = f.IngestedAt
		}
		at := "TIMESTAMPTZ '" + t.UTC().Format("2006-01-02 15:04:05.999999") + "+00'"
		switch f.Format {
		case "csv":
			delim := Delimiter(f.Name)
			local := f.Local
			if o.Quarantine {
				if err := os.MkdirAll(o.TmpDir, 0o755); err != nil {
					return "", nil, err
				}
				clean, err := os.CreateTemp(o.TmpDir, "clean-*.csv")
				if err != nil {
					return "", nil, err
				}
				clean.Close()
				rejects, err := SplitCSV(f.Local, delim, clean.Name())
				if err != nil {
					return "", nil, relabel(err, f)
				}
				for _, r := range rejects {
					rejected = append(rejected, Rejected{Source: f.Source(), Reject: r})
				}
				local = clean.Name()
			}
			parts = append(parts, fmt.Sprintf("SELECT *, %s AS _source_file, %s AS _ingested_at FROM %s", src, at, CSVRead(local, delim)))
		case "json":
			parts = append(parts, fmt.Sprintf("SELECT *, %s AS _source_file, %s AS _ingested_at FROM read_json_auto(%s)", src, at, quote(f.Local)))
		case "parquet":
			parts = append(parts, fmt.Sprintf("SELECT *, %s AS _source_file, %s AS _ingested_at FROM read_parquet(%s)", src, at, quote(f.Local)))
		case "excel":
			sheets, err := ExcelToCSV(f.Local, o.Sheet, o.TmpDir)
			if err != nil {
				return "", nil, err
			}
			for _, s := range sheets {
				parts = append(parts, fmt.Sprintf("SELECT *, %s AS _source_file, %s AS _ingested_at FROM %s",
					quote(f.Source()+"#"+s.Name), at, CSVRead(s.Path, ',')))
			}
		default:
			return "", nil, rat.Errorf(rat.EINVALID, "%s: unsupported format", f.Source())
		}
	}
	if len(parts) == 0 {
		return "", nil, rat.Errorf(rat.EINVALID, "the files hold no data")
	}
	return strings.Join(parts, "\nUNION ALL BY NAME\n"), rejected, nil
}

// InspectFiles checks files before DuckDB reads them (Inspect) and splits
// them into those with rows and those without (a CSV header line only, a
// Parquet file of 0 rows, a JSON "[]"). A file of 0 bytes or a damaged
// Parquet file is an error that names it by its zone path. Read the files
// with rows; read the others only when none has rows (their columns then
// shape a new table), since read beside typed files, a header line's untyped
// columns widen every type to VARCHAR.
func InspectFiles(files []File) (rows, empty []File, err error) {
	for _, f := range files {
		f.Contents = HasRows
		if f.Format != "excel" {
			if f.Contents, err = Inspect(f.Local, f.Format); err != nil {
				return nil, nil, relabel(err, f)
			}
		}
		if f.Contents == HasRows {
			rows = append(rows, f)
		} else {
			empty = append(empty, f)
		}
	}
	return rows, empty, nil
}

// Typed reports whether files without rows still give their columns'
// types: Parquet files do, a CSV header line or an empty JSON array not.
func Typed(empty []File) bool {
	for _, f := range empty {
		if f.Format != "parquet" {
			return false
		}
	}
	return true
}

// ExplainFiles turns a failed read of files into an error that names the
// file (by its Source: a landing file by its zone path) and the line of the
// first malformed CSV record (DuckDB's own message may name neither), or
// the Parquet file DuckDB could not decode; otherwise it returns err.
func ExplainFiles(files []File, err error) error {
	var parquet []string
	source := map[string]string{}
	for _, f := range files {
		if f.Format == "parquet" {
			parquet = append(parquet, f.Local)
			source[f.Local] = f.Source()
		}
		if f.Format != "csv" {
			continue
		}
		if cerr := CheckCSV(f.Local, Delimiter(f.Name)); cerr != nil {
			return relabel(cerr, f)
		}
	}
	if perr := explainParquet(parquet, func(p string) string { return source[p] }, err); perr != nil {
		return perr
	}
	return err
}

// relabel names a landing file by its zone path rather than its local copy.
func relabel(err error, f File) error {
	if f.Local == f.Source() {
		return err
	}
	msg := strings.Replace(err.Error(), f.Local, f.Source(), 1)
	return rat.Errorf(rat.ErrorCode(err), "%s", msg)
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
