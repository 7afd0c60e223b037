package ingest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/ratdata/rat"
)

// Sheet is one worksheet of a workbook converted to CSV by ExcelToCSV.
type Sheet struct {
	Name string // the sheet's name in the workbook
	Path string // the CSV file written for it
	Rows int    // data rows written, not counting the header
}

// IsExcel reports whether a file name is an Excel workbook rat can read
// (.xlsx or .xlsm).
func IsExcel(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".xlsx", ".xlsm":
		return true
	}
	return false
}

// ExcelToCSV converts the sheets of the workbook at path — all of them, or
// only the one named sheet when sheet is not empty — to CSV files in outDir,
// because DuckDB cannot read .xlsx here. In each file the header is the
// sheet's first non-empty row; every later non-empty row is padded or
// truncated to the header's width. Cells keep Excel's formatted text, except
// numbers, written as plain decimals, and dates and times, written as
// 2006-01-02, 2006-01-02 15:04:05 or 15:04:05 so that DuckDB infers DATE,
// TIMESTAMP and TIME. Sheets without any value are skipped, so the result may
// be empty. An unknown sheet name is an EINVALID error listing the sheets.
func ExcelToCSV(path, sheet, outDir string) ([]Sheet, error) {
	f, err := excelize.OpenFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, rat.Errorf(rat.ENOTFOUND, "open %s: %w", path, err)
		}
		return nil, rat.Errorf(rat.EINVALID, "%s is not a readable Excel workbook (.xlsx, .xlsm): %s; save it again from Excel as .xlsx", path, err.Error())
	}
	defer f.Close()

	names := f.GetSheetList()
	if sheet != "" {
		name, ok := findSheet(names, sheet)
		if !ok {
			return nil, unknownSheet(path, sheet, names)
		}
		names = []string{name}
	}
	date1904 := false
	if props, err := f.GetWorkbookProps(); err == nil && props.Date1904 != nil {
		date1904 = *props.Date1904
	}
	c := &converter{f: f, date1904: date1904, kinds: map[int]fmtKind{}}
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	used := map[string]bool{}
	var out []Sheet
	for _, name := range names {
		rows, err := c.rows(name)
		if err != nil {
			return nil, rat.Errorf(rat.EINVALID, "read sheet %q of %s: %w", name, path, err)
		}
		header, data := splitHeader(rows)
		if header == nil {
			continue
		}
		file := csvName(stem, name, used)
		p := filepath.Join(outDir, file)
		if err := writeCSV(p, header, data); err != nil {
			return nil, rat.Errorf(rat.EINTERNAL, "convert sheet %q of %s: %w", name, path, err)
		}
		out = append(out, Sheet{Name: name, Path: p, Rows: len(data)})
	}
	return out, nil
}

// findSheet returns the workbook's spelling of a sheet name; like Excel, it
// ignores case.
func findSheet(names []string, sheet string) (string, bool) {
	for _, n := range names {
		if strings.EqualFold(n, sheet) {
			return n, true
		}
	}
	return "", false
}

func unknownSheet(path, sheet string, names []string) error {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	hint := ""
	if c := rat.Closest(sheet, names); c != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", c)
	}
	return rat.Errorf(rat.EINVALID, "%s has no sheet %q%s; its sheets are %s", path, sheet, hint, strings.Join(quoted, ", "))
}

// splitHeader returns the first non-empty row as the header (trailing empty
// cells dropped, empty names replaced by columnN) and the non-empty rows after
// it, each padded or truncated to the header's width. A nil header means the
// sheet holds no value.
func splitHeader(rows [][]string) (header []string, data [][]string) {
	start := -1
	for i, r := range rows {
		if !blank(r) {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, nil
	}
	header = rows[start]
	for len(header) > 0 && header[len(header)-1] == "" {
		header = header[:len(header)-1]
	}
	for i, h := range header {
		if h == "" {
			header[i] = "column" + strconv.Itoa(i+1)
		}
	}
	width := len(header)
	for _, r := range rows[start+1:] {
		if blank(r) {
			continue
		}
		row := make([]string, width)
		copy(row, r)
		data = append(data, row)
	}
	return header, data
}

func blank(row []string) bool {
	for _, v := range row {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// csvName gives each sheet its own file name made of the workbook's stem and
// the sheet's name, with characters unsafe in file names replaced.
func csvName(stem, sheet string, used map[string]bool) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
				return r
			}
			return '_'
		}, s)
	}
	base := clean(stem) + "." + clean(sheet)
	name := base + ".csv"
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("%s_%d.csv", base, i)
	}
	used[name] = true
	return name
}

func writeCSV(path string, header []string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	err = w.Write(header)
	if err == nil {
		err = w.WriteAll(rows) // flushes, and reports any earlier write error
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// fmtKind classifies a number format: what a numeric cell shown with it is.
type fmtKind int

const (
	kindNumber fmtKind = iota
	kindDate
	kindTime
	kindDateTime
)

// converter reads cells of one workbook, caching the kind of each style.
type converter struct {
	f        *excelize.File
	date1904 bool
	kinds    map[int]fmtKind // style index → kind of its number format
}

// rows returns a sheet's cells as text: formatted as Excel shows them where
// the formatted and raw values agree (text, General numbers), and otherwise
// decided by the cell's type and number format.
func (c *converter) rows(sheet string) ([][]string, error) {
	formatted, err := c.f.GetRows(sheet)
	if err != nil {
		return nil, err
	}
	raw, err := c.f.GetRows(sheet, excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, err
	}
	for i, row := range formatted {
		for j, v := range row {
			rv := ""
			if i < len(raw) && j < len(raw[i]) {
				rv = raw[i][j]
			}
			if rv == v {
				continue
			}
			cell, err := excelize.CoordinatesToCellName(j+1, i+1)
			if err != nil {
				return nil, err
			}
			if row[j], err = c.value(sheet, cell, rv, v); err != nil {
				return nil, fmt.Errorf("cell %s: %w", cell, err)
			}
		}
	}
	return formatted, nil
}

// value decides the text of a cell whose raw and formatted values differ.
func (c *converter) value(sheet, cell, raw, formatted string) (string, error) {
	typ, err := c.f.GetCellType(sheet, cell)
	if err != nil {
		return "", err
	}
	switch typ {
	case excelize.CellTypeDate: // an ISO 8601 value stored as t="d"
		return isoDate(raw, formatted), nil
	case excelize.CellTypeNumber, excelize.CellTypeUnset:
	default: // booleans, errors, strings: as Excel shows them
		return formatted, nil
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	if err != nil {
		return formatted, nil
	}
	style, err := c.f.GetCellStyle(sheet, cell)
	if err != nil {
		return "", err
	}
	kind, err := c.kind(style)
	if err != nil {
		return "", err
	}
	if kind == kindNumber || n < 0 {
		return plainNumber(raw, n), nil
	}
	t, err := excelize.ExcelDateToTime(n, c.date1904)
	if err != nil {
		return formatted, nil
	}
	t = t.Round(time.Second)
	switch {
	case kind == kindTime:
		return t.Format("15:04:05"), nil
	case kind == kindDate && t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0:
		return t.Format("2006-01-02"), nil
	}
	// A date-only format over a value with a time of day would hide it:
	// keep the time rather than lose data.
	return t.Format("2006-01-02 15:04:05"), nil
}

// plainNumber writes a number as plain decimal text: the raw value when it
// already is one (keeping every digit Excel stored), otherwise the shortest
// decimal that round-trips.
func plainNumber(raw string, n float64) string {
	raw = strings.TrimSpace(raw)
	if !strings.ContainsAny(raw, "eE") {
		return raw
	}
	return strconv.FormatFloat(n, 'f', -1, 64)
}

// isoDate converts the value of a t="d" cell, an ISO 8601 text, to rat's
// date or timestamp text; anything else stays as Excel shows it.
func isoDate(raw, formatted string) string {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		t, err := time.Parse(layout, strings.TrimSpace(raw))
		if err != nil {
			continue
		}
		if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
			return t.Format("2006-01-02")
		}
		return t.Format("2006-01-02 15:04:05")
	}
	return formatted
}

// kind returns the kind of the number format of a style, cached.
func (c *converter) kind(style int) (fmtKind, error) {
	if k, ok := c.kinds[style]; ok {
		return k, nil
	}
	s, err := c.f.GetStyle(style)
	if err != nil {
		return kindNumber, err
	}
	var k fmtKind
	if s.CustomNumFmt != nil {
		k = classifyNumFmt(*s.CustomNumFmt)
	} else {
		k = builtinKind(s.NumFmt)
	}
	c.kinds[style] = k
	return k, nil
}

// builtinKind classifies Excel's built-in number formats (ECMA-376 §18.8.30;
// 27–36 and 50–58 are the East Asian date formats).
func builtinKind(id int) fmtKind {
	switch {
	case id >= 14 && id <= 17, id >= 27 && id <= 31, id >= 34 && id <= 36, id >= 50 && id <= 58:
		return kindDate
	case id == 22:
		return kindDateTime
	case id >= 18 && id <= 21, id >= 32 && id <= 33, id >= 45 && id <= 47:
		return kindTime
	}
	return kindNumber
}

// classifyNumFmt tells from a custom number format code whether it shows a
// date, a time or both. Only the first section (before ';') is read, and
// quoted text, escaped characters, colours, locales and AM/PM are ignored.
func classifyNumFmt(code string) fmtKind {
	code = strings.ToLower(code)
	if i := strings.IndexByte(code, ';'); i >= 0 {
		code = code[:i]
	}
	var date, clock bool
	for i := 0; i < len(code); i++ {
		switch ch := code[i]; ch {
		case '"':
			if j := strings.IndexByte(code[i+1:], '"'); j >= 0 {
				i += j + 1
			} else {
				i = len(code)
			}
		case '\\', '_', '*':
			i++ // the next character is literal or padding
		case '[':
			j := strings.IndexByte(code[i:], ']')
			if j < 0 {
				return kindNumber
			}
			switch strings.Trim(code[i+1:i+j], "hms") {
			case "": // [h], [mm], [ss]: elapsed time
				clock = true
			}
			i += j
		case 'a':
			if strings.HasPrefix(code[i:], "am/pm") {
				clock, i = true, i+4
			} else if strings.HasPrefix(code[i:], "a/p") {
				clock, i = true, i+2
			}
		case 'g':
			if strings.HasPrefix(code[i:], "general") {
				i += 6
			}
		case 'e':
			if i+1 < len(code) && (code[i+1] == '+' || code[i+1] == '-') {
				i++ // scientific notation, not the era year
			} else {
				date = true
			}
		case 'y', 'd':
			date = true
		case 'h', 's':
			clock = true
		case 'm':
			// m is a month unless it sits with hours or seconds; a format with
			// only m and no other date part is taken as minutes below.
			date = date || !strings.ContainsAny(code, "hs")
		}
	}
	switch {
	case date && clock:
		return kindDateTime
	case date:
		return kindDate
	case clock:
		return kindTime
	}
	return kindNumber
}

// ExcelSheets lists the sheets of a workbook that hold data.
func ExcelSheets(path, tmpDir string) ([]string, error) {
	dir, err := os.MkdirTemp(tmpDir, "sheets-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	sheets, err := ExcelToCSV(path, "", dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(sheets))
	for i, s := range sheets {
		names[i] = s.Name
	}
	return names, nil
}

// SheetTable names the table a sheet goes to when a workbook's sheets are
// ingested one table each: <name>_<sheet>, in identifier form.
func SheetTable(id rat.TableID, sheet string) rat.TableID {
	var b strings.Builder
	for _, r := range strings.ToLower(sheet) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return rat.TableID{Layer: id.Layer, Name: id.Name + "_" + strings.Trim(b.String(), "_")}
}
