package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/workspace"
)

// Test outcomes.
const (
	TestPass  = "pass"
	TestFail  = "fail"  // the test found violating rows (or a wrong count)
	TestError = "error" // the test could not run
)

// TestResult reports one test.
type TestResult = rat.TestRun

// check is one test ready to run: SQL returning violating rows, or (for
// custom tests with an expected count) a count to compare.
type check struct {
	result      TestResult
	sql         string
	expectCount *int
}

// QualityTests runs the quality, column and custom tests of pipelines
// against their tables on a branch.
func (r *Runner) QualityTests(ctx context.Context, mu *sync.Mutex, pipelines []*workspace.Pipeline, branch string, started time.Time) []TestResult {
	return r.runTests(ctx, mu, pipelines, branch, started)
}

// runTests runs the quality, column and custom tests of the built
// pipelines on the branch, several at once.
func (r *Runner) runTests(ctx context.Context, mu *sync.Mutex, built []*workspace.Pipeline, branch string, started time.Time) []TestResult {
	var checks []check
	for _, p := range built {
		checks = append(checks, r.checks(ctx, p, branch, started)...)
	}
	results := make([]TestResult, len(checks))
	sem := make(chan struct{}, max(r.Parallel, 1))
	var wg sync.WaitGroup
	for i := range checks {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = r.runCheck(ctx, branch, checks[i])
			r.emit(mu, Event{Kind: "test_finished", Pipeline: results[i].Pipeline, Test: &results[i]})
		}(i)
	}
	wg.Wait()
	return results
}

// checks compiles a pipeline's tests to SQL.
func (r *Runner) checks(ctx context.Context, p *workspace.Pipeline, branch string, started time.Time) []check {
	rc := r.renderContext(ctx, p, branch, false, started)
	this := p.ID.String()
	var out []check
	add := func(name, kind string, sev workspace.Severity, file string, render func() (string, error), expect *int) {
		c := check{result: TestResult{Pipeline: this, Name: name, Kind: kind, Severity: severity(sev), File: file}, expectCount: expect}
		sqlText, err := render()
		if err != nil {
			c.result.Status, c.result.Error = TestError, rat.ErrorMessage(err)
		}
		c.sql = sqlText
		out = append(out, c)
	}
	for _, t := range p.QualityTests {
		if len(t.Mocks) > 0 {
			continue // runs on its mocks, with the unit tests
		}
		t := t
		add(t.Name, "quality", t.Severity, t.File, func() (string, error) { return t.Render(rc) }, t.ExpectCount)
	}
	for _, col := range p.Config.Columns {
		for _, ct := range col.Tests {
			q, err := columnTestSQL(this, col.Name, ct)
			add(col.Name+" "+ct.Kind, "column", workspace.SeverityError, p.ConfigFile, func() (string, error) { return q, err }, nil)
		}
	}
	for _, t := range p.Config.Tests {
		t := t
		var expect *int
		if t.Expect != nil {
			expect = t.Expect
		}
		add(t.Name, "custom", t.Severity, t.File, func() (string, error) { return t.Render(rc) }, expect)
	}
	return out
}

func severity(s workspace.Severity) string {
	if s == "" {
		return string(workspace.SeverityError)
	}
	return string(s)
}

// columnTestSQL compiles a column test to a query returning violating rows.
func columnTestSQL(table, column string, t workspace.ColumnTest) (string, error) {
	col := duckdb.Ident(column)
	switch t.Kind {
	case workspace.NotNull:
		return fmt.Sprintf("SELECT * FROM %s WHERE %s IS NULL", table, col), nil
	case workspace.Unique:
		return fmt.Sprintf("SELECT %s, count(*) AS occurrences FROM %s WHERE %s IS NOT NULL GROUP BY %s HAVING count(*) > 1", col, table, col, col), nil
	case workspace.Positive:
		return fmt.Sprintf("SELECT * FROM %s WHERE %s <= 0", table, col), nil
	case workspace.AcceptedValues:
		vals := make([]string, len(t.Values))
		for i, v := range t.Values {
			switch x := v.(type) {
			case string:
				vals[i] = duckdb.Quote(x)
			case nil:
				vals[i] = "NULL"
			default:
				vals[i] = fmt.Sprint(x)
			}
		}
		if len(vals) == 0 {
			return "", rat.Errorf(rat.EINVALID, "accepted_values of %s.%s lists no values", table, column)
		}
		return fmt.Sprintf("SELECT * FROM %s WHERE %s IS NOT NULL AND %s NOT IN (%s)", table, col, col, strings.Join(vals, ", ")), nil
	case workspace.Relationships:
		return fmt.Sprintf("SELECT t.* FROM %s t LEFT JOIN %s r ON t.%s = r.%s WHERE t.%s IS NOT NULL AND r.%s IS NULL",
			table, t.To, col, duckdb.Ident(t.Field), col, duckdb.Ident(t.Field)), nil
	}
	return "", rat.Errorf(rat.EINVALID, "unknown column test %q", t.Kind)
}

// runCheck runs one compiled test on the branch.
func (r *Runner) runCheck(ctx context.Context, branch string, c check) TestResult {
	res := c.result
	if res.Status == TestError {
		return res
	}
	start := r.now()
	defer func() { res.Duration = Duration(r.now().Sub(start)) }()
	if c.expectCount != nil {
		// The original Ratatouille's custom tests return a number.
		var got sql.NullInt64
		err := r.Lake.Query(ctx, branch, lake.At{}, c.sql, func(rows *sql.Rows) error {
			if rows.Next() {
				return rows.Scan(&got)
			}
			return nil
		})
		if err != nil {
			res.Status, res.Error = TestError, rat.ErrorMessage(err)
			return res
		}
		res.Violations = got.Int64
		if got.Int64 == int64(*c.expectCount) {
			res.Status = TestPass
		} else {
			res.Status = TestFail
			res.Error = fmt.Sprintf("got %d, expected %d", got.Int64, *c.expectCount)
		}
		return res
	}
	q := fmt.Sprintf("SELECT * FROM (%s) LIMIT 5", c.sql)
	err := r.Lake.Query(ctx, branch, lake.At{}, fmt.Sprintf("SELECT count(*) FROM (%s)", c.sql), func(rows *sql.Rows) error {
		if rows.Next() {
			return rows.Scan(&res.Violations)
		}
		return nil
	})
	if err == nil && res.Violations > 0 {
		err = r.Lake.Query(ctx, branch, lake.At{}, q, func(rows *sql.Rows) error {
			res.Sample, err = sampleRows(rows)
			return err
		})
	}
	switch {
	case err != nil:
		res.Status, res.Error = TestError, rat.ErrorMessage(err)
	case res.Violations > 0:
		res.Status = TestFail
	default:
		res.Status = TestPass
	}
	return res
}

func sampleRows(rows *sql.Rows) ([]string, error) {
	var out []string
	_, err := duckdb.EachRow(rows, func(cols []string, vals []any) error {
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = cols[i] + "=" + duckdb.Text(v)
		}
		out = append(out, strings.Join(parts, ", "))
		return nil
	})
	return out, err
}
