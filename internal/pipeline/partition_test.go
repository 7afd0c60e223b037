package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ratdata/rat"
)

// TestLayerPartitioning: layers.<layer>.partition_by (the original's list
// form) partitions a pipeline's table by several fields with Iceberg
// transforms; queries answer as over an unpartitioned copy; changing the
// setting evolves the spec for new files while old files keep theirs.
func TestLayerPartitioning(t *testing.T) {
	const body = `-- @materialized: incremental
-- @merge_strategy: append
-- @watermark_column: id
SELECT id, ts, region, v FROM {{ ref('bronze.src') }}
{% if is_incremental() %}WHERE id > {{ watermark("id") }}{% endif %}
`
	e := newEnv(t, map[string]string{
		"pipelines/silver/p.sql":  body,
		"pipelines/gold/flat.sql": strings.Replace(body, "silver", "gold", 1),
	})
	setLayers := func(yaml string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(e.dir, "workspace.yaml"), []byte("name: test\nlayers:\n"+yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setLayers("  silver:\n    partition_by: [region, day(ts), bucket(4, id)]\n")
	src := func(n int) string {
		return `SELECT range AS id, TIMESTAMP '2024-01-01' + to_hours(CAST(range * 5 AS INTEGER)) AS ts,
			['n', 's', 'e'][range % 3 + 1] AS region, range * 3 AS v FROM range(` + strconv.Itoa(n) + `)`
	}
	e.load("bronze.src", src(600))
	if res := e.run(Options{}, 2, nil); res.Status != StatusSuccess {
		t.Fatalf("first run: %+v", res.Nodes)
	}
	ctx := context.Background()
	id := rat.TableID{Layer: "silver", Name: "p"}
	info, err := e.lake.Describe(ctx, "main", id, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"region", "ts_day", "day", "id_bucket_4", "bucket[4]"} {
		if !strings.Contains(info.Partition, want) {
			t.Fatalf("spec %s lacks %s", info.Partition, want)
		}
	}
	if info.PartitionSpecID != 0 || info.Partitions != info.DataFiles || info.DataFiles < 3*125 {
		t.Fatalf("spec id %d, %d files in %d partitions: want spec 0 and one file per partition", info.PartitionSpecID, info.DataFiles, info.Partitions)
	}
	same := func(step string) {
		t.Helper()
		for _, q := range []string{
			"SELECT count(*), sum(v), min(ts), max(ts) FROM %s",
			"SELECT count(*), sum(v) FROM %s WHERE region = 's' AND ts >= TIMESTAMP '2024-01-20' AND id % 4 = 1",
			"SELECT region, CAST(ts AS DATE) AS d, count(*), sum(v) FROM %s WHERE id IN (7, 99, 598, 650) GROUP BY ALL ORDER BY ALL",
		} {
			got, want := e.query("main", strings.ReplaceAll(q, "%s", "silver.p")), e.query("main", strings.ReplaceAll(q, "%s", "gold.flat"))
			if strings.Join(got, ";") != strings.Join(want, ";") || len(got) == 0 {
				t.Fatalf("%s: %s: partitioned %v, unpartitioned %v", step, q, got, want)
			}
		}
	}
	same("first run")

	// The setting changes: new files get the new spec, old ones keep theirs.
	setLayers("  silver:\n    partition_by:\n      - month(ts)\n      - bucket(8, id)\n")
	e.load("bronze.src", src(700))
	if res := e.run(Options{}, 2, nil); res.Status != StatusSuccess {
		t.Fatalf("second run: %+v", res.Nodes)
	}
	tbl, err := e.lake.Load(ctx, "main", id)
	if err != nil {
		t.Fatal(err)
	}
	meta := tbl.Metadata()
	if len(meta.PartitionSpecs()) != 2 || meta.DefaultPartitionSpec() != 1 {
		t.Fatalf("specs %v (default %d): want a second spec, the default", meta.PartitionSpecs(), meta.DefaultPartitionSpec())
	}
	if s := meta.PartitionSpec(); !strings.Contains(s.String(), "bucket[8]") || strings.Contains(s.String(), "region") {
		t.Fatalf("new spec = %s", s.String())
	}
	bySpec := map[int32]int{}
	fs, err := tbl.FS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	manifests, err := meta.CurrentSnapshot().Manifests(fs)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range manifests {
		bySpec[m.PartitionSpecID()]++
	}
	if bySpec[0] == 0 || bySpec[1] == 0 {
		t.Fatalf("manifests by spec id: %v, want old files under spec 0 and new under spec 1", bySpec)
	}
	same("after the change")
	info, err = e.lake.Describe(ctx, "main", id, false)
	if err != nil || info.PartitionSpecID != 1 {
		t.Fatalf("describe: spec id %d, %v", info.PartitionSpecID, err)
	}

	// A column the table lacks is one error naming the key.
	setLayers("  silver:\n    partition_by: [day(nope)]\n")
	e.load("bronze.src", src(710))
	res := e.run(Options{Selectors: []string{"silver.p"}}, 2, nil)
	if res.Status == StatusSuccess || !strings.Contains(res.Nodes[0].Error, `workspace.yaml:4: layers.silver.partition_by: partition day(nope): "nope" is not a column of silver.p`) {
		t.Fatalf("missing column: %+v", res.Nodes)
	}
	// And a transform that does not fit the column's type.
	setLayers("  silver:\n    partition_by: [month(region)]\n")
	res = e.run(Options{Selectors: []string{"silver.p"}}, 2, nil)
	if res.Status == StatusSuccess || !strings.Contains(res.Nodes[0].Error, "layers.silver.partition_by: partition month(region): transform month does not apply to column region") {
		t.Fatalf("bad type: %+v", res.Nodes)
	}
}
