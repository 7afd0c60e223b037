package workspace

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
)

func TestLoadFlatLayout(t *testing.T) {
	t.Parallel()
	w := mustLoad(t, "testdata/flat", LoadOptions{})

	if got, want := ids(w.Pipelines()), "bronze.raw_sales gold.daily_sales gold.store_kpis silver.sales silver.stores"; got != want {
		t.Fatalf("pipelines = %s, want %s", got, want)
	}
	if w.Config.Name != "flat-shop" {
		t.Errorf("workspace name = %q", w.Config.Name)
	}

	sales := mustGet(t, w, "silver.sales")
	if sales.Layout != Flat || sales.File != "pipelines/silver/sales.sql" || sales.ConfigFile != "pipelines/silver/sales.yaml" {
		t.Errorf("silver.sales layout/files = %s %s %s", sales.Layout, sales.File, sales.ConfigFile)
	}
	if !reflect.DeepEqual(sales.Aliases, []string{"silver_sales"}) {
		t.Errorf("aliases = %v, want [silver_sales]", sales.Aliases)
	}
	c := sales.Config
	if c.Materialized != Incremental || c.MergeStrategy != Merge || !reflect.DeepEqual(c.UniqueKey, []string{"txn_id"}) {
		t.Errorf("materialized/merge/unique = %s %s %v", c.Materialized, c.MergeStrategy, c.UniqueKey)
	}
	if !reflect.DeepEqual(c.PartitionBy, []Partition{{Column: "transaction_time", Transform: "day"}}) {
		t.Errorf("partition_by = %v", c.PartitionBy)
	}
	if c.Owner.Name != "data-team" {
		t.Errorf("owner = %+v: the annotation must win", c.Owner)
	}
	if !strings.HasPrefix(c.Description, "Cleaned and validated") || !reflect.DeepEqual(c.Tags, []string{"sales"}) {
		t.Errorf("description/tags = %q %v", c.Description, c.Tags)
	}
	if c.Freshness.WarnAfter != 6*time.Hour || c.Freshness.ErrorAfter != 24*time.Hour {
		t.Errorf("freshness = %+v", c.Freshness)
	}
	if len(c.Columns) != 3 {
		t.Fatalf("columns = %d, want 3", len(c.Columns))
	}
	store := c.Columns[2]
	wantTests := []ColumnTest{
		{Kind: AcceptedValues, Values: []any{"S1", "S2"}, Line: 26},
		{Kind: Relationships, To: rat.TableID{Layer: "silver", Name: "stores"}, Field: "store_id", Line: 27},
	}
	if !reflect.DeepEqual(store.Tests, wantTests) {
		t.Errorf("store_id tests = %+v, want %+v", store.Tests, wantTests)
	}
	if k := []string{c.Columns[0].Tests[0].Kind, c.Columns[0].Tests[1].Kind, c.Columns[1].Tests[1].Kind}; !reflect.DeepEqual(k, []string{NotNull, Unique, Positive}) {
		t.Errorf("column test kinds = %v", k)
	}
	if len(c.Tests) != 1 || c.Tests[0].Name != "total_equals_qty_times_price" || c.Tests[0].Expect == nil || *c.Tests[0].Expect != 0 || c.Tests[0].Severity != SeverityError {
		t.Errorf("custom tests = %+v", c.Tests)
	}
	if len(c.Triggers) != 2 || c.Triggers[0].Type != "landing" || c.Triggers[0].Raw["path"] != "bronze/sales/" || c.Triggers[1].Type != "schedule" {
		t.Errorf("triggers = %+v", c.Triggers)
	}
	// The original's flat pipelines keep their tests in <name>/tests/.
	if len(sales.QualityTests) != 1 || sales.QualityTests[0].Name != "positive_amounts" || sales.QualityTests[0].Severity != SeverityWarn {
		t.Errorf("quality tests = %+v", sales.QualityTests)
	}
	if tableIDs(sales.Refs) != "bronze.raw_sales" {
		t.Errorf("silver.sales refs = %s", tableIDs(sales.Refs))
	}

	raw := mustGet(t, w, "bronze.raw_sales")
	if !reflect.DeepEqual(raw.Landings, []string{"sales"}) || len(raw.Refs) != 0 {
		t.Errorf("bronze.raw_sales landings/refs = %v %v", raw.Landings, raw.Refs)
	}
	// A ref inside {% if is_incremental() %} counts, and aliases resolve.
	kpis := mustGet(t, w, "gold.store_kpis")
	if got := tableIDs(kpis.Refs); got != "gold.daily_sales silver.sales" {
		t.Errorf("gold.store_kpis refs = %s, want gold.daily_sales silver.sales", got)
	}
	if kpis.Config.MergeStrategy != DeleteInsert || kpis.Config.PartitionBy[0].String() != "month(sale_date)" {
		t.Errorf("gold.store_kpis config = %+v", kpis.Config)
	}
	daily := mustGet(t, w, "gold.daily_sales")
	if !reflect.DeepEqual(daily.Config.Tags, []string{"daily", "finance", "kpi"}) {
		t.Errorf("gold.daily_sales tags = %v (want @tags and documentation.tags together)", daily.Config.Tags)
	}
	if daily.Config.Owner != (Owner{Name: "analytics-team", Team: "analytics-team", Email: "analytics@acme.com"}) {
		t.Errorf("gold.daily_sales owner = %+v", daily.Config.Owner)
	}
	if got := mustGet(t, w, "silver.stores").Config.Materialized; got != View {
		t.Errorf("silver.stores materialized = %s", got)
	}

	warnings := warningsText(w)
	for _, want := range []string{
		"pipelines/bronze/ingest_events.py: ignored",
		`pipelines/silver/sales.sql:8: @owner: "data-team" here contradicts owner: "data-team@acme.com" in pipelines/silver/sales.yaml:4`,
	} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings)
		}
	}
	if strings.Contains(warnings, "README") {
		t.Errorf("README files must be ignored silently:\n%s", warnings)
	}
}

func TestLoadFolderLayout(t *testing.T) {
	t.Parallel()
	w := mustLoad(t, "testdata/folder", LoadOptions{})
	sales := mustGet(t, w, "silver.sales")
	if sales.Layout != Folder || sales.File != "pipelines/silver/sales/pipeline.sql" || sales.ConfigFile != "pipelines/silver/sales/config.yaml" {
		t.Fatalf("silver.sales = %s %s %s: the folder must win", sales.Layout, sales.File, sales.ConfigFile)
	}
	warnings := warningsText(w)
	for _, want := range []string{
		"pipelines/silver/sales.sql: ignored: the folder pipelines/silver/sales/ defines silver.sales too",
		"pipelines/silver/sales.yaml: ignored",
		"pipelines/silver/sales/tests/mocks/notes.txt: ignored",
	} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings)
		}
	}
	c := sales.Config
	if c.Owner != (Owner{Name: "data-team", Team: "data-team", Email: "data-team@acme.com", Slack: "#data-alerts"}) {
		t.Errorf("owner = %+v", c.Owner)
	}
	if c.Freshness.ErrorAfter != 36*time.Hour || c.Freshness.WarnAfter != 6*time.Hour {
		t.Errorf("freshness = %+v", c.Freshness)
	}
	if c.Retries != 2 || c.RetryDelay != 30*time.Second || c.OnBadRows != OnBadRowsQuarantine || c.OnSchemaChange != OnSchemaChangeAppend {
		t.Errorf("retries/delay/bad rows/schema = %d %s %s %s", c.Retries, c.RetryDelay, c.OnBadRows, c.OnSchemaChange)
	}
	if got := c.Columns[2].Tests[0]; got.Kind != AcceptedValues || !reflect.DeepEqual(got.Values, []any{"ELECTRONICS", "OTHER"}) {
		t.Errorf("accepted_values {values: [...]} = %+v", got)
	}
	if c.Columns[1].Example != "2" || !c.Columns[3].PII || c.Columns[3].PIIType != "customer_id" {
		t.Errorf("columns = %+v", c.Columns)
	}
	if len(c.Tests) != 1 || !c.Tests[0].ExpectEmpty || c.Tests[0].Severity != SeverityWarn {
		t.Errorf("custom test = %+v", c.Tests[0])
	}
	if len(c.Documentation.Rules) != 1 || c.Documentation.Rules[0].SQL != "quantity > 0" {
		t.Errorf("documentation = %+v", c.Documentation)
	}
	if got := tableIDs(sales.Refs); got != "bronze.raw_sales bronze.raw_stores" {
		t.Errorf("refs = %s (ref('bronze_raw_stores') must resolve to bronze.raw_stores)", got)
	}
	gold := mustGet(t, w, "gold.daily_sales")
	if gold.ConfigFile != "pipelines/gold/daily_sales/config.yml" || gold.Config.Columns[0].Tests[0].To != sales.ID {
		t.Errorf("gold.daily_sales config %s, relationships to %v (the alias silver_sales must resolve)", gold.ConfigFile, gold.Config.Columns[0].Tests[0])
	}

	// Quality tests.
	q := map[string]*QualityTest{}
	for _, t := range sales.QualityTests {
		q[t.Name] = t
	}
	if u := q["unique_transaction_ids"]; u == nil || u.Severity != SeverityError || u.Description != "Transaction IDs must be unique" ||
		len(u.Mocks) != 1 || u.Mocks[0].File != "pipelines/silver/sales/tests/mocks/bronze_sales.yaml" {
		t.Errorf("unique_transaction_ids = %+v", u)
	}
	if k := q["known_stores"]; k == nil || k.Severity != SeverityError || len(k.Mocks) != 0 {
		t.Errorf("known_stores (named after its file, default severity error) = %+v", k)
	}

	// Unit tests.
	u := map[string]*UnitTest{}
	for _, t := range sales.UnitTests {
		u[t.Name] = t
	}
	basic := u["test_basic_transformation"]
	if basic == nil || basic.ExpectCount == nil || *basic.ExpectCount != 2 || basic.HasBody || basic.Mode != ModeFull || len(basic.Mocks) != 2 {
		t.Errorf("test_basic_transformation = %+v", basic)
	}
	rows := u["test_rows"]
	wantRows := []map[string]any{{"txn_id": "T001", "total_amount": 20.0}, {"txn_id": "T002", "total_amount": 76.5}}
	if rows == nil || !reflect.DeepEqual(rows.Expect, wantRows) || !reflect.DeepEqual(rows.ExpectColumns, []string{"txn_id", "total_amount"}) || len(rows.Mocks) != 2 {
		t.Errorf("test_rows = %+v", rows)
	}
	inc := u["test_incremental_load"]
	if inc == nil || inc.Mode != ModeIncremental || inc.Watermarks["_ingested_at"] != "2024-01-15 12:00:00" || !inc.HasBody {
		t.Fatalf("test_incremental_load = %+v", inc)
	}
	var tables []string
	for _, m := range inc.Tables() {
		tables = append(tables, m.Table.String()+"@"+filepath.Base(m.File))
	}
	if got := strings.Join(tables, " "); got != "bronze.raw_sales@late_sales.json bronze.raw_stores@bronze_raw_stores.csv" {
		t.Errorf("incremental test tables = %s", got)
	}
	body, err := inc.Render(RenderContext{})
	if err != nil || !strings.Contains(body, "SELECT 'T009' AS txn_id, 4.5 AS total_amount") {
		t.Errorf("unit test body = %q, %v", body, err)
	}
}

func TestMocks(t *testing.T) {
	t.Parallel()
	w := mustLoad(t, "testdata/folder", LoadOptions{})
	mocks := map[string]*MockFile{}
	for _, m := range mustGet(t, w, "silver.sales").Mocks {
		mocks[filepath.Base(m.File)] = m
	}
	if len(mocks) != 3 {
		t.Fatalf("mock files = %v, want 3 (notes.txt is not one)", mocks)
	}
	yml := mocks["bronze_sales.yaml"].Tables[0]
	if yml.Table.String() != "bronze.raw_sales" || len(yml.Rows) != 3 || yml.Rows[2]["txn_id"] != nil || yml.Rows[0]["quantity"] != 2 || yml.Rows[0]["unit_price"] != 10.0 {
		t.Errorf("yaml mock = %s %v", yml.Table, yml.Rows)
	}
	if want := []string{"txn_id", "store_id", "category", "quantity", "unit_price", "transaction_time", "_ingested_at"}; !reflect.DeepEqual(yml.Columns, want) {
		t.Errorf("yaml mock columns = %v, want the file's order %v", yml.Columns, want)
	}
	csv := mocks["bronze_raw_stores.csv"].Tables[0]
	wantCSV := []map[string]any{
		{"store_id": "S1", "store_name": "Downtown", "open": true, "sqm": 120.0},
		{"store_id": "S2", "store_name": "Airport", "open": false, "sqm": 80.5},
		{"store_id": "S3", "store_name": nil, "open": true, "sqm": nil},
	}
	if csv.Table.String() != "bronze.raw_stores" || !reflect.DeepEqual(csv.Rows, wantCSV) || !reflect.DeepEqual(csv.Columns, []string{"store_id", "store_name", "open", "sqm"}) {
		t.Errorf("csv mock = %s %v %v", csv.Table, csv.Columns, csv.Rows)
	}
	js := mocks["late_sales.json"].Tables[0]
	if js.Table.String() != "bronze.raw_sales" || len(js.Rows) != 1 || js.Rows[0]["unit_price"] != 4.5 || js.Columns[0] != "txn_id" {
		t.Errorf("json mock = %s %v %v", js.Table, js.Columns, js.Rows)
	}
}

func TestMockFormats(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"pipelines/silver/x/pipeline.sql":                     "SELECT 1 AS id\n",
		"pipelines/silver/x/tests/mocks/bronze_items.json":    `[{"b": 1, "a": "x"}, {"a": "y", "c": true}]`,
		"pipelines/silver/x/tests/mocks/silver_rows_only.yml": "rows:\n  - id: 1\n",
		"pipelines/silver/x/tests/mocks/two.yaml":             "tables:\n  - table: gold_kpis\n    rows: [{k: 1}]\n  - table: silver.other\n    rows: []\n",
		"pipelines/silver/x/tests/unit/t.sql":                 "-- @mocks: bronze_items.json\n-- @expect_count: 0\n",
	}
	w := mustLoad(t, writeWorkspace(t, files), LoadOptions{})
	var got []string
	for _, m := range mustGet(t, w, "silver.x").Mocks {
		for _, tb := range m.Tables {
			got = append(got, tb.Table.String()+"("+strings.Join(tb.Columns, ",")+")")
		}
	}
	want := "bronze.items(b,a,c) silver.rows_only(id) gold.kpis(k) silver.other()"
	if strings.Join(got, " ") != want {
		t.Errorf("mock tables = %s, want %s", strings.Join(got, " "), want)
	}
}

func TestContradictions(t *testing.T) {
	t.Parallel()
	w := mustLoad(t, "testdata/contradictions", LoadOptions{})
	p := mustGet(t, w, "silver.sales")
	if p.Config.Materialized != Incremental || !reflect.DeepEqual(p.Config.UniqueKey, []string{"id"}) {
		t.Errorf("config = %s %v: the annotations must win", p.Config.Materialized, p.Config.UniqueKey)
	}
	want := `pipelines/silver/sales.sql:1: @materialized: "incremental" here contradicts materialized: "table" in pipelines/silver/sales.yaml:2; the annotation wins (remove one of them)
pipelines/silver/sales.sql:2: @unique_key: "id" here contradicts unique_key: "id, day" in pipelines/silver/sales.yaml:3; the annotation wins (remove one of them)
`
	if got := warningsText(w); got != want {
		t.Errorf("warnings:\n%s\nwant (owner agrees, so no warning for it):\n%s", got, want)
	}
}

func TestKnownTables(t *testing.T) {
	t.Parallel()
	dir := writeWorkspace(t, map[string]string{
		"pipelines/silver/sales.sql": "SELECT * FROM {{ ref('bronze.raw_sales') }}\n",
	})
	_, err := Load(dir, LoadOptions{})
	wantError(t, err, rat.ENOTFOUND, "pipelines/silver/sales.sql:1: unknown ref('bronze.raw_sales')")

	known := func(id rat.TableID) bool { return id.String() == "bronze.raw_sales" }
	w := mustLoad(t, dir, LoadOptions{Known: known})
	p := mustGet(t, w, "silver.sales")
	if tableIDs(p.Refs) != "bronze.raw_sales" || len(w.Upstream(p.ID)) != 0 {
		t.Errorf("refs = %s, upstream = %s: a catalog table is a ref but not a DAG edge", tableIDs(p.Refs), ids(w.Upstream(p.ID)))
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"pipelines/silver/a/pipeline.sql":              "SELECT 1 AS id\n",
		"pipelines/silver/a/config.yaml":               "description: a\n",
		"pipelines/silver/a/tests/quality/q.sql":       "SELECT * FROM {{ this }} WHERE id IS NULL\n",
		"pipelines/silver/a/tests/mocks/bronze_x.yaml": "rows: [{id: 1}]\n",
		"pipelines/silver/a/README.md":                 "docs\n",
		"pipelines/silver/b.sql":                       "SELECT 2 AS id\n",
	}
	dir := writeWorkspace(t, files)
	hashes := func() (string, string) {
		w := mustLoad(t, dir, LoadOptions{})
		return mustGet(t, w, "silver.a").Hash, mustGet(t, w, "silver.b").Hash
	}
	a0, b0 := hashes()
	if len(a0) != 64 || a0 == b0 {
		t.Fatalf("hashes %q %q", a0, b0)
	}
	if a, b := hashes(); a != a0 || b != b0 {
		t.Fatal("hashes differ between two loads of the same files")
	}
	for _, f := range []string{"pipelines/silver/a/config.yaml", "pipelines/silver/a/tests/quality/q.sql", "pipelines/silver/a/tests/mocks/bronze_x.yaml", "pipelines/silver/a/pipeline.sql"} {
		change := "-- changed\n"
		if strings.HasSuffix(f, ".yaml") {
			change = "# changed\n"
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(files[f]+change), 0o644); err != nil {
			t.Fatal(err)
		}
		a, b := hashes()
		if a == a0 || b != b0 {
			t.Errorf("after changing %s: hash of silver.a changed=%v, silver.b changed=%v", f, a != a0, b != b0)
		}
		a0 = a
	}
	if err := os.WriteFile(filepath.Join(dir, "pipelines/silver/a/README.md"), []byte("other docs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if a, _ := hashes(); a != a0 {
		t.Error("a README change must not change the hash")
	}
}

func TestAnnotationEdgeCases(t *testing.T) {
	t.Parallel()
	dir := writeWorkspace(t, map[string]string{
		"pipelines/silver/x.sql":       "-- @tags: a, b\n-- @tags: [c]\n-- @owner:\n-- @name:\n-- @materialized: table\n-- @materialized: view\n-- @todo fix later (no colon: a plain comment)\nSELECT 1 AS id\n-- @materialized: incremental (after the header: not an annotation)\n",
		"pipelines/silver/x.yaml":      "owner: yaml-owner\n",
		"pipelines/silver/__init__.py": "",
	})
	w := mustLoad(t, dir, LoadOptions{})
	p := mustGet(t, w, "silver.x")
	if !reflect.DeepEqual(p.Config.Tags, []string{"a", "b", "c"}) || p.Config.Owner.Name != "yaml-owner" || len(p.Aliases) != 0 || p.Config.Materialized != View {
		t.Errorf("config = %+v, aliases %v", p.Config, p.Aliases)
	}
	if got := warningsText(w); got != "pipelines/silver/x.sql:6: @materialized is given again (first at line 5): this one wins\n" {
		t.Errorf("warnings = %q", got)
	}
}

// TestFreshnessTrigger: a freshness trigger sets the freshness policy; the
// freshness key wins where both set a threshold.
func TestFreshnessTrigger(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"workspace.yaml":          "name: f\n",
		"pipelines/silver/a.sql":  "SELECT 1 AS x\n",
		"pipelines/silver/a.yaml": "triggers:\n  - {type: freshness, warn_after: {hours: 2}, error_after: 12}\n",
		"pipelines/silver/b.sql":  "SELECT 1 AS x\n",
		"pipelines/silver/b.yaml": "freshness: {warn_after: {minutes: 30}}\ntriggers:\n  - {type: freshness, warn_after: 5, error_after: {days: 1}}\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := Load(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Freshness{
		"silver.a": {WarnAfter: 2 * time.Hour, ErrorAfter: 12 * time.Hour},
		"silver.b": {WarnAfter: 30 * time.Minute, ErrorAfter: 24 * time.Hour},
	}
	for _, p := range ws.Pipelines() {
		if got := p.Config.Freshness; got != want[p.ID.String()] {
			t.Errorf("%s: freshness %+v, want %+v", p.ID, got, want[p.ID.String()])
		}
	}
}

func TestLayerPartitionBy(t *testing.T) {
	t.Parallel()
	dir := writeWorkspace(t, map[string]string{
		"workspace.yaml":                 "name: t\nlayers:\n  bronze:\n    partition_by: [region, day(ts), bucket(16, id), truncate(4, name), hour(ts)]\n  Silver:\n    partition_by: month(ts)\n",
		"pipelines/bronze/a.sql":         "SELECT 1 AS id\n",
		"pipelines/bronze/own.sql":       "-- @partition_by: year(ts), bucket(8, id)\nSELECT 1 AS id\n",
		"pipelines/bronze/own_yaml.sql":  "SELECT 1 AS id\n",
		"pipelines/bronze/own_yaml.yaml": "partition_by: [truncate(10, name), id]\n",
		"pipelines/silver/b.sql":         "SELECT 1 AS id\n",
		"pipelines/gold/c.sql":           "SELECT 1 AS id\n",
	})
	w, err := Load(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ pipeline, parts, from string }{
		{"bronze.a", "region, day(ts), bucket(16, id), truncate(4, name), hour(ts)", "workspace.yaml:4: layers.bronze.partition_by"},
		{"bronze.own", "year(ts), bucket(8, id)", "pipelines/bronze/own.sql:1: partition_by"},
		{"bronze.own_yaml", "truncate(10, name), id", "pipelines/bronze/own_yaml.yaml:1: partition_by"},
		{"silver.b", "month(ts)", "workspace.yaml:6: layers.Silver.partition_by"},
		{"gold.c", "", ""},
	} {
		c := mustGet(t, w, tc.pipeline).Config
		if got := partitionText(c.PartitionBy); got != tc.parts || c.PartitionFrom != tc.from {
			t.Errorf("%s: partition_by = %q from %q, want %q from %q", tc.pipeline, got, c.PartitionFrom, tc.parts, tc.from)
		}
	}
	if p := mustGet(t, w, "bronze.a").Config.PartitionBy[2]; p.Transform != "bucket" || p.Param != 16 || p.Column != "id" {
		t.Errorf("bucket(16, id) = %+v", p)
	}
}

// TestSortBy: sort_by (YAML list or @sort_by annotation) is read with the
// place it is set; a name that is not a column name is refused there.
func TestSortBy(t *testing.T) {
	t.Parallel()
	dir := writeWorkspace(t, map[string]string{
		"workspace.yaml":          "name: t\n",
		"pipelines/bronze/a.sql":  "-- @sort_by: Region, ts\nSELECT 1 AS id\n",
		"pipelines/bronze/b.sql":  "SELECT 1 AS id\n",
		"pipelines/bronze/b.yaml": "description: b\nsort_by: [id]\n",
		"pipelines/bronze/c.sql":  "SELECT 1 AS id\n",
	})
	w, err := Load(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ pipeline, cols, from string }{
		{"bronze.a", "region,ts", "pipelines/bronze/a.sql:1"},
		{"bronze.b", "id", "pipelines/bronze/b.yaml:2"},
		{"bronze.c", "", ""},
	} {
		c := mustGet(t, w, tc.pipeline).Config
		if got := strings.Join(c.SortBy, ","); got != tc.cols || c.SortFrom != tc.from {
			t.Errorf("%s: sort_by = %q from %q, want %q from %q", tc.pipeline, got, c.SortFrom, tc.cols, tc.from)
		}
	}
	bad := writeWorkspace(t, map[string]string{
		"workspace.yaml":         "name: t\n",
		"pipelines/bronze/a.sql": "-- @sort_by: id, order date\nSELECT 1 AS id\n",
	})
	if _, err := Load(bad, LoadOptions{}); err == nil || !strings.Contains(err.Error(), `pipelines/bronze/a.sql:1: sort_by: "order date" is not a column name`) {
		t.Fatalf("bad sort_by: %v", err)
	}
}
