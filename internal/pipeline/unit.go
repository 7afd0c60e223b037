package pipeline

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/workspace"
)

// UnitTests runs the unit tests of the given pipelines: each renders its
// pipeline's SQL against mock tables only, in a private DuckDB connection,
// and compares the result with the expected rows or count. Nothing reads or
// writes the catalog.
func (r *Runner) UnitTests(ctx context.Context, pipelines []*workspace.Pipeline, tmpDir string) []TestResult {
	var out []TestResult
	for _, p := range pipelines {
		for _, t := range p.UnitTests {
			start := r.now()
			res := r.unitTest(ctx, t, tmpDir)
			res.Duration = Duration(r.now().Sub(start))
			out = append(out, res)
		}
		for _, t := range p.QualityTests {
			if len(t.Mocks) == 0 {
				continue
			}
			start := r.now()
			res := r.mockedQuality(ctx, t, tmpDir)
			res.Duration = Duration(r.now().Sub(start))
			out = append(out, res)
		}
	}
	return out
}

// withMocks runs fn on a private connection holding the mock tables as
// temporary tables, with a render context whose refs read them.
func (r *Runner) withMocks(ctx context.Context, p *workspace.Pipeline, file string, tables []*workspace.MockTable, incremental bool, watermarks map[string]string, tmpDir string, fn func(conn *sql.Conn, rc workspace.RenderContext) error) error {
	return r.Lake.DB().WithViews(ctx, nil, func(conn *sql.Conn) error {
		mocks := map[rat.TableID]string{}
		defer func() {
			for _, name := range mocks {
				_, _ = conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+name)
			}
		}()
		for i, m := range tables {
			name := fmt.Sprintf("rat_mock_%d_%s_%s", i, m.Table.Layer, m.Table.Name)
			if err := createMock(ctx, conn, name, m, tmpDir); err != nil {
				return err
			}
			mocks[m.Table] = name
		}
		rc := workspace.RenderContext{
			Incremental: incremental,
			Ref: func(id rat.TableID) (string, error) {
				if name, ok := mocks[id]; ok {
					return name, nil
				}
				return "", rat.Errorf(rat.EINVALID, "%s: the test reads %s but no mock provides it: add it to a mock file (tests/mocks/)", file, id)
			},
			Watermark: func(col string) (string, error) {
				if v, ok := watermarks[col]; ok {
					return v, nil
				}
				return "1970-01-01 00:00:00", nil
			},
			Landing: func(zone string) (string, error) {
				return "", rat.Errorf(rat.EINVALID, "%s: tests on mocks cannot read landing('%s'): mock the tables the pipeline reads instead", file, zone)
			},
			Vars: r.Vars, Env: r.Env, RunStartedAt: r.now(),
		}
		if name, ok := mocks[p.ID]; ok {
			rc.This = name // incremental tests mock the table's current rows
		}
		return fn(conn, rc)
	})
}

// mockedQuality runs a quality test whose @mocks say to build the
// pipeline on mock tables first: the test's {{ this }} is that result.
func (r *Runner) mockedQuality(ctx context.Context, t *workspace.QualityTest, tmpDir string) TestResult {
	res := TestResult{Pipeline: t.Pipeline.ID.String(), Name: t.Name, Kind: "quality", Severity: severity(t.Severity), File: t.File}
	// The listed mocks first; tables they do not cover come from the
	// pipeline's other mock files.
	var tables []*workspace.MockTable
	have := map[rat.TableID]bool{}
	for _, f := range t.Mocks {
		for _, m := range f.Tables {
			tables = append(tables, m)
			have[m.Table] = true
		}
	}
	for _, f := range t.Pipeline.Mocks {
		for _, m := range f.Tables {
			if !have[m.Table] {
				tables = append(tables, m)
				have[m.Table] = true
			}
		}
	}
	err := r.withMocks(ctx, t.Pipeline, t.File, tables, false, nil, tmpDir, func(conn *sql.Conn, rc workspace.RenderContext) error {
		query, err := t.Pipeline.Render(rc)
		if err != nil {
			return err
		}
		built := "rat_mock_result"
		if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE "+built+" AS "+query); err != nil {
			return duckdb.UserError(fmt.Sprintf("%s: run %s on mocks", t.File, t.Pipeline.ID), err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+built)
		rc.This = built
		check, err := t.Render(rc)
		if err != nil {
			return err
		}
		rows, _, err := fetch(ctx, conn, check)
		if err != nil {
			return fmt.Errorf("%s: %w", t.File, err)
		}
		res.Violations = int64(len(rows))
		res.Status = TestPass
		switch {
		case t.ExpectCount != nil && len(rows) != *t.ExpectCount:
			res.Status, res.Error = TestFail, fmt.Sprintf("got %d rows, expected %d", len(rows), *t.ExpectCount)
		case t.ExpectCount == nil && len(rows) > 0:
			res.Status = TestFail
		}
		return nil
	})
	if err != nil {
		res.Status, res.Error = TestError, rat.ErrorMessage(err)
	}
	return res
}

func (r *Runner) unitTest(ctx context.Context, t *workspace.UnitTest, tmpDir string) TestResult {
	res := TestResult{Pipeline: t.Pipeline.ID.String(), Name: t.Name, Kind: "unit", Severity: severity(t.Severity), File: t.File}
	fail := func(err error) TestResult {
		res.Status, res.Error = TestError, rat.ErrorMessage(err)
		return res
	}
	err := r.withMocks(ctx, t.Pipeline, t.File, t.Tables(), t.Mode == workspace.ModeIncremental, t.Watermarks, tmpDir, func(conn *sql.Conn, rc workspace.RenderContext) error {
		query, err := t.Pipeline.Render(rc)
		if err != nil {
			return err
		}
		actual, cols, err := fetch(ctx, conn, query)
		if err != nil {
			return fmt.Errorf("%s: run %s on mocks: %w", t.File, t.Pipeline.ID, err)
		}
		var problems []string
		if t.ExpectCount != nil && len(actual) != *t.ExpectCount {
			problems = append(problems, fmt.Sprintf("got %d rows, expected %d", len(actual), *t.ExpectCount))
		}
		if len(t.ExpectColumns) > 0 {
			if missing := missingColumns(cols, t.ExpectColumns); len(missing) > 0 {
				problems = append(problems, "missing columns "+strings.Join(missing, ", "))
			}
		}
		var expected []map[string]string
		switch {
		case t.Expect != nil:
			for _, row := range t.Expect {
				m := map[string]string{}
				for k, v := range row {
					m[k] = literalText(v)
				}
				expected = append(expected, m)
			}
		case t.HasBody:
			body, err := t.Render(rc)
			if err != nil {
				return err
			}
			if expected, _, err = fetch(ctx, conn, body); err != nil {
				return fmt.Errorf("%s: expected rows: %w", t.File, err)
			}
		}
		if expected != nil {
			problems = append(problems, compareRows(actual, expected, t.ExpectColumns)...)
		}
		res.Status = TestPass
		if len(problems) > 0 {
			res.Status = TestFail
			res.Violations = int64(len(problems))
			res.Error = strings.Join(problems, "; ")
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	return res
}

// createMock materialises mock rows as a temporary table. The rows go
// through an NDJSON file so DuckDB infers column types as it does for data.
func createMock(ctx context.Context, conn *sql.Conn, name string, m *workspace.MockTable, tmpDir string) error {
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(tmpDir, "mock-*.ndjson")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	enc := json.NewEncoder(f)
	for _, row := range m.Rows {
		clean := map[string]any{}
		for k, v := range row {
			if tm, ok := v.(time.Time); ok {
				v = tm.UTC().Format("2006-01-02 15:04:05.999999")
			}
			clean[k] = v
		}
		if err := enc.Encode(clean); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	cols := make([]string, len(m.Columns))
	for i, c := range m.Columns {
		cols[i] = duckdb.Ident(c)
	}
	sel := "*"
	if len(cols) > 0 {
		sel = strings.Join(cols, ", ")
	}
	q := fmt.Sprintf("CREATE TEMP TABLE %s AS SELECT %s FROM read_json_auto(%s, format = 'newline_delimited')", name, sel, duckdb.Quote(filepath.ToSlash(f.Name())))
	if len(m.Rows) == 0 {
		return rat.Errorf(rat.EINVALID, "%s:%d: mock %s has no rows: give at least one (types come from the values)", m.File, m.Line, m.Table)
	}
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return duckdb.UserError(fmt.Sprintf("%s: mock %s", m.File, m.Table), err)
	}
	return nil
}

// fetch runs a query and returns its rows as column → text.
func fetch(ctx context.Context, conn *sql.Conn, query string) ([]map[string]string, []string, error) {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return nil, nil, duckdb.UserError("query", err)
	}
	defer rows.Close()
	var out []map[string]string
	cols, err := duckdb.EachRow(rows, func(cols []string, vals []any) error {
		m := make(map[string]string, len(cols))
		for i, c := range cols {
			m[c] = literalText(vals[i])
		}
		out = append(out, m)
		return nil
	})
	return out, cols, err
}

// literalText renders a value for comparison: numbers without trailing
// zeros, NULL as "NULL".
func literalText(v any) string {
	if v == nil {
		return "NULL"
	}
	s := duckdb.Text(v)
	if strings.Contains(s, ".") && strings.Trim(s, "0123456789.-") == "" {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func missingColumns(have, want []string) []string {
	set := map[string]bool{}
	for _, c := range have {
		set[strings.ToLower(c)] = true
	}
	var missing []string
	for _, c := range want {
		if !set[strings.ToLower(c)] {
			missing = append(missing, c)
		}
	}
	return missing
}

// compareRows compares actual and expected rows as multisets over the
// given columns (default: the expected rows' columns).
func compareRows(actual, expected []map[string]string, columns []string) []string {
	if len(columns) == 0 {
		set := map[string]bool{}
		for _, row := range expected {
			for k := range row {
				set[k] = true
			}
		}
		for k := range set {
			columns = append(columns, k)
		}
		sort.Strings(columns)
	}
	key := func(row map[string]string) string {
		parts := make([]string, len(columns))
		for i, c := range columns {
			v, ok := row[c]
			if !ok {
				for k, x := range row {
					if strings.EqualFold(k, c) {
						v, ok = x, true
					}
				}
			}
			if !ok {
				v = "<missing>"
			}
			parts[i] = c + "=" + v
		}
		return strings.Join(parts, ", ")
	}
	count := map[string]int{}
	for _, row := range actual {
		count[key(row)]++
	}
	var problems []string
	for _, row := range expected {
		k := key(row)
		if count[k] > 0 {
			count[k]--
			continue
		}
		problems = append(problems, "missing row {"+k+"}")
	}
	var extra []string
	for k, n := range count {
		for ; n > 0; n-- {
			extra = append(extra, "unexpected row {"+k+"}")
		}
	}
	sort.Strings(extra)
	return append(problems, extra...)
}
