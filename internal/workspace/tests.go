package workspace

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/ratdata/rat"
	"gopkg.in/yaml.v3"
)

// Unit test modes.
const (
	ModeFull        = "full"
	ModeIncremental = "incremental"
)

var (
	qualityAnnotations = []string{"name", "description", "severity", "mocks", "expect_count"}
	unitAnnotations    = []string{"name", "description", "severity", "mocks", "mode", "watermarks", "expect_count", "expect", "expect_columns"}
)

// QualityTest is a tests/quality/*.sql file: SQL returning the rows that
// violate a rule (no rows = pass).
type QualityTest struct {
	TestFile
}

// TestFile is what a quality or a unit test file says of itself.
type TestFile struct {
	Name        string
	Description string
	Severity    Severity // error (default) blocks publication; warn reports
	// Mocks (@mocks) are run through the pipeline first. A quality test
	// without them reads the real table; a unit test's default is all of
	// the pipeline's mocks.
	Mocks       []*MockFile
	ExpectCount *int   // @expect_count: rows the query must return; nil = none
	File        string // workspace-relative
	SQL         string // the file as written
	Pipeline    *Pipeline
}

// Render renders the test's SQL. {{ this }} defaults to the pipeline's table.
func (t *QualityTest) Render(rc RenderContext) (string, error) {
	if rc.This == "" {
		rc.This = quoteTable(t.Pipeline.ID)
	}
	return t.Pipeline.ws.render(t.Pipeline, t.File, t.SQL, 0, rc)
}

// UnitTest is a tests/unit/*.sql file: run the pipeline's SQL on mock tables
// and compare the result with expected rows or a count.
type UnitTest struct {
	TestFile
	Mode          string            // full (default) or incremental
	Watermarks    map[string]string // @watermarks: column → value, for incremental mode
	Expect        []map[string]any  // @expect: expected rows
	ExpectColumns []string          // @expect_columns: the columns to compare
	HasBody       bool              // the file has a SELECT giving the expected rows
}

// Render renders the SELECT that gives the expected rows (the file's body).
func (t *UnitTest) Render(rc RenderContext) (string, error) {
	if !t.HasBody {
		return "", rat.Errorf(rat.EINVALID, "%s: the unit test has no SELECT giving the expected rows", t.File)
	}
	if rc.This == "" {
		rc.This = quoteTable(t.Pipeline.ID)
	}
	return t.Pipeline.ws.render(t.Pipeline, t.File, t.SQL, 0, rc)
}

// Tables returns the mock tables of the test's mock files.
func (t *UnitTest) Tables() []*MockTable {
	var out []*MockTable
	for _, f := range t.Mocks {
		out = append(out, f.Tables...)
	}
	return out
}

// CustomTest is one entry of a pipeline YAML's tests[].
type CustomTest struct {
	Name string
	SQL  string
	// Expect is the expected result: in the original Ratatouille the SQL
	// returns a count (SELECT COUNT(*) ...) and expect is that number; nil when
	// not given. ExpectEmpty is expect: empty (no rows).
	Expect      *int
	ExpectEmpty bool
	Severity    Severity
	File        string
	Line        int
	Pipeline    *Pipeline

	sqlOffset int // line of the file just before the SQL's first line
}

// Render renders the test's SQL. {{ this }} defaults to the pipeline's table.
func (t *CustomTest) Render(rc RenderContext) (string, error) {
	if rc.This == "" {
		rc.This = quoteTable(t.Pipeline.ID)
	}
	return t.Pipeline.ws.render(t.Pipeline, t.File, t.SQL, t.sqlOffset, rc)
}

// testFile reads a test file of p and the annotations every test takes
// (name, description, severity, mocks, expect_count); allowed are all it
// may have. The header is returned for the others.
func (l *loader) testFile(p *Pipeline, file string, allowed []string) (TestFile, sqlHeader, error) {
	src, err := l.read(file)
	if err != nil {
		return TestFile{}, sqlHeader{}, err
	}
	h := parseHeader(src)
	if err := h.check(l, file, allowed, []string{"mocks"}); err != nil {
		return TestFile{}, h, err
	}
	t := TestFile{Name: stem(file), Severity: SeverityError, File: file, SQL: src, Pipeline: p}
	for _, a := range h.annots {
		switch a.Key {
		case "name":
			t.Name = a.Value
		case "description":
			t.Description = a.Value
		case "severity":
			t.Severity, err = parseSeverity(file, a)
		case "expect_count":
			t.ExpectCount, err = parseCount(file, a)
		case "mocks":
			var mocks []*MockFile
			mocks, err = resolveMocks(p, file, a)
			t.Mocks = append(t.Mocks, mocks...)
		}
		if err != nil {
			return TestFile{}, h, err
		}
	}
	return t, h, nil
}

// body reports whether the file has SQL below its header.
func (t *TestFile) body(h sqlHeader) bool {
	return !isBlankSQL(strings.Join(splitLines(t.SQL)[h.bodyLine-1:], "\n"))
}

func (l *loader) qualityTest(p *Pipeline, file string) (*QualityTest, error) {
	tf, h, err := l.testFile(p, file, qualityAnnotations)
	if err != nil {
		return nil, err
	}
	t := &QualityTest{TestFile: tf}
	if !t.body(h) {
		return nil, rat.Errorf(rat.EINVALID, "%s: the quality test has no SQL: write a SELECT returning the rows that break the rule", file)
	}
	return t, nil
}

func (l *loader) unitTest(p *Pipeline, file string) (*UnitTest, error) {
	tf, h, err := l.testFile(p, file, unitAnnotations)
	if err != nil {
		return nil, err
	}
	t := &UnitTest{TestFile: tf, Mode: ModeFull}
	mocksGiven := false
	for _, a := range h.annots {
		at := fmt.Sprintf("%s:%d: @%s", file, a.Line, a.Key)
		switch a.Key {
		case "mocks":
			mocksGiven = true
		case "mode":
			switch a.Value {
			case ModeFull, "full_refresh":
				t.Mode = ModeFull
			case ModeIncremental:
				t.Mode = ModeIncremental
			default:
				return nil, rat.Errorf(rat.EINVALID, "%s: %q is not a mode%s: use full or incremental", at, a.Value, didYouMean(a.Value, []string{ModeFull, ModeIncremental}))
			}
		case "watermarks":
			if t.Watermarks, err = parseWatermarks(a.Value); err != nil {
				return nil, rat.Errorf(rat.EINVALID, "%s: %v: write column=value, for example -- @watermarks: updated_at=2024-01-01", at, err)
			}
		case "expect":
			var rows []map[string]any
			if err := yaml.Unmarshal([]byte(a.Value), &rows); err != nil || rows == nil {
				return nil, rat.Errorf(rat.EINVALID, "%s: want a JSON (or YAML flow) list of rows, for example [{\"id\": 1, \"name\": \"a\"}]", at)
			}
			t.Expect = rows
		case "expect_columns":
			t.ExpectColumns = splitList(a.Value)
		}
	}
	if !mocksGiven {
		t.Mocks = p.Mocks
	}
	t.HasBody = t.body(h)
	if t.ExpectCount == nil && t.Expect == nil && !t.HasBody {
		return nil, rat.Errorf(rat.EINVALID, "%s: the unit test expects nothing: add -- @expect_count: N, -- @expect: [{...}], or a SELECT giving the expected rows below the header", file)
	}
	if err := checkMockTables(file, t.Mocks); err != nil {
		return nil, err
	}
	return t, nil
}

func parseSeverity(file string, a annotation) (Severity, error) {
	if !contains(severities, a.Value) {
		return "", rat.Errorf(rat.EINVALID, "%s:%d: @severity: %q is not allowed%s: use error or warn", file, a.Line, a.Value, didYouMean(a.Value, severities))
	}
	return Severity(a.Value), nil
}

func parseCount(file string, a annotation) (*int, error) {
	n, err := strconv.Atoi(a.Value)
	if err != nil || n < 0 {
		return nil, rat.Errorf(rat.EINVALID, "%s:%d: @%s: want a number of rows (0 or more), got %q", file, a.Line, a.Key, a.Value)
	}
	return &n, nil
}

// parseWatermarks reads "col=value, col2=value" or a flow mapping
// "{col: value}" (the original's form).
func parseWatermarks(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("cannot read %q", s)
		}
		for k, v := range m {
			out[strings.ToLower(k)] = fmt.Sprint(v)
		}
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || !identPart(k) {
			return nil, fmt.Errorf("cannot read %q", strings.TrimSpace(part))
		}
		out[strings.ToLower(k)] = strings.Trim(strings.TrimSpace(v), `'"`)
	}
	return out, nil
}

// resolveMocks finds the mock files an @mocks annotation names: by file
// name (mocks/x.yaml, x.yaml) or by stem (x) when that is unambiguous.
func resolveMocks(p *Pipeline, file string, a annotation) ([]*MockFile, error) {
	var out []*MockFile
	var names []string
	for _, f := range p.Mocks {
		names = append(names, path.Base(f.File))
	}
	for _, want := range splitList(a.Value) {
		base := path.Base(strings.ReplaceAll(want, `\`, "/"))
		var found []*MockFile
		for _, f := range p.Mocks {
			if b := path.Base(f.File); b == base || stem(b) == base {
				found = append(found, f)
			}
		}
		switch len(found) {
		case 1:
			out = append(out, found[0])
		case 0:
			hint := didYouMean(base, names)
			if len(names) == 0 {
				return nil, rat.Errorf(rat.EINVALID, "%s:%d: @mocks: no mock file %q: the pipeline has no tests/mocks/ files; add tests/mocks/%s", file, a.Line, want, base)
			}
			return nil, rat.Errorf(rat.EINVALID, "%s:%d: @mocks: no mock file %q%s: the pipeline's mocks are %s", file, a.Line, want, hint, strings.Join(names, ", "))
		default:
			return nil, rat.Errorf(rat.EINVALID, "%s:%d: @mocks: %q matches several files: name one with its extension", file, a.Line, want)
		}
	}
	return out, nil
}

// checkMockTables rejects a set of mock files that defines one table twice.
func checkMockTables(file string, mocks []*MockFile) error {
	seen := map[rat.TableID]string{}
	for _, f := range mocks {
		for _, t := range f.Tables {
			if prev, dup := seen[t.Table]; dup && prev != f.File {
				return rat.Errorf(rat.EINVALID, "%s: mock table %s is defined by both %s and %s: name the files to use with -- @mocks: x.yaml", file, t.Table, prev, f.File)
			}
			seen[t.Table] = f.File
		}
	}
	return nil
}

// stem returns a file name without directory and extension.
func stem(file string) string {
	b := path.Base(file)
	return strings.TrimSuffix(b, path.Ext(b))
}
