package ingest

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/ratdata/rat"
)

// Files named on the command line (rat load, rat ingest): globs, checks,
// formats. PlainSQL reads them (rat load); ReadSQL with lineage columns (rat ingest).

// ExpandFiles resolves globs, checks that every file exists and returns
// their absolute paths.
func ExpandFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		if strings.ContainsAny(a, "*?[") {
			matches, err := filepath.Glob(a)
			if err != nil {
				return nil, rat.Errorf(rat.EINVALID, "bad pattern %q: %s", a, err.Error())
			}
			if len(matches) == 0 {
				return nil, rat.Errorf(rat.ENOTFOUND, "no file matches %q: check the path and quoting", a)
			}
			files = append(files, matches...)
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			abs, _ := filepath.Abs(a)
			return nil, rat.Errorf(rat.ENOTFOUND, "file %s not found (looked at %s): check the path", a, abs)
		}
		if st.IsDir() {
			return nil, rat.Errorf(rat.EINVALID, "%s is a directory: pass files, or a pattern like '%s/*.csv'", a, strings.TrimSuffix(a, "/"))
		}
		files = append(files, a)
	}
	for i, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		files[i] = abs
	}
	return files, nil
}

// ExpandInputs is ExpandFiles that also accepts directories (their files,
// not recursively, hidden ones skipped).
func ExpandInputs(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if st, err := os.Stat(a); err == nil && st.IsDir() {
			entries, err := os.ReadDir(a)
			if err != nil {
				return nil, err
			}
			n := 0
			for _, e := range entries {
				if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
					out = append(out, filepath.Join(a, e.Name()))
					n++
				}
			}
			if n == 0 {
				return nil, rat.Errorf(rat.ENOTFOUND, "directory %s holds no files", a)
			}
			continue
		}
		out = append(out, a)
	}
	return ExpandFiles(out)
}

// PathFiles describes files given by path for a plain read (rat load):
// named by their paths, in the format that format names (csv, json or
// parquet), or when it is "", the one their extensions tell, which must be
// the same for all. Unlike LocalFiles it reads no file (no content hash).
func PathFiles(paths []string, format string) ([]File, error) {
	if format != "" {
		switch format {
		case "csv", "json", "parquet":
		default:
			return nil, rat.Errorf(rat.EINVALID, "--format %q: want csv, json or parquet", format)
		}
	}
	files := make([]File, len(paths))
	for i, p := range paths {
		f := format
		if format == "" {
			ff, err := Format(p)
			if err != nil {
				return nil, rat.Errorf(rat.EINVALID, "cannot tell the format of %s from its extension: add --format csv|json|parquet", p)
			}
			if i > 0 && ff != files[0].Format {
				return nil, rat.Errorf(rat.EINVALID, "files mix formats (%s and %s): load each format separately", files[0].Format, ff)
			}
			f = ff
		}
		files[i] = File{Name: p, Format: f, Local: p}
	}
	return files, nil
}

// Emptiness says what a file without rows holds, for messages: "no
// records" (JSON without any), "a header line only, no rows" (CSV), else
// "no rows". InspectFiles finds it out.
func (f File) Emptiness() string {
	switch {
	case f.Contents == NoRecords:
		return "no records"
	case f.Format == "csv":
		return "a header line only, no rows"
	}
	return "no rows"
}

// EmptySummary says which files hold no rows: "a.csv holds a header line
// only, no rows", or "a.csv, b.json hold no rows".
func EmptySummary(empty []File) string {
	if len(empty) == 1 {
		return filepath.Base(empty[0].Name) + " holds " + empty[0].Emptiness()
	}
	names := make([]string, len(empty))
	for i, f := range empty {
		names[i] = filepath.Base(f.Name)
	}
	return strings.Join(names, ", ") + " hold no rows"
}

// PlainSQL is the DuckDB SELECT that reads files (rat load) with their own
// columns only, by name, without ReadSQL's _source_file and _ingested_at:
// files of one format; CSV files strictly and with one delimiter (a
// malformed line fails the read, and ExplainFiles names it); JSON and
// Parquet files in one scan over the list.
func PlainSQL(files []File) (string, error) {
	if len(files) == 0 {
		return "", rat.Errorf(rat.EINVALID, "no files to read")
	}
	format := files[0].Format
	quoted := make([]string, len(files))
	for i, f := range files {
		if f.Format != format {
			return "", rat.Errorf(rat.EINVALID, "files mix formats (%s and %s): load each format separately", format, f.Format)
		}
		quoted[i] = quote(f.Local)
	}
	list := "[" + strings.Join(quoted, ", ") + "]"
	switch format {
	case "csv":
		delim := Delimiter(files[0].Name)
		parts := make([]string, len(files))
		for i, f := range files {
			if Delimiter(f.Name) != delim {
				return "", rat.Errorf(rat.EINVALID, "files mix CSV and TSV: load each kind separately")
			}
			parts[i] = "SELECT * FROM " + CSVRead(f.Local, delim)
		}
		return strings.Join(parts, " UNION ALL BY NAME "), nil
	case "json":
		return "SELECT * FROM read_json_auto(" + list + ", union_by_name = true)", nil
	case "parquet":
		return "SELECT * FROM read_parquet(" + list + ", union_by_name = true)", nil
	}
	return "", rat.Errorf(rat.EINVALID, "--format %q: want csv, json or parquet", format)
}
