package workspace

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

var columnKeys = []string{"name", "type", "description", "pii", "pii_type", "example", "tests"}

// columns reads columns[]. Relationship targets are returned for later
// resolution, when every pipeline and alias is known.
func (d yamlDoc) columns(v *yaml.Node) ([]Column, []pendingRel, error) {
	items, err := d.seq(v, "columns")
	if err != nil {
		return nil, nil, err
	}
	var cols []Column
	var rels []pendingRel
	for i, item := range items {
		path := fmt.Sprintf("columns[%d]", i)
		col := Column{Line: item.Line}
		err := d.mapping(item, path, columnKeys, func(key string, _, v *yaml.Node) error {
			var err error
			switch key {
			case "name":
				col.Name, err = d.str(v, path+".name")
			case "type":
				col.Type, err = d.str(v, path+".type")
			case "description":
				col.Description, err = d.str(v, path+".description")
			case "pii":
				col.PII, err = d.boolean(v, path+".pii")
			case "pii_type":
				col.PIIType, err = d.str(v, path+".pii_type")
			case "example":
				col.Example, err = d.str(v, path+".example")
			case "tests":
				var tests []ColumnTest
				var targets []pendingRel
				tests, targets, err = d.columnTests(v, path+".tests")
				for _, t := range targets {
					t.column = len(cols)
					rels = append(rels, t)
				}
				col.Tests = tests
			}
			return err
		})
		if err != nil {
			return nil, nil, err
		}
		if strings.TrimSpace(col.Name) == "" {
			return nil, nil, d.errorf(item, path, "missing name: every column needs name:")
		}
		cols = append(cols, col)
	}
	return cols, rels, nil
}

// columnTests reads a column's tests: names (not_null, unique, positive) and
// one-key mappings ({accepted_values: [...]}, {relationships: {to, field}}).
func (d yamlDoc) columnTests(v *yaml.Node, path string) ([]ColumnTest, []pendingRel, error) {
	items, err := d.seq(v, path)
	if err != nil {
		return nil, nil, err
	}
	var tests []ColumnTest
	var rels []pendingRel
	for i, item := range items {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		kind, arg := "", (*yaml.Node)(nil)
		switch item.Kind {
		case yaml.ScalarNode:
			kind = item.Value
		case yaml.MappingNode:
			if len(item.Content) != 2 {
				return nil, nil, d.errorf(item, ipath, "want one test per list item, such as {accepted_values: [a, b]}")
			}
			kind, arg = item.Content[0].Value, resolveAlias(item.Content[1])
		default:
			return nil, nil, d.errorf(item, ipath, "want a test name (%s) or a mapping, got %s", strings.Join(columnTestKinds, ", "), describeNode(item))
		}
		if !contains(columnTestKinds, kind) {
			return nil, nil, d.errorf(item, ipath, "unknown column test %q%s: use one of %s", kind, didYouMean(kind, columnTestKinds), strings.Join(columnTestKinds, ", "))
		}
		t := ColumnTest{Kind: kind, Line: item.Line}
		switch kind {
		case AcceptedValues:
			if arg == nil || isNull(arg) {
				return nil, nil, d.errorf(item, ipath, "accepted_values needs its values: {accepted_values: [a, b]}")
			}
			if arg.Kind == yaml.MappingNode {
				var values *yaml.Node
				err := d.mapping(arg, ipath+".accepted_values", []string{"values"}, func(_ string, _, v *yaml.Node) error {
					values = v
					return nil
				})
				if err != nil {
					return nil, nil, err
				}
				if values == nil {
					return nil, nil, d.errorf(arg, ipath+".accepted_values", "missing values: add values: [a, b]")
				}
				arg = values
			}
			if arg.Kind != yaml.SequenceNode {
				return nil, nil, d.errorf(arg, ipath+".accepted_values", "want a list of values, got %s", describeNode(arg))
			}
			vals, err := d.value(arg, ipath+".accepted_values")
			if err != nil {
				return nil, nil, err
			}
			t.Values, _ = vals.([]any)
		case Relationships:
			if arg == nil || isNull(arg) {
				return nil, nil, d.errorf(item, ipath, "relationships needs {to: layer.name, field: column}")
			}
			var to string
			var toLine int
			err := d.mapping(arg, ipath+".relationships", []string{"to", "field"}, func(key string, _, v *yaml.Node) error {
				s, err := d.str(v, ipath+".relationships."+key)
				if key == "to" {
					to, toLine = s, v.Line
				} else {
					t.Field = s
				}
				return err
			})
			if err != nil {
				return nil, nil, err
			}
			if to == "" || t.Field == "" {
				return nil, nil, d.errorf(arg, ipath+".relationships", "needs both to: (a table, layer.name) and field: (its column)")
			}
			rels = append(rels, pendingRel{test: len(tests), name: to, line: toLine})
		default:
			if arg != nil && !isNull(arg) {
				return nil, nil, d.errorf(item, ipath, "%s takes no arguments: write it as - %s", kind, kind)
			}
		}
		tests = append(tests, t)
	}
	return tests, rels, nil
}

// customTests reads tests[]: {name, sql, expect, severity}.
func (d yamlDoc) customTests(v *yaml.Node) ([]*CustomTest, error) {
	items, err := d.seq(v, "tests")
	if err != nil {
		return nil, err
	}
	var out []*CustomTest
	for i, item := range items {
		path := fmt.Sprintf("tests[%d]", i)
		t := &CustomTest{File: d.file, Line: item.Line, Severity: SeverityError}
		err := d.mapping(item, path, []string{"name", "sql", "expect", "severity"}, func(key string, _, v *yaml.Node) error {
			var err error
			switch key {
			case "name":
				t.Name, err = d.str(v, path+".name")
			case "sql":
				t.SQL, err = d.str(v, path+".sql")
				// A block scalar (sql: |) starts on the next line.
				t.sqlOffset = v.Line - 1
				if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
					t.sqlOffset = v.Line
				}
			case "expect":
				if v.Kind == yaml.ScalarNode && v.Value == "empty" {
					t.ExpectEmpty = true
					return nil
				}
				var n int
				n, err = d.integer(v, path+".expect", 0)
				if err != nil {
					return d.errorf(v, path+".expect", "want a number of rows or empty, got %s", describeNode(v))
				}
				t.Expect = &n
			case "severity":
				var s string
				s, err = d.oneOf(v, path+".severity", severities)
				t.Severity = Severity(s)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if t.Name == "" || strings.TrimSpace(t.SQL) == "" {
			return nil, d.errorf(item, path, "a test needs both name: and sql:")
		}
		out = append(out, t)
	}
	return out, nil
}
