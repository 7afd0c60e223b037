// Package resttest holds what the tests of rat's Iceberg REST catalog do
// as an independent client would: read a table's rows with iceberg-go's
// own scan, and append rows through iceberg-go's transaction (it writes
// the data files, the catalog commits).
package resttest

import (
	"context"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"
)

// Rows reads every row of tbl's current snapshot with iceberg-go's scan,
// each as its columns' text joined by "|" (NULL for null), sorted.
func Rows(ctx context.Context, tbl *table.Table) ([]string, error) {
	at, err := tbl.Scan().ToArrowTable(ctx)
	if err != nil {
		return nil, err
	}
	defer at.Release()
	rows := make([]string, at.NumRows())
	for c := 0; c < int(at.NumCols()); c++ {
		i := 0
		for _, chunk := range at.Column(c).Data().Chunks() {
			for j := 0; j < chunk.Len(); j++ {
				v := "NULL"
				if !chunk.IsNull(j) {
					v = chunk.ValueStr(j)
				}
				if c > 0 {
					rows[i] += "|"
				}
				rows[i] += v
				i++
			}
		}
	}
	slices.Sort(rows)
	return rows, nil
}

// Append appends rows, a JSON array of objects by column name, to tbl as
// it was loaded (maybe stale: iceberg-go reloads and retries when the
// catalog answers 409) and commits through tbl's catalog.
func Append(ctx context.Context, tbl *table.Table, rowsJSON string) error {
	sc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		return err
	}
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, sc, strings.NewReader(rowsJSON))
	if err != nil {
		return err
	}
	defer rec.Release()
	at := array.NewTableFromRecords(sc, []arrow.RecordBatch{rec})
	defer at.Release()
	txn := tbl.NewTransaction()
	if err := txn.AppendTable(ctx, at, 1024, nil); err != nil {
		return err
	}
	_, err = txn.Commit(ctx)
	return err
}
