package lake

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// preservesOrder says whether every field of spec has a transform whose
// value a file's column statistics give (iceberg-go infers those).
func preservesOrder(spec iceberg.PartitionSpec) bool {
	for _, f := range spec.Fields() {
		if !f.Transform.PreservesOrder() {
			return false
		}
	}
	return true
}

// hiveNull is the directory value DuckDB writes for a NULL partition value.
const hiveNull = "__HIVE_DEFAULT_PARTITION__"

// dataFile describes a written file as an Iceberg data file. The values of
// partition fields that statistics cannot give (bucket) come from the
// directory DuckDB wrote the file into (__rat_p<i>=<value>, see writeFiles);
// the others iceberg-go infers from the file's statistics.
//
// With known set, the file's partition values are those (rows of one
// partition, rewritten).
func dataFile(tbl *table.Table, schema *iceberg.Schema, stage, local, loc string, size int64, known map[int]any) (iceberg.DataFile, error) {
	rel, err := filepath.Rel(stage, filepath.Dir(local))
	if err != nil {
		return nil, err
	}
	dirs := map[string]string{}
	for _, seg := range strings.Split(filepath.ToSlash(rel), "/") {
		if k, v, ok := strings.Cut(seg, "="); ok {
			dirs[k] = v
		}
	}
	spec := tbl.Spec()
	values := map[int]any{}
	for i, f := range spec.Fields() {
		if v, ok := known[f.FieldID]; ok {
			if v != nil {
				values[f.FieldID] = v
			}
			continue
		}
		if !f.Transform.PreservesOrder() {
			v, ok := dirs[fmt.Sprintf("__rat_p%d", i)]
			if !ok {
				return nil, fmt.Errorf("file %s: no value for partition field %s", local, f.Name)
			}
			if v != hiveNull {
				n, err := strconv.ParseInt(v, 10, 32)
				if err != nil {
					return nil, fmt.Errorf("file %s: partition field %s: %w", local, f.Name, err)
				}
				values[f.FieldID] = int32(n)
			}
		}
	}
	rdr, err := file.OpenParquetFile(local, false)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", local, err)
	}
	defer rdr.Close()
	return table.DataFileFromMetadata(table.DataFileArgs{
		Schema:          schema,
		Spec:            spec,
		Format:          iceberg.ParquetFile,
		Metadata:        rdr.MetaData(),
		FilePath:        loc,
		FileSize:        size,
		Content:         iceberg.EntryContentData,
		PartitionValues: values,
		SortOrderID:     tbl.SortOrder().OrderID(),
		Properties:      tbl.Properties(),
		FormatVersion:   tbl.Metadata().Version(),
	})
}

// replaceFiles replaces the files at paths old with the new files: by path
// (iceberg-go reads them) or, when dfs is set, as the data files given.
func replaceFiles(ctx context.Context, tx *table.Transaction, tbl *table.Table, old, urls []string, dfs []iceberg.DataFile, props iceberg.Properties) error {
	if dfs == nil {
		return tx.ReplaceDataFiles(ctx, old, urls, props)
	}
	want := make(map[string]bool, len(old))
	for _, p := range old {
		want[p] = true
	}
	var gone []iceberg.DataFile
	if snap := tbl.Metadata().CurrentSnapshot(); snap != nil {
		fs, err := tbl.FS(ctx)
		if err != nil {
			return err
		}
		manifests, err := snap.Manifests(fs)
		if err != nil {
			return err
		}
		for _, m := range manifests {
			entries, err := m.FetchEntries(fs, true)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if want[e.DataFile().FilePath()] {
					gone = append(gone, e.DataFile())
				}
			}
		}
	}
	if len(gone) != len(want) {
		return fmt.Errorf("%d of the %d files to replace are not in the table", len(want)-len(gone), len(want))
	}
	return tx.ReplaceDataFilesWithDataFiles(ctx, gone, dfs, props)
}
