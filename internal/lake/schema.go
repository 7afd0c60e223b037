package lake

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
)

// reconcile maps source columns onto a table schema. Columns missing from
// the source are written as NULL; extra source columns are an error unless
// evolve, in which case they are returned as fields to add; a type change
// is an error.
func reconcile(id rat.TableID, tableSchema *iceberg.Schema, cols []duckdb.Column, evolve bool) (*iceberg.Schema, []iceberg.NestedField, error) {
	byName := map[string]iceberg.NestedField{}
	for _, f := range tableSchema.Fields() {
		byName[strings.ToLower(f.Name)] = f
	}
	srcSchema, err := duckdb.Schema(cols)
	if err != nil {
		return nil, nil, err
	}
	var added []iceberg.NestedField
	var extra []string
	for _, sf := range srcSchema.Fields() {
		tf, ok := byName[strings.ToLower(sf.Name)]
		if !ok {
			extra = append(extra, sf.Name)
			added = append(added, sf)
			continue
		}
		if !compatible(tf.Type, sf.Type) {
			st, _ := duckdb.TypeOf(sf.Type)
			tt, _ := duckdb.TypeOf(tf.Type)
			return nil, nil, rat.Errorf(rat.EINVALID, "column %q is %s in the new data but %s in %s: cast it in the source, or load into a new table", sf.Name, st, tt, id)
		}
	}
	if len(extra) > 0 && !evolve {
		return nil, nil, rat.Errorf(rat.EINVALID, "the new data has columns that %s lacks: %s; add --evolve to add them to the table", id, strings.Join(extra, ", "))
	}
	return tableSchema, added, nil
}

// compatible reports whether data of type src can be written into a column
// of type dst without loss.
func compatible(dst, src iceberg.Type) bool {
	if dst.Equals(src) {
		return true
	}
	switch d := dst.(type) {
	case iceberg.Int64Type:
		_, ok := src.(iceberg.Int32Type)
		return ok
	case iceberg.Float64Type:
		switch src.(type) {
		case iceberg.Float32Type, iceberg.Int32Type, iceberg.Int64Type, iceberg.DecimalType:
			// A CSV column of whole numbers loads into a DOUBLE column.
			return true
		}
	case iceberg.DecimalType:
		if s, ok := src.(iceberg.DecimalType); ok {
			return s.Scale() == d.Scale() && s.Precision() <= d.Precision()
		}
		switch src.(type) {
		case iceberg.Int32Type:
			return d.Precision()-d.Scale() >= 10
		case iceberg.Int64Type:
			return d.Precision()-d.Scale() >= 19
		}
	case iceberg.TimestampTzType:
		_, ok := src.(iceberg.TimestampType)
		return ok
	case iceberg.StringType:
		return false
	case *iceberg.ListType, *iceberg.StructType, *iceberg.MapType:
		return dst.String() == src.String() || structurallyEqual(dst, src)
	}
	return false
}

// structurallyEqual compares nested types ignoring field ids.
func structurallyEqual(a, b iceberg.Type) bool {
	as, _ := duckdb.TypeOf(a)
	bs, _ := duckdb.TypeOf(b)
	return as == bs
}

func describe(ctx context.Context, conn *sql.Conn, source string) ([]duckdb.Column, error) {
	rows, err := conn.QueryContext(ctx, "DESCRIBE "+source)
	if err != nil {
		return nil, duckdb.UserError("read source", err)
	}
	defer rows.Close()
	var cols []duckdb.Column
	_, err = duckdb.EachRow(rows, func(_ []string, vals []any) error {
		cols = append(cols, duckdb.Column{Name: fmt.Sprint(vals[0]), Type: fmt.Sprint(vals[1])})
		return nil
	})
	if err != nil {
		return nil, duckdb.UserError("read source", err)
	}
	return cols, nil
}
