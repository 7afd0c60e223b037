package config

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/workspace-yaml.md from the config structs")

// referenceFile is the workspace.yaml reference, generated from the
// structs workspace.yaml is parsed into and their field comments.
var referenceFile = filepath.Join("..", "..", "docs", "workspace-yaml.md")

// TestWorkspaceReference regenerates docs/workspace-yaml.md and fails when
// the committed file differs (run with -update to rewrite it), so the
// reference cannot drift from the keys rat accepts. Every key needs a
// comment where its field is declared.
func TestWorkspaceReference(t *testing.T) {
	comments := fieldComments(t)
	var rows []string
	var walk func(typ reflect.Type, owner, path string)
	walk = func(typ reflect.Type, owner, path string) {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "" || key == "-" {
				continue
			}
			doc := comments[owner+"."+f.Name]
			if doc == "" {
				t.Errorf("workspace.yaml key %s (field %s.%s in internal/config) has no comment: write what it means where it is declared", joinKey(path, key), owner, f.Name)
			}
			p := joinKey(path, key)
			rows = append(rows, fmt.Sprintf("| `%s` | %s | %s |", p, yamlType(f.Type), strings.ReplaceAll(doc, "|", `\|`)))
			// Descend into the mapping a key holds: its own type, or an
			// anonymous struct declared in this field.
			elem, sub := f.Type, p
			for {
				switch elem.Kind() {
				case reflect.Pointer:
					elem = elem.Elem()
					continue
				case reflect.Slice:
					elem, sub = elem.Elem(), sub+"[]"
					continue
				case reflect.Map:
					elem, sub = elem.Elem(), sub+".<"+strings.TrimSuffix(key, "s")+">"
					continue
				}
				break
			}
			if elem.Kind() == reflect.Struct {
				next := elem.Name()
				if next == "" {
					next = owner + "." + f.Name
				}
				walk(elem, next, sub)
			}
		}
	}
	walk(reflect.TypeOf(Workspace{}), "Workspace", "")

	var b bytes.Buffer
	b.WriteString(`# workspace.yaml reference

<!-- Generated from the structs in internal/config/workspace.go and their comments by
     TestWorkspaceReference; do not edit by hand: change the comments, then run
     go test ./internal/config -run TestWorkspaceReference -update -->

` + "`workspace.yaml`" + ` marks a workspace's root: rat looks for the nearest one upwards from the
working directory (or ` + "`-C DIR`" + `, ` + "`RAT_WORKSPACE`" + `). Every key is optional; an unknown key is an
error that names the key, its line and the closest valid key. Environment variables and flags
override these values (see "Where state lives" in the README), and ` + "`rat config`" + ` prints every
effective value with where it came from. The original Ratatouille's keys are accepted with the
same meaning. Paths are relative to the workspace. A pipeline's own settings (materialization,
tests, triggers) live in its SQL header and YAML file, not here.

| key | type | meaning |
|---|---|---|
`)
	for _, r := range rows {
		b.WriteString(r + "\n")
	}
	b.WriteString(`
An example:

` + "```yaml" + `
name: shop
description: orders and customers, bronze to gold
resources:
  profile: medium
  max_memory_mb: 16384
storage:
  warehouse: s3://lake/shop/
catalog:
  url: postgres://rat@db:5432/rat
  branch: auto
runs:
  retention_days: 30
vars:
  currency: EUR
` + "```" + `
`)
	// The example must parse: a reference whose example is refused is worse
	// than none.
	example := b.String()[strings.Index(b.String(), "```yaml\n")+8:]
	example = example[:strings.Index(example, "```")]
	if _, err := ParseWorkspace("example", []byte(example)); err != nil {
		t.Errorf("the reference's example is refused: %v", err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(referenceFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(referenceFile, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(referenceFile)
	if err != nil {
		t.Fatalf("%v: generate it with go test ./internal/config -run TestWorkspaceReference -update", err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Errorf("docs/workspace-yaml.md is not what the config structs say: run go test ./internal/config -run TestWorkspaceReference -update and commit it")
	}
}

// fieldComments reads the comments of the struct fields declared in this
// package's files, keyed "Type.Field" (and "Type.Field.Inner" for a field
// of an anonymous struct).
func fieldComments(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	out := map[string]string{}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var fields func(owner string, st *ast.StructType)
	fields = func(owner string, st *ast.StructType) {
		for _, f := range st.Fields.List {
			text := ""
			if f.Comment != nil {
				text = f.Comment.Text()
			}
			if f.Doc != nil {
				text = f.Doc.Text()
			}
			for _, n := range f.Names {
				out[owner+"."+n.Name] = strings.Join(strings.Fields(text), " ")
				if inner, ok := f.Type.(*ast.StructType); ok {
					fields(owner+"."+n.Name, inner)
				}
			}
		}
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if st, ok := ts.Type.(*ast.StructType); ok {
					fields(ts.Name.Name, st)
				}
			}
			return true
		})
	}
	return out
}

// yamlType names a Go type as workspace.yaml spells values.
func yamlType(t reflect.Type) string {
	if t == reflect.TypeOf(TextList{}) {
		return "text or list of text"
	}
	switch t.Kind() {
	case reflect.Pointer:
		if t.Elem().Kind() == reflect.Struct {
			return yamlType(t.Elem())
		}
		return yamlType(t.Elem()) + " or null"
	case reflect.String:
		return "text"
	case reflect.Int, reflect.Int64:
		return "whole number"
	case reflect.Float64:
		return "number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "list of " + yamlType(t.Elem())
	case reflect.Map:
		return "mapping of name to " + yamlType(t.Elem())
	case reflect.Struct:
		return "mapping"
	default:
		return "any value"
	}
}
