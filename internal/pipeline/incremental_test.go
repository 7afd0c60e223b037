package pipeline

import (
	"context"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/lake"
)

// TestIncrementalEqualsFullRebuild: after a full build, a 1 % batch with
// changed keys gives exactly the table a full rebuild gives on the same
// inputs, and rewrites only the files that hold affected keys.
func TestIncrementalEqualsFullRebuild(t *testing.T) {
	e := newEnv(t, map[string]string{
		"pipelines/silver/t.sql": `-- @materialized: incremental
-- @unique_key: id
-- @watermark_column: updated_at
-- @partition_by: day(ts)
SELECT id, ts, v, updated_at FROM {{ ref('bronze.src') }}
{% if is_incremental() %}WHERE updated_at > '{{ watermark("updated_at") }}'{% endif %}
`,
	})
	const base = `SELECT range AS id, TIMESTAMP '2024-01-01' + to_days(CAST(range % 20 AS INTEGER)) AS ts,
		'v' || range AS v, TIMESTAMP '2024-02-01' AS updated_at FROM range(10000)`
	e.load("bronze.src", base)
	if res := e.run(Options{}, 2, nil); res.Status != StatusSuccess {
		t.Fatalf("full build: %+v", res.Nodes)
	}
	ctx := context.Background()
	id := rat.TableID{Layer: "silver", Name: "t"}
	files := func(ref string) map[string]bool {
		r, err := e.lake.Resolve(ctx, ref, id, lake.At{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, f := range r.Files {
			out[f.Location] = true
		}
		return out
	}
	before := files("main")
	if len(before) != 20 {
		t.Fatalf("%d files, want 20 (one per day)", len(before))
	}
	// 1 %: 100 keys of two days change.
	e.load("bronze.src", `SELECT id, ts, CASE WHEN id % 20 IN (3, 7) AND id < 1000 THEN 'changed' || id ELSE v END AS v,
		CASE WHEN id % 20 IN (3, 7) AND id < 1000 THEN TIMESTAMP '2024-03-01' ELSE updated_at END AS updated_at
		FROM (`+base+`)`)
	if err := e.lake.Store().CreateRef(ctx, rat.Ref{Name: "full", Kind: rat.Branch, Head: e.head("main")}); err != nil {
		t.Fatal(err)
	}
	res := e.run(Options{}, 2, nil)
	if res.Status != StatusSuccess || res.Nodes[0].Kind != "incremental/merge" || res.Nodes[0].Rows != 100 {
		t.Fatalf("incremental run: %+v", res.Nodes)
	}
	after := files("main")
	kept := 0
	for f := range after {
		if before[f] {
			kept++
		}
	}
	if kept != 18 || len(after) != 20 {
		t.Fatalf("files: %d after, %d untouched; want 20 with 18 untouched (only two days held changed keys)", len(after), kept)
	}
	if res := e.run(Options{Target: "full", FullRefresh: true}, 2, nil); res.Status != StatusSuccess || res.Nodes[0].Kind != "incremental/full" {
		t.Fatalf("full refresh: %+v", res.Nodes)
	}
	digest := "SELECT count(*), sum(hash(id, ts, v, updated_at)) FROM silver.t"
	inc, full := e.query("main", digest), e.query("full", digest)
	if inc[0] != full[0] || inc[0] == "" {
		t.Fatalf("incremental %v != full rebuild %v", inc, full)
	}
	if n := e.query("main", "SELECT count(*) FROM silver.t WHERE v LIKE 'changed%'")[0]; n != "100" {
		t.Fatalf("changed rows: %s", n)
	}
}
