package ingest

import (
	"testing"

	"github.com/ratdata/rat"
)

func TestTargets(t *testing.T) {
	t.Parallel()
	book := writeWorkbook(t) // sheets Sales, Second and Empty (no rows)
	id := rat.TableID{Layer: "bronze", Name: "budget"}
	csv := File{Name: "a.csv", Format: "csv", Local: "a.csv"}
	xlsx := File{Name: "b.xlsx", Format: "excel", Local: book}

	got, err := Targets(id, []File{csv, xlsx}, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range got {
		names = append(names, g.Table.String()+"/"+g.Sheet)
	}
	// The other files first, into the table named; a sheet per table.
	if len(got) != 3 || names[0] != "bronze.budget/" || len(got[0].Files) != 1 || got[0].Files[0].Name != "a.csv" ||
		names[1] != "bronze.budget_sales/Sales" || names[2] != "bronze.budget_second/Second" {
		t.Errorf("Targets(csv, workbook) = %v, want bronze.budget (a.csv), then one table per sheet with rows", names)
	}

	// A sheet named: the workbook goes to the table named, with it.
	got, err = Targets(id, []File{xlsx}, "Second", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Table != id || got[0].Sheet != "Second" || got[0].Files[0].Local != book {
		t.Errorf("Targets(workbook, --sheet Second) = %+v, want one target bronze.budget sheet Second", got)
	}
}
