package ingest

import "github.com/ratdata/rat"

// Target is one table an ingest writes, with the files it reads and, for a
// workbook, the sheet.
type Target struct {
	Table rat.TableID
	Files []File
	Sheet string
}

// Targets splits the files of 'rat ingest --into id' into the tables they
// go to: a workbook with several sheets, without a sheet named, gives one
// table per sheet (<table>_<sheet>, see SheetTable); every other file goes
// to id, first. tmp is where workbooks are converted.
func Targets(id rat.TableID, files []File, sheet, tmp string) ([]Target, error) {
	var targets []Target
	var rest []File
	for _, f := range files {
		if f.Format != "excel" || sheet != "" {
			rest = append(rest, f)
			continue
		}
		sheets, err := ExcelSheets(f.Local, tmp)
		if err != nil {
			return nil, err
		}
		if len(sheets) <= 1 {
			rest = append(rest, f)
			continue
		}
		for _, s := range sheets {
			targets = append(targets, Target{SheetTable(id, s), []File{f}, s})
		}
	}
	if len(rest) > 0 {
		targets = append([]Target{{id, rest, sheet}}, targets...)
	}
	return targets, nil
}
