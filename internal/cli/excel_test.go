package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

func TestIngestExcel(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	f := excelize.NewFile()
	f.SetSheetName("Sheet1", "Sales")
	for i, row := range [][]any{{"id", "amount"}, {1, 10.5}, {2, 3}} {
		for j, v := range row {
			cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
			f.SetCellValue("Sales", cell, v)
		}
	}
	if _, err := f.NewSheet("Q2 Budget"); err != nil {
		t.Fatal(err)
	}
	f.SetCellValue("Q2 Budget", "A1", "team")
	f.SetCellValue("Q2 Budget", "A2", "data")
	if err := f.SaveAs(filepath.Join(u.dir, "book.xlsx")); err != nil {
		t.Fatal(err)
	}
	out := u.ok("ingest", "book.xlsx", "--into", "bronze.book")
	if !strings.Contains(out, "bronze.book_sales") || !strings.Contains(out, "bronze.book_q2_budget") {
		t.Fatalf("one table per sheet:\n%s", out)
	}
	if got := u.ok("query", "SELECT sum(amount) AS s FROM bronze.book_sales", "--format", "csv"); strings.TrimSpace(got) != "s\n13.5" {
		t.Fatalf("sales sheet: %s", got)
	}
	u.ok("ingest", "book.xlsx", "--sheet", "sales", "--into", "bronze.only")
	if n := u.count("bronze.only"); n != "2" {
		t.Fatalf("--sheet: %s rows", n)
	}
	line := u.fails(`no sheet "Salse"`, "ingest", "book.xlsx", "--sheet", "Salse", "--into", "bronze.x")
	if !strings.Contains(line, `did you mean "Sales"`) {
		t.Fatalf("wrong sheet error should suggest: %s", line)
	}
}
