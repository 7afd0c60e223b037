package app

import (
	"fmt"
	"testing"

	"github.com/ratdata/rat/internal/lake/laketest"
	"github.com/ratdata/rat/internal/workspace"
)

// TestRetentionPolicies: a layer's retention covers its tables, a
// pipeline's own retention_days and retention_column win (the other taken
// from its layer), a column without days anywhere deletes nothing, and
// each setting carries the file:line: key it came from.
func TestRetentionPolicies(t *testing.T) {
	dir := t.TempDir()
	laketest.WriteFiles(t, dir, map[string]string{
		"workspace.yaml": "name: r\nlayers:\n  bronze:\n    retention_days: 30\n    retention_column: ts\n  silver:\n    partition_by: day(ts)\n",
		// Days of its own, the layer's column.
		"pipelines/bronze/a/pipeline.sql": "SELECT 1 AS x\n",
		"pipelines/bronze/a/config.yaml":  "retention_days: 7\n",
		// A column of its own, the layer's days.
		"pipelines/bronze/b/pipeline.sql": "SELECT 1 AS x\n",
		"pipelines/bronze/b/config.yaml":  "description: b\nretention_column: day\n",
		// A column, but no days here or in its layer: no policy.
		"pipelines/silver/c/pipeline.sql": "SELECT 1 AS x\n",
		"pipelines/silver/c/config.yaml":  "retention_column: day\n",
		// Nothing of its own: the layer's policy covers it.
		"pipelines/bronze/d.sql": "SELECT 1 AS x\n",
	})
	ws, err := workspace.Load(dir, workspace.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range RetentionPolicies(ws) {
		got = append(got, fmt.Sprintf("%s|%s|%d|%s|%s|%s", p.Layer, p.Table, p.Days, p.Column, p.From, p.ColumnFrom))
	}
	want := []string{
		"bronze|.|30|ts|workspace.yaml:4: layers.bronze.retention_days|workspace.yaml:5: layers.bronze.retention_column",
		"|bronze.a|7|ts|pipelines/bronze/a/config.yaml:1: retention_days|workspace.yaml:5: layers.bronze.retention_column",
		"|bronze.b|30|day|workspace.yaml:4: layers.bronze.retention_days|pipelines/bronze/b/config.yaml:2: retention_column",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("policies:\n%q\nwant\n%q", got, want)
	}
}
