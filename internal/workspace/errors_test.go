package workspace

import (
	"testing"

	"github.com/ratdata/rat"
)

func TestLoadErrorsInTestdata(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dir       string
		code      string
		fragments []string
	}{
		{"cycle", rat.EINVALID, []string{
			"dependency cycle: silver.a → silver.b → silver.a",
			"pipelines/silver/a.sql:3 refs silver.b",
			"pipelines/silver/b.sql:4 refs silver.a", // inside {% if is_incremental() %}
		}},
		{"unknown_ref", rat.ENOTFOUND, []string{
			`pipelines/silver/sales.sql:5: unknown ref('bronze.raw_sale') (did you mean "bronze.raw_sales"?)`,
		}},
		{"bad_key", rat.EINVALID, []string{
			`pipelines/silver/sales/config.yaml:6: unknown key "columns[1].descripton" (did you mean "columns[1].description"?)`,
		}},
		{"bad_annotation", rat.EINVALID, []string{
			"pipelines/gold/kpis.sql:2: unknown annotation @materialised (did you mean @materialized?)",
		}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			t.Parallel()
			_, err := Load("testdata/"+tc.dir, LoadOptions{})
			wantError(t, err, tc.code, tc.fragments...)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	const sel = "SELECT 1 AS id\n"
	for _, tc := range []struct {
		name      string
		files     map[string]string
		code      string
		fragments []string
	}{
		{"materialized typo in annotation", map[string]string{
			"pipelines/silver/x.sql": "-- @materialized: tabel\n" + sel,
		}, rat.EINVALID, []string{`pipelines/silver/x.sql:1: @materialized: "tabel" is not allowed (did you mean "table"?): use one of table, view, incremental`}},
		{"materialized typo in yaml", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "description: d\nmaterialized: tabel\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.yaml:2: materialized: "tabel" is not allowed (did you mean "table"?)`}},
		{"merge without unique key", map[string]string{
			"pipelines/silver/x.sql": "-- @materialized: incremental\n-- @merge_strategy: merge\n" + sel,
		}, rat.EINVALID, []string{"pipelines/silver/x.sql:2: merge_strategy merge needs a unique_key"}},
		{"delete_insert without key", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "materialized: incremental\nmerge_strategy: delete_insert\n",
		}, rat.EINVALID, []string{"pipelines/silver/x.yaml:2: merge_strategy delete_insert needs a unique_key or a partition_by"}},
		{"unique key not an identifier", map[string]string{
			"pipelines/silver/x.sql": "-- @unique_key: id, order-id\n" + sel,
		}, rat.EINVALID, []string{`pipelines/silver/x.sql:1: unique_key: "order-id" is not a column name`}},
		{"watermark column not an identifier", map[string]string{
			"pipelines/silver/x.sql": "-- @watermark_column: updated at\n" + sel,
		}, rat.EINVALID, []string{`pipelines/silver/x.sql:1: watermark_column: "updated at" is not a column name`}},
		{"unknown partition transform", map[string]string{
			"pipelines/silver/x.sql": "-- @partition_by: week(d)\n" + sel,
		}, rat.EINVALID, []string{`pipelines/silver/x.sql:1: @partition_by: partition "week(d)": transform "week" is not one Iceberg defines`, "bucket(n, col)"}},
		{"bucket without a number", map[string]string{
			"pipelines/silver/x.sql": "-- @partition_by: bucket(id)\n" + sel,
		}, rat.EINVALID, []string{`pipelines/silver/x.sql:1: @partition_by: partition "bucket(id)": bucket needs a number first: bucket(n, id)`}},
		{"zero buckets", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "partition_by: [bucket(0, id)]\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.yaml:1: partition_by: partition "bucket(0, id)": bucket(n, col) needs n above 0`}},
		{"day with a number", map[string]string{
			"pipelines/silver/x.sql": "-- @partition_by: day(3, ts)\n" + sel,
		}, rat.EINVALID, []string{`partition "day(3, ts)": day takes only the column: day(ts)`}},
		{"bad layer partition", map[string]string{
			"workspace.yaml":         "name: t\nlayers:\n  bronze:\n    partition_by: [id, mnth(ts)]\n",
			"pipelines/silver/x.sql": sel,
		}, rat.EINVALID, []string{`workspace.yaml:4: layers.bronze.partition_by: partition "mnth(ts)": transform "mnth" is not one Iceberg defines (did you mean "month"?)`}},
		{"layer partition given twice", map[string]string{
			"workspace.yaml":         "name: t\nlayers:\n  bronze:\n    partition_by: [day(ts), day(ts)]\n",
			"pipelines/silver/x.sql": sel,
		}, rat.EINVALID, []string{`workspace.yaml:4: layers.bronze.partition_by: partition "day(ts)" is given twice`}},
		{"negative retention_days", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "description: a\nretention_days: -2\n",
		}, rat.EINVALID, []string{"pipelines/silver/x.yaml:2: retention_days: want 0 or more, got -2"}},
		{"retention_days not a number", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "retention_days: 30d\n",
		}, rat.EINVALID, []string{"pipelines/silver/x.yaml:1: retention_days: want a whole number"}},
		{"retention_column not an identifier", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "retention_days: 3\nretention_column: event time\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.yaml:2: retention_column: "event time" is not a column name`}},
		{"pipeline in rat's own layer", map[string]string{
			"pipelines/_rat/landing_files.sql": "SELECT 1 AS x WHERE false\n",
		}, rat.EINVALID, []string{"pipelines/_rat/landing_files.sql: a pipeline may not build _rat.landing_files", "only rat writes them"}},
		{"@name in rat's own layer", map[string]string{
			"pipelines/bronze/files.sql": "-- @name: _rat.landing_files\n" + sel,
		}, rat.EINVALID, []string{"pipelines/bronze/files.sql:1: @name: _rat.landing_files names one of rat's own tables"}},
		{"sql outside a layer", map[string]string{
			"pipelines/x.sql": sel,
		}, rat.EINVALID, []string{"pipelines/x.sql: a pipeline must be inside a layer folder: move it to pipelines/<layer>/x.sql"}},
		{"file name is not a table name", map[string]string{
			"pipelines/silver/my-sales.sql": sel,
		}, rat.EINVALID, []string{"pipelines/silver/my-sales.sql: the file name becomes the table name silver.my-sales, which is not valid"}},
		{"two configs", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "description: a\n",
			"pipelines/silver/x.yml":  "description: b\n",
		}, rat.EINVALID, []string{"pipelines/silver/x.yaml and pipelines/silver/x.yml both configure silver.x"}},
		{"empty pipeline", map[string]string{
			"pipelines/silver/x.sql": "-- @materialized: table\n-- nothing else\n",
		}, rat.EINVALID, []string{"pipelines/silver/x.sql: the pipeline has no SQL"}},
		{"yaml syntax", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "description: a\ncolumns: [\n",
		}, rat.EINVALID, []string{"pipelines/silver/x.yaml:", "fix the YAML syntax"}},
		{"unknown top-level key", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "description: a\nfreshnes:\n  warn_after: 3\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.yaml:2: unknown key "freshnes" (did you mean "freshness"?)`}},
		{"unknown freshness unit", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "freshness:\n  warn_after: {hour: 3}\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.yaml:2: unknown key "freshness.warn_after.hour" (did you mean "freshness.warn_after.hours"?)`}},
		{"invalid cron", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "triggers:\n  - {type: schedule, cron: '61 * * * *'}\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.yaml:2: triggers[0]: cron "61 * * * *"`, "want 5 fields"}},
		{"after without pipelines", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "triggers:\n  - {type: after}\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.yaml:2: triggers[0]: an after trigger needs pipelines:`}},
		{"unknown overlap policy", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "overlap: wait\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.yaml:1: overlap`, "queue, skip"}},
		{"empty freshness trigger", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "triggers:\n  - type: freshness\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.yaml:2: triggers[0]: a freshness trigger needs warn_after or error_after`}},
		{"freshness trigger unknown key", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "triggers:\n  - {type: freshness, warn_afer: 3}\n",
		}, rat.EINVALID, []string{`unknown key "triggers[0].warn_afer"`}},
		{"identical triggers", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "triggers:\n  - {type: schedule, cron: daily}\n  - {type: landing, zone: a}\n  - {type: schedule, cron: '0 0 * * *', catch_up: all}\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.yaml:4: triggers[2]: the same trigger as triggers[0] (line 2): it would fire twice`, "different name: keys"}},
		{"two triggers with one name", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "triggers:\n  - {type: schedule, cron: daily, name: n}\n  - {type: after, pipelines: [silver.y], name: n}\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.yaml:3: triggers[1].name: triggers[0] (line 2) is named n too`}},
		{"bad trigger name", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "triggers:\n  - {type: schedule, cron: daily, name: '1st'}\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.yaml:2: triggers[0]: name 1st: start with a letter`}},
		{"unknown trigger type", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "triggers:\n  - type: shedule\n    cron: daily\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.yaml:2: triggers[0].type: unknown trigger type "shedule" (did you mean "schedule"?)`}},
		{"unknown column test", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "columns:\n  - name: id\n    tests: [not_nul]\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.yaml:3: columns[0].tests[0]: unknown column test "not_nul" (did you mean "not_null"?)`}},
		{"relationships to an unknown table", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "columns:\n  - name: id\n    tests:\n      - relationships: {to: silver.y, field: id}\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.yaml:4: relationships: unknown table "silver.y"`}},
		{"bad severity", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "tests:\n  - name: t\n    sql: SELECT 1\n    severity: fatal\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.yaml:4: tests[0].severity: "fatal" is not allowed: use one of error, warn`}},
		{"template syntax error", map[string]string{
			"pipelines/silver/x.sql": "-- @materialized: table\nSELECT 1\n{% endif %}\n",
		}, rat.EINVALID, []string{"pipelines/silver/x.sql:3: template syntax error"}},
		{"syntax error the parser gives no line for", map[string]string{
			"pipelines/silver/x.sql": "SELECT 1\n\n{% if %}\nx\n{% endif %}\n",
		}, rat.EINVALID, []string{"pipelines/silver/x.sql:3: template syntax error: expected either a number, string, keyword or identifier: fix the Jinja syntax"}},
		{"unknown filter", map[string]string{
			"pipelines/silver/x.sql": "SELECT 1\n{{ 'x' | nofilter }}\n",
		}, rat.EINVALID, []string{"pipelines/silver/x.sql:2: template error: filter 'nofilter' not found"}},
		{"unclosed expression", map[string]string{
			"pipelines/silver/x.sql": "-- header\n\nSELECT *\nFROM {{ ref('silver.y') }\n",
			"pipelines/silver/y.sql": sel,
		}, rat.EINVALID, []string{"pipelines/silver/x.sql:4: template syntax error"}},
		{"undefined name, header lines counted", map[string]string{
			"pipelines/silver/x.sql": "-- 🐀 title\n-- @materialized: table\n--\n\nSELECT\n  {{ tabel }}\n",
		}, rat.EINVALID, []string{`pipelines/silver/x.sql:6: undefined name "tabel"`}},
		{"undefined name close to a function", map[string]string{
			"pipelines/silver/x.sql": "SELECT * FROM {{ reff('silver.y') }}\n",
		}, rat.EINVALID, []string{"pipelines/silver/x.sql:1: reff() is not a function (did you mean ref()?)"}},
		{"ref with a number", map[string]string{
			"pipelines/silver/x.sql": "SELECT\n* FROM {{ ref(1) }}\n",
		}, rat.EINVALID, []string{"pipelines/silver/x.sql:2: ref(): argument 1 must be a non-empty quoted name"}},
		{"self ref", map[string]string{
			"pipelines/silver/a.sql": "SELECT * FROM {{ ref('silver.a') }}\n",
		}, rat.EINVALID, []string{"dependency cycle: silver.a → silver.a (pipelines/silver/a.sql:1 refs silver.a)", "{{ this }}"}},
		{"alias taken twice", map[string]string{
			"pipelines/silver/a.sql": "-- @name: shared\n" + sel,
			"pipelines/silver/b.sql": "-- @name: shared\n" + sel,
		}, rat.EINVALID, []string{"pipelines/silver/a.sql and pipelines/silver/b.sql both use @name: shared"}},
		{"alias names another table", map[string]string{
			"pipelines/silver/a.sql": "-- @name: silver_b\n" + sel,
			"pipelines/silver/b.sql": sel,
		}, rat.EINVALID, []string{"pipelines/silver/a.sql: @name: silver_b already names silver.b"}},
		{"ref error in a custom test points into the yaml", map[string]string{
			"pipelines/silver/x.sql":  sel,
			"pipelines/silver/x.yaml": "tests:\n  - name: t\n    sql: |\n      SELECT *\n      FROM {{ ref('silver.nope') }}\n",
		}, rat.ENOTFOUND, []string{"pipelines/silver/x.yaml:5: unknown ref('silver.nope')"}},
		{"unknown annotation in a quality test", map[string]string{
			"pipelines/silver/x/pipeline.sql":        sel,
			"pipelines/silver/x/tests/quality/q.sql": "-- @severty: warn\nSELECT 1\n",
		}, rat.EINVALID, []string{"pipelines/silver/x/tests/quality/q.sql:1: unknown annotation @severty (did you mean @severity?)"}},
		{"quality test without sql", map[string]string{
			"pipelines/silver/x/pipeline.sql":        sel,
			"pipelines/silver/x/tests/quality/q.sql": "-- @name: q\n",
		}, rat.EINVALID, []string{"pipelines/silver/x/tests/quality/q.sql: the quality test has no SQL"}},
		{"unit test expecting nothing", map[string]string{
			"pipelines/silver/x/pipeline.sql":     sel,
			"pipelines/silver/x/tests/unit/u.sql": "-- @name: u\n-- just a comment\n",
		}, rat.EINVALID, []string{"pipelines/silver/x/tests/unit/u.sql: the unit test expects nothing: add -- @expect_count: N"}},
		{"unknown mock", map[string]string{
			"pipelines/silver/x/pipeline.sql":              sel,
			"pipelines/silver/x/tests/mocks/bronze_a.yaml": "rows: [{id: 1}]\n",
			"pipelines/silver/x/tests/unit/u.sql":          "-- @mocks: mocks/bronze_b.yaml\n-- @expect_count: 1\n",
		}, rat.EINVALID, []string{`pipelines/silver/x/tests/unit/u.sql:1: @mocks: no mock file "mocks/bronze_b.yaml" (did you mean "bronze_a.yaml"?)`}},
		{"default mocks define a table twice", map[string]string{
			"pipelines/silver/x/pipeline.sql":              sel,
			"pipelines/silver/x/tests/mocks/bronze_a.yaml": "rows: [{id: 1}]\n",
			"pipelines/silver/x/tests/mocks/more.yaml":     "table: bronze.a\nrows: [{id: 2}]\n",
			"pipelines/silver/x/tests/unit/u.sql":          "-- @expect_count: 1\n",
		}, rat.EINVALID, []string{"pipelines/silver/x/tests/unit/u.sql: mock table bronze.a is defined by both"}},
		{"bad mode", map[string]string{
			"pipelines/silver/x/pipeline.sql":     sel,
			"pipelines/silver/x/tests/unit/u.sql": "-- @mode: incremantal\n-- @expect_count: 1\n",
		}, rat.EINVALID, []string{`pipelines/silver/x/tests/unit/u.sql:1: @mode: "incremantal" is not a mode (did you mean "incremental"?)`}},
		{"bad expect", map[string]string{
			"pipelines/silver/x/pipeline.sql":     sel,
			"pipelines/silver/x/tests/unit/u.sql": "-- @expect: {id: 1\n",
		}, rat.EINVALID, []string{"pipelines/silver/x/tests/unit/u.sql:1: @expect: want a JSON (or YAML flow) list of rows"}},
		{"mock table without a layer", map[string]string{
			"pipelines/silver/x/pipeline.sql":          sel,
			"pipelines/silver/x/tests/mocks/sales.csv": "id\n1\n",
		}, rat.EINVALID, []string{`pipelines/silver/x/tests/mocks/sales.csv: mock table "sales" (from the file name): want layer.name or layer_name`}},
		{"unknown key in a mock", map[string]string{
			"pipelines/silver/x/pipeline.sql":       sel,
			"pipelines/silver/x/tests/mocks/a.yaml": "table: bronze.a\nrow: []\n",
		}, rat.EINVALID, []string{`pipelines/silver/x/tests/mocks/a.yaml:2: unknown key "row" (did you mean "rows"?)`}},
		{"malformed csv mock", map[string]string{
			"pipelines/silver/x/pipeline.sql":             sel,
			"pipelines/silver/x/tests/mocks/bronze_a.csv": "id,name\n1,a\n2,\"b\n",
		}, rat.EINVALID, []string{"pipelines/silver/x/tests/mocks/bronze_a.csv:3:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(writeWorkspace(t, tc.files), LoadOptions{})
			wantError(t, err, tc.code, tc.fragments...)
		})
	}
}

func TestLoadWithoutWorkspaceYAML(t *testing.T) {
	t.Parallel()
	_, err := Load(t.TempDir(), LoadOptions{})
	wantError(t, err, rat.ENOTFOUND, "has no workspace.yaml")
}

func TestWorkspaceYAMLIsStrict(t *testing.T) {
	t.Parallel()
	dir := writeWorkspace(t, map[string]string{"workspace.yaml": "name: x\nvarz: {}\n"})
	_, err := Load(dir, LoadOptions{})
	wantError(t, err, rat.EINVALID, "workspace.yaml:2", "varz")
}
