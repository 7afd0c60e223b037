package ingest

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/ratdata/rat"
)

// writeWorkbook saves a workbook with the sheets "Sales" (typed values, a
// header on row 2, a blank row, short and long rows), "Second" and "Empty".
func writeWorkbook(t *testing.T) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	style := func(s *excelize.Style) int {
		t.Helper()
		id, err := f.NewStyle(s)
		must(err)
		return id
	}
	must(f.SetSheetName("Sheet1", "Sales"))
	thousands := style(&excelize.Style{NumFmt: 4}) // #,##0.00
	percent := style(&excelize.Style{NumFmt: 9})   // 0%
	isoStamp := "yyyy-mm-dd hh:mm:ss"
	stamp := style(&excelize.Style{CustomNumFmt: &isoStamp})
	clock := "hh:mm"
	clockStyle := style(&excelize.Style{CustomNumFmt: &clock})
	usDate := style(&excelize.Style{NumFmt: 14}) // mm-dd-yy

	// Row 1 stays empty: the header is the first non-empty row.
	must(f.SetSheetRow("Sales", "A2", &[]any{"id", "name", "amount", "sold_on", "sold_at", "share", "opens", "ok", ""}))
	must(f.SetSheetRow("Sales", "A3", &[]any{1, `Smith, "Jo"`, 1234.5, time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 3, 15, 13, 45, 30, 0, time.UTC), 0.25, 0.5, true}))
	must(f.SetCellStyle("Sales", "C3", "C3", thousands))
	must(f.SetCellStyle("Sales", "E3", "E3", stamp))
	must(f.SetCellStyle("Sales", "F3", "F3", percent))
	must(f.SetCellStyle("Sales", "G3", "G3", clockStyle))
	// Row 4: an empty cell (C4), a date with an explicit US format, and a
	// value beyond the header's width.
	must(f.SetSheetRow("Sales", "A4", &[]any{2, "line\nbreak"}))
	must(f.SetCellValue("Sales", "D4", 45000))
	must(f.SetCellStyle("Sales", "D4", "D4", usDate))
	must(f.SetCellValue("Sales", "K4", "beyond"))
	// Row 5 is blank; row 6 is short and carries a big and a tiny number.
	must(f.SetSheetRow("Sales", "A6", &[]any{3, "", 1e20}))
	must(f.SetCellValue("Sales", "F6", 0.000001))

	_, err := f.NewSheet("Second")
	must(err)
	must(f.SetSheetRow("Second", "A1", &[]any{"a", "b"}))
	must(f.SetSheetRow("Second", "A2", &[]any{"x", -7}))
	_, err = f.NewSheet("Empty")
	must(err)

	p := filepath.Join(t.TempDir(), "book.xlsx")
	must(f.SaveAs(p))
	return p
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s is not valid CSV: %v", path, err)
	}
	return rows
}

func TestExcelToCSV(t *testing.T) {
	t.Parallel()
	book := writeWorkbook(t)
	out := t.TempDir()
	sheets, err := ExcelToCSV(book, "", out)
	if err != nil {
		t.Fatal(err)
	}
	if len(sheets) != 2 {
		t.Fatalf("got %d sheets %+v, want Sales and Second (Empty skipped)", len(sheets), sheets)
	}

	t.Run("values", func(t *testing.T) {
		s := sheets[0]
		if s.Name != "Sales" || s.Rows != 3 || filepath.Dir(s.Path) != out {
			t.Fatalf("sheet = %+v, want Sales with 3 rows in %s", s, out)
		}
		want := [][]string{
			{"id", "name", "amount", "sold_on", "sold_at", "share", "opens", "ok"},
			{"1", `Smith, "Jo"`, "1234.5", "2024-03-15", "2024-03-15 13:45:30", "0.25", "12:00:00", "TRUE"},
			{"2", "line\nbreak", "", "2023-03-15", "", "", "", ""},
			{"3", "", "100000000000000000000", "", "", "0.000001", "", ""},
		}
		if got := readCSV(t, s.Path); !reflect.DeepEqual(got, want) {
			t.Errorf("Sales CSV:\n got %q\nwant %q", got, want)
		}
	})

	t.Run("second sheet", func(t *testing.T) {
		s := sheets[1]
		want := [][]string{{"a", "b"}, {"x", "-7"}}
		if got := readCSV(t, s.Path); s.Name != "Second" || s.Rows != 1 || !reflect.DeepEqual(got, want) {
			t.Errorf("sheet %+v: got %q, want %q", s, got, want)
		}
		if s.Path == sheets[0].Path {
			t.Errorf("both sheets written to %s", s.Path)
		}
	})
}

func TestExcelToCSVNamedSheet(t *testing.T) {
	t.Parallel()
	book := writeWorkbook(t)

	t.Run("found, ignoring case", func(t *testing.T) {
		sheets, err := ExcelToCSV(book, "second", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if len(sheets) != 1 || sheets[0].Name != "Second" {
			t.Fatalf("sheets = %+v, want only Second", sheets)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		out := t.TempDir()
		_, err := ExcelToCSV(book, "Secnd", out)
		if !rat.IsCode(err, rat.EINVALID) {
			t.Fatalf("err = %v (code %s), want EINVALID", err, rat.ErrorCode(err))
		}
		for _, want := range []string{book, `no sheet "Secnd"`, `did you mean "Second"?`, `"Sales", "Second", "Empty"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
		if entries, _ := os.ReadDir(out); len(entries) != 0 {
			t.Errorf("wrote %d files for an unknown sheet", len(entries))
		}
	})
}

func TestExcelToCSVBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notExcel := filepath.Join(dir, "notes.xlsx")
	if err := os.WriteFile(notExcel, []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, code string
	}{
		{"missing", filepath.Join(dir, "nope.xlsx"), rat.ENOTFOUND},
		{"not a workbook", notExcel, rat.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ExcelToCSV(tt.path, "", dir)
			if !rat.IsCode(err, tt.code) || !strings.Contains(err.Error(), tt.path) {
				t.Fatalf("err = %v (code %s), want %s naming %s", err, rat.ErrorCode(err), tt.code, tt.path)
			}
		})
	}
}

func TestIsExcel(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"a.xlsx": true, "B.XLSM": true, "dir/c.Xlsx": true,
		"a.xls": false, "a.csv": false, "xlsx": false, "a.xlsx.gz": false,
	} {
		if got := IsExcel(name); got != want {
			t.Errorf("IsExcel(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestClassifyNumFmt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		want fmtKind
	}{
		{"General", kindNumber},
		{"#,##0.00", kindNumber},
		{"0.00E+00", kindNumber},
		{`0.0 "days"`, kindNumber},
		{"[Red]#,##0;[Blue]-#,##0", kindNumber},
		{"@", kindNumber},
		{"yyyy-mm-dd", kindDate},
		{"[$-409]mmmm d, yyyy;@", kindDate},
		{"mmm-yy", kindDate},
		{"dd/mm/yyyy hh:mm", kindDateTime},
		{"m/d/yy h:mm AM/PM", kindDateTime},
		{"hh:mm", kindTime},
		{"mm:ss", kindTime},
		{"[h]:mm", kindTime},
		{`h "h" mm "m"`, kindTime},
		{`\d0`, kindNumber},
	}
	for _, tt := range tests {
		if got := classifyNumFmt(tt.code); got != tt.want {
			t.Errorf("classifyNumFmt(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
}
