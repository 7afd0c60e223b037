package pipeline

import (
	"context"
	"strings"
	"testing"
)

func TestUnitTests(t *testing.T) {
	e := newEnv(t, map[string]string{
		"pipelines/silver/sales/pipeline.sql": `-- @materialized: incremental
-- @unique_key: id
SELECT id, upper(region) AS region, amount * 2 AS doubled
FROM {{ ref('bronze.raw_sales') }}
WHERE amount > 0
{% if is_incremental() %}AND updated_at > '{{ watermark("updated_at") }}'{% endif %}
`,
		"pipelines/silver/sales/tests/mocks/raw.yaml": `table: bronze.raw_sales
rows:
  - {id: 1, region: north, amount: 10, updated_at: "2024-01-01 00:00:00"}
  - {id: 2, region: south, amount: -1, updated_at: "2024-01-02 00:00:00"}
  - {id: 3, region: east, amount: 5, updated_at: "2024-01-03 00:00:00"}
`,
		"pipelines/silver/sales/tests/unit/expect_rows.sql": `-- @name: doubles_positive_amounts
-- @expect: [{"id": 1, "region": "NORTH", "doubled": 20}, {"id": 3, "region": "EAST", "doubled": 10}]
`,
		"pipelines/silver/sales/tests/unit/count.sql": `-- @name: count_only
-- @expect_count: 2
`,
		"pipelines/silver/sales/tests/unit/incremental.sql": `-- @name: only_new_rows
-- @mode: incremental
-- @watermarks: updated_at=2024-01-02 00:00:00
-- @expect_count: 1
`,
		"pipelines/silver/sales/tests/unit/body.sql": `-- @name: body_select
-- @expect_columns: id
SELECT 1 AS id UNION ALL SELECT 3
`,
		"pipelines/silver/sales/tests/quality/mocked_ok.sql": `-- @name: mocked_no_negative
-- @mocks: raw.yaml
SELECT * FROM {{ this }} WHERE doubled < 0
`,
		"pipelines/silver/sales/tests/quality/mocked_fail.sql": `-- @name: mocked_finds_east
-- @mocks: raw.yaml
SELECT * FROM {{ this }} WHERE region = 'EAST'
`,
		"pipelines/silver/sales/tests/unit/wrong.sql": `-- @name: wrong_expectation
-- @expect: [{"id": 1, "doubled": 21}]
`,
	})
	e.load("bronze.raw_sales", "SELECT 1 AS id, 'x' AS region, 1 AS amount, TIMESTAMP '2024-01-01' AS updated_at")
	ws := loadWS(t, e)
	r := &Runner{Lake: e.lake, Workspace: ws, Parallel: 1}
	results := r.UnitTests(context.Background(), ws.Pipelines(), t.TempDir())
	byName := map[string]TestResult{}
	for _, res := range results {
		byName[res.Name] = res
	}
	for _, name := range []string{"doubles_positive_amounts", "count_only", "only_new_rows", "body_select"} {
		if byName[name].Status != TestPass {
			t.Errorf("%s: %+v", name, byName[name])
		}
	}
	if q := byName["mocked_no_negative"]; q.Status != TestPass || q.Kind != "quality" {
		t.Errorf("mocked quality test: %+v", q)
	}
	if q := byName["mocked_finds_east"]; q.Status != TestFail || q.Violations != 1 {
		t.Errorf("mocked quality test should find the EAST row: %+v", q)
	}
	w := byName["wrong_expectation"]
	if w.Status != TestFail || !strings.Contains(w.Error, "missing row {doubled=21, id=1}") || !strings.Contains(w.Error, "unexpected row") {
		t.Errorf("wrong_expectation: %+v", w)
	}
}
