package workspace

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratdata/rat"
)

// renderWorkspace loads a workspace with one pipeline silver.t whose SQL is
// body, next to bronze.raw and silver.sales (alias silver_sales).
func renderWorkspace(t *testing.T, body string, opts LoadOptions) *Pipeline {
	t.Helper()
	dir := writeWorkspace(t, map[string]string{
		"workspace.yaml":                           "name: r\nvars:\n  a: ws\n  b: ws\n  c: ws\n",
		"pipelines/bronze/raw.sql":                 "SELECT 1 AS id\n",
		"pipelines/silver/sales.sql":               "-- @name: silver_sales\nSELECT * FROM {{ ref('bronze.raw') }}\n",
		"pipelines/silver/t.sql":                   body,
		"pipelines/silver/t.yaml":                  "vars:\n  b: pipe\n  c: pipe\n",
		"pipelines/silver/q/pipeline.sql":          "SELECT 2 AS id\n",
		"pipelines/silver/q/tests/quality/chk.sql": "-- @name: chk\nSELECT * FROM {{ this }} WHERE id IS NULL\n",
	})
	w := mustLoad(t, dir, opts)
	return mustGet(t, w, "silver.t")
}

func render(t *testing.T, p *Pipeline, rc RenderContext) string {
	t.Helper()
	out, err := p.Render(rc)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return strings.TrimSpace(out)
}

func TestRenderRef(t *testing.T) {
	t.Parallel()
	p := renderWorkspace(t, "SELECT * FROM {{ ref('bronze.raw') }} JOIN {{ ref('silver.sales') }} USING (id)\n", LoadOptions{})
	if got := render(t, p, RenderContext{}); got != `SELECT * FROM "bronze"."raw" JOIN "silver"."sales" USING (id)` {
		t.Errorf("default ref = %s", got)
	}
	var asked []string
	rc := RenderContext{Ref: func(id rat.TableID) (string, error) {
		asked = append(asked, id.String())
		return "read_parquet('" + id.Name + ".parquet')", nil
	}}
	if got := render(t, p, rc); got != `SELECT * FROM read_parquet('raw.parquet') JOIN read_parquet('sales.parquet') USING (id)` {
		t.Errorf("ref through RenderContext.Ref = %s", got)
	}
	if strings.Join(asked, " ") != "bronze.raw silver.sales" {
		t.Errorf("Ref was asked for %v", asked)
	}
	// An error of the caller's Ref keeps its code and gets the file and line.
	rc.Ref = func(id rat.TableID) (string, error) {
		return "", rat.Errorf(rat.ECONFLICT, "table %s moved", id)
	}
	_, err := p.Render(rc)
	wantError(t, err, rat.ECONFLICT, "pipelines/silver/t.sql:1: ref('bronze.raw'): table bronze.raw moved")
}

func TestRenderAliases(t *testing.T) {
	t.Parallel()
	p := renderWorkspace(t, "{{ ref('silver_sales') }} {{ ref('SILVER.Sales') }} {{ ref('silver', 'sales') }} {{ ref('bronze_raw') }}\n", LoadOptions{})
	if got := render(t, p, RenderContext{}); got != `"silver"."sales" "silver"."sales" "silver"."sales" "bronze"."raw"` {
		t.Errorf("aliases render as %s", got)
	}
	if got := tableIDs(p.Refs); got != "bronze.raw silver.sales" {
		t.Errorf("refs = %s", got)
	}
}

func TestRenderThisAndIncremental(t *testing.T) {
	t.Parallel()
	p := renderWorkspace(t, "SELECT * FROM {{ this }}{% if is_incremental() %} WHERE ts > '{{ watermark(\"ts\") }}'{% endif %}\n", LoadOptions{})
	if got := render(t, p, RenderContext{}); got != `SELECT * FROM "silver"."t"` {
		t.Errorf("full mode = %s", got)
	}
	wm := func(col string) (string, error) { return "2024-01-0" + fmt.Sprint(len(col)), nil }
	if got := render(t, p, RenderContext{Incremental: true, This: "tmp.t", Watermark: wm}); got != `SELECT * FROM tmp.t WHERE ts > '2024-01-02'` {
		t.Errorf("incremental mode = %s", got)
	}
	_, err := p.Render(RenderContext{Incremental: true})
	wantError(t, err, rat.EINVALID, "pipelines/silver/t.sql:1: watermark('ts') has no value outside an incremental run")
	_, err = p.Render(RenderContext{Incremental: true, Watermark: func(string) (string, error) { return "", errors.New("catalog down") }})
	wantError(t, err, rat.EINVALID, "pipelines/silver/t.sql:1: watermark('ts'): catalog down")
}

func TestRenderLanding(t *testing.T) {
	t.Parallel()
	p := renderWorkspace(t, "SELECT * FROM {{ landing('sales') }}\nUNION ALL\nSELECT * FROM {{ source('web') }}\n", LoadOptions{})
	if strings.Join(p.Landings, " ") != "sales web" {
		t.Errorf("landings = %v", p.Landings)
	}
	got := render(t, p, RenderContext{Landing: func(zone string) (string, error) {
		return "read_csv(['landing/" + zone + "/a.csv'])", nil
	}})
	if got != "SELECT * FROM read_csv(['landing/sales/a.csv'])\nUNION ALL\nSELECT * FROM read_csv(['landing/web/a.csv'])" {
		t.Errorf("landing = %s", got)
	}
	_, err := p.Render(RenderContext{})
	wantError(t, err, rat.EINVALID, "pipelines/silver/t.sql:1: landing('sales'): landing zones are not available")
}

func TestRenderVars(t *testing.T) {
	t.Parallel()
	p := renderWorkspace(t, "-- @materialized: table\n\nSELECT '{{ var('a') }}', '{{ var('b') }}', '{{ var('c') }}', '{{ var('z', 'dflt') }}', {{ var('n', default=3) }}\n{% if var('flag', false) %}AND{% endif %}\nWHERE x = '{{ var('missing') }}'\n", LoadOptions{})
	_, err := p.Render(RenderContext{Vars: map[string]any{"c": "run"}})
	// Header lines count: the missing var is on line 5 of the file.
	wantError(t, err, rat.EINVALID, "pipelines/silver/t.sql:5: var('missing') is not set: add it under vars: in workspace.yaml or the pipeline's YAML, or give a default")
	got := render(t, p, RenderContext{Vars: map[string]any{"c": "run", "missing": 7}})
	want := "-- @materialized: table\n\nSELECT 'ws', 'pipe', 'run', 'dflt', 3\n\nWHERE x = '7'"
	if got != want {
		t.Errorf("vars render as\n%s\nwant (workspace < pipeline < run)\n%s", got, want)
	}
}

func TestRenderEnvVar(t *testing.T) {
	t.Parallel()
	loadEnv := func(k string) (string, bool) { return map[string]string{"A": "from-load"}[k], k == "A" }
	p := renderWorkspace(t, "SELECT '{{ env_var('A') }}', '{{ env_var('B', 'b-default') }}', '{{ env_var('C', default='c-default') }}'\n-- {{ env_var('D') }}\n", LoadOptions{Env: loadEnv})
	_, err := p.Render(RenderContext{})
	wantError(t, err, rat.EINVALID, "pipelines/silver/t.sql:2: env_var('D'): D is not set: set it in the environment, or give a default: env_var('D', 'value')")

	runEnv := func(k string) (string, bool) {
		return map[string]string{"A": "run-a", "D": "d"}[k], k == "A" || k == "D"
	}
	if got := render(t, p, RenderContext{Env: runEnv}); got != "SELECT 'run-a', 'b-default', 'c-default'\n-- d" {
		t.Errorf("env_var = %s", got)
	}
	loadEnvD := func(k string) (string, bool) { return "load-" + k, k == "A" || k == "D" }
	p = renderWorkspace(t, "SELECT '{{ env_var('A') }}' -- {{ env_var('D') }}\n", LoadOptions{Env: loadEnvD})
	if got := render(t, p, RenderContext{}); got != "SELECT 'load-A' -- load-D" {
		t.Errorf("env_var with LoadOptions.Env = %s", got)
	}
}

func TestRenderRunStartedAt(t *testing.T) {
	t.Parallel()
	p := renderWorkspace(t, "SELECT TIMESTAMPTZ '{{ run_started_at }}'\n", LoadOptions{})
	at := time.Date(2024, 3, 1, 12, 30, 0, 5000, time.FixedZone("CET", 3600))
	if got := render(t, p, RenderContext{RunStartedAt: at}); got != "SELECT TIMESTAMPTZ '2024-03-01T11:30:00.000005Z'" {
		t.Errorf("run_started_at = %s", got)
	}
}

func TestRenderStrictUndefined(t *testing.T) {
	t.Parallel()
	// Discovery renders both modes, so a typo inside an incremental block
	// fails at load time, with its line.
	dir := writeWorkspace(t, map[string]string{
		"pipelines/silver/t.sql": "-- header\n\n{% if is_incremental() %}\nSELECT {{ columns }}\n{% endif %}\nSELECT 1\n",
	})
	_, err := Load(dir, LoadOptions{})
	wantError(t, err, rat.EINVALID, `pipelines/silver/t.sql:4: undefined name "columns"`)

	// At run time, a var without the attribute a template asks for.
	p := renderWorkspace(t, "SELECT 1\n{% if var('opts', false) %}{{ var('opts').limit }}{% endif %}\n", LoadOptions{})
	_, err = p.Render(RenderContext{Vars: map[string]any{"opts": map[string]any{"size": 1}}})
	wantError(t, err, rat.EINVALID, "pipelines/silver/t.sql:2: template error:", "limit")
}

func TestRenderOutput(t *testing.T) {
	t.Parallel()
	src := "-- @materialized: table\n-- title\n\nSELECT *\nFROM {{ ref('bronze.raw') }}\n{% if is_incremental() %}\nWHERE 1 = 1\n{% endif %}\nLIMIT 1\n"
	p := renderWorkspace(t, src, LoadOptions{})
	out, err := p.Render(RenderContext{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "-- @materialized: table\n-- title\n\nSELECT *\nFROM \"bronze\".\"raw\"\n\nLIMIT 1\n"; out != want {
		t.Errorf("full render = %q, want %q", out, want)
	}
	out, err = p.Render(RenderContext{Incremental: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := "-- @materialized: table\n-- title\n\nSELECT *\nFROM \"bronze\".\"raw\"\n\nWHERE 1 = 1\n\nLIMIT 1\n"; out != want {
		t.Errorf("incremental render = %q, want %q", out, want)
	}
}

func TestRenderHeaderIsNotTemplate(t *testing.T) {
	t.Parallel()
	dir := writeWorkspace(t, map[string]string{
		"pipelines/silver/x/pipeline.sql":     "SELECT 1 AS id\n",
		"pipelines/silver/x/tests/unit/u.sql": "-- @expect: [{\"a\": {\"b\": 1}}]\n-- @description: uses {{ and {% in text\nSELECT 1 AS a\n",
	})
	w := mustLoad(t, dir, LoadOptions{})
	u := mustGet(t, w, "silver.x").UnitTests[0]
	out, err := u.Render(RenderContext{})
	if err != nil || !strings.HasSuffix(out, "SELECT 1 AS a\n") {
		t.Errorf("unit test body = %q, %v", out, err)
	}
}

func TestRenderTests(t *testing.T) {
	t.Parallel()
	p := renderWorkspace(t, "SELECT 1 AS id\n", LoadOptions{})
	q := mustGet(t, p.ws, "silver.q")
	chk := q.QualityTests[0]
	if got, err := chk.Render(RenderContext{}); err != nil || !strings.Contains(got, `SELECT * FROM "silver"."q" WHERE id IS NULL`) {
		t.Errorf("quality test = %q, %v", got, err)
	}
	if got, err := chk.Render(RenderContext{This: "run_1.q"}); err != nil || !strings.Contains(got, "SELECT * FROM run_1.q WHERE") {
		t.Errorf("quality test with This = %q, %v", got, err)
	}

	dir := writeWorkspace(t, map[string]string{
		"pipelines/silver/x.sql":  "SELECT 1 AS id\n",
		"pipelines/silver/x.yaml": "description: x\ntests:\n  - name: no_nulls\n    sql: |\n      SELECT COUNT(*)\n      FROM {{ this }}\n      WHERE id IS NULL AND '{{ var('v') }}' = ''\n    expect: 0\n",
	})
	x := mustGet(t, mustLoad(t, dir, LoadOptions{}), "silver.x")
	ct := x.Config.Tests[0]
	if ct.Pipeline != x || ct.File != "pipelines/silver/x.yaml" || ct.Line != 3 {
		t.Errorf("custom test = %+v", ct)
	}
	got, err := ct.Render(RenderContext{Vars: map[string]any{"v": ""}})
	if err != nil || got != "SELECT COUNT(*)\nFROM \"silver\".\"x\"\nWHERE id IS NULL AND '' = ''\n" {
		t.Errorf("custom test = %q, %v", got, err)
	}
	_, err = ct.Render(RenderContext{})
	wantError(t, err, rat.EINVALID, "pipelines/silver/x.yaml:7: var('v') is not set")
}

func TestRenderConcurrently(t *testing.T) {
	t.Parallel()
	p := renderWorkspace(t, "SELECT {{ var('n') }} FROM {{ ref('silver_sales') }}\n", LoadOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := p.Render(RenderContext{Vars: map[string]any{"n": i}})
			if err == nil && out != fmt.Sprintf("SELECT %d FROM \"silver\".\"sales\"\n", i) {
				err = fmt.Errorf("goroutine %d got %q", i, out)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
