package workspace

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/ratdata/rat"
	"gopkg.in/yaml.v3"
)

// MockFile is one tests/mocks/ file: YAML, CSV or JSON.
type MockFile struct {
	File   string // workspace-relative
	Tables []*MockTable
}

// MockTable is a table of mock rows for unit tests.
type MockTable struct {
	Table   rat.TableID // normalised: bronze.raw_sales and bronze_raw_sales are the same
	Columns []string    // in the order of the file
	// Rows hold nil, bool, int, float64, string, time.Time (YAML timestamps),
	// or nested lists and maps. CSV cells are typed per column: whole numbers,
	// numbers, true/false, or text; an empty cell is nil.
	Rows []map[string]any
	File string
	Line int
}

// parseMock reads a mock file. ext is yaml, yml, csv or json.
func (l *loader) parseMock(file string, data []byte) (*MockFile, error) {
	mf := &MockFile{File: file}
	switch strings.ToLower(path.Ext(file)) {
	case ".csv":
		t, err := l.csvMock(file, data)
		if err != nil {
			return nil, err
		}
		mf.Tables = []*MockTable{t}
	default: // YAML and JSON (a JSON document is YAML)
		tables, err := l.yamlMock(file, data)
		if err != nil {
			return nil, err
		}
		mf.Tables = tables
	}
	seen := map[rat.TableID]int{}
	for _, t := range mf.Tables {
		if first, dup := seen[t.Table]; dup {
			return nil, rat.Errorf(rat.EINVALID, "%s:%d: table %s is already defined at line %d: merge the rows into one entry", file, t.Line, t.Table, first)
		}
		seen[t.Table] = t.Line
	}
	return mf, nil
}

// yamlMock reads {table, rows}, {tables: [{table, rows}]}, {rows} (table
// from the file name) or a bare list of rows (table from the file name).
func (l *loader) yamlMock(file string, data []byte) ([]*MockTable, error) {
	d := yamlDoc{file: file}
	root, err := d.parse(data)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return nil, rat.Errorf(rat.EINVALID, "%s: the mock file is empty: write {table: layer.name, rows: [...]}", file)
	}
	if root.Kind == yaml.SequenceNode {
		t, err := l.mockTable(d, root, "", stem(file), root.Line)
		if err != nil {
			return nil, err
		}
		return []*MockTable{t}, nil
	}
	var table string
	var tableLine int
	var rows, tables *yaml.Node
	err = d.mapping(root, "", []string{"table", "rows", "tables"}, func(key string, _, v *yaml.Node) error {
		var err error
		switch key {
		case "table":
			table, err = d.str(v, "table")
			tableLine = v.Line
		case "rows":
			rows = v
		case "tables":
			tables = v
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	switch {
	case tables != nil && (rows != nil || table != ""):
		return nil, d.errorf(root, "", "use either tables: [...] or table: with rows:, not both")
	case tables != nil:
		items, err := d.seq(tables, "tables")
		if err != nil {
			return nil, err
		}
		var out []*MockTable
		for i, item := range items {
			p := fmt.Sprintf("tables[%d]", i)
			var name string
			var nameLine int
			var rows *yaml.Node
			err := d.mapping(item, p, []string{"table", "rows"}, func(key string, _, v *yaml.Node) error {
				var err error
				if key == "table" {
					name, err = d.str(v, p+".table")
					nameLine = v.Line
				} else {
					rows = v
				}
				return err
			})
			if err != nil {
				return nil, err
			}
			if name == "" {
				return nil, d.errorf(item, p, "missing table: name the table the rows stand for, such as table: bronze.raw_sales")
			}
			t, err := l.mockTable(d, rows, p+".rows", name, nameLine)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
		return out, nil
	case rows != nil || table != "":
		if table == "" {
			table, tableLine = stem(file), root.Line
		}
		t, err := l.mockTable(d, rows, "rows", table, tableLine)
		if err != nil {
			return nil, err
		}
		return []*MockTable{t}, nil
	}
	return nil, d.errorf(root, "", "a mock file needs table: and rows: (or tables: [...])")
}

// mockTable reads a list of row mappings, keeping the column order.
func (l *loader) mockTable(d yamlDoc, rows *yaml.Node, p, name string, line int) (*MockTable, error) {
	id, err := l.ws.normalizeTable(name)
	if err != nil {
		return nil, rat.Errorf(rat.EINVALID, "%s:%d: mock table %q: %w", d.file, line, name, err)
	}
	t := &MockTable{Table: id, File: d.file, Line: line, Rows: []map[string]any{}}
	if rows == nil {
		return t, nil
	}
	items, err := d.seq(rows, p)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i, item := range items {
		ip := fmt.Sprintf("%s[%d]", p, i)
		if item.Kind != yaml.MappingNode {
			return nil, d.errorf(item, ip, "want a row (a mapping of column: value), got %s", describeNode(item))
		}
		for j := 0; j < len(item.Content); j += 2 {
			if c := item.Content[j].Value; !seen[c] {
				seen[c] = true
				t.Columns = append(t.Columns, c)
			}
		}
		v, err := d.value(item, ip)
		if err != nil {
			return nil, err
		}
		row, _ := v.(map[string]any)
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// csvMock reads a CSV file with a header line; the table is the file's stem.
func (l *loader) csvMock(file string, data []byte) (*MockTable, error) {
	id, err := l.ws.normalizeTable(stem(file))
	if err != nil {
		return nil, rat.Errorf(rat.EINVALID, "%s: mock table %q (from the file name): %w", file, stem(file), err)
	}
	r := csv.NewReader(strings.NewReader(string(data)))
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, rat.Errorf(rat.EINVALID, "%s: the CSV file is empty: write a header line with the column names", file)
	}
	if err != nil {
		return nil, csvError(file, err)
	}
	for i := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff"))
	}
	var records [][]string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(file, err)
		}
		records = append(records, rec)
	}
	t := &MockTable{Table: id, Columns: header, File: file, Line: 1, Rows: make([]map[string]any, len(records))}
	for i := range records {
		t.Rows[i] = make(map[string]any, len(header))
	}
	for c, name := range header {
		cells := make([]string, len(records))
		for i, rec := range records {
			cells[i] = rec[c]
		}
		for i, v := range typeColumn(cells) {
			t.Rows[i][name] = v
		}
	}
	return t, nil
}

func csvError(file string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return rat.Errorf(rat.EINVALID, "%s:%d: %v: fix the CSV line", file, pe.Line, pe.Err)
	}
	return rat.Errorf(rat.EINVALID, "%s: %v", file, err)
}

// typeColumn types a CSV column as a whole: integers, numbers, booleans, or
// text when any cell is none of those. Empty cells are nil.
func typeColumn(cells []string) []any {
	out := make([]any, len(cells))
	isInt, isFloat, isBool := true, true, true
	for _, c := range cells {
		if c == "" {
			continue
		}
		if _, err := strconv.ParseInt(c, 10, 64); err != nil {
			isInt = false
		}
		if _, err := strconv.ParseFloat(c, 64); err != nil {
			isFloat = false
		}
		if lc := strings.ToLower(c); lc != "true" && lc != "false" {
			isBool = false
		}
	}
	for i, c := range cells {
		switch {
		case c == "":
			out[i] = nil
		case isInt:
			out[i], _ = strconv.ParseInt(c, 10, 64)
		case isFloat:
			out[i], _ = strconv.ParseFloat(c, 64)
		case isBool:
			out[i] = strings.ToLower(c) == "true"
		default:
			out[i] = c
		}
	}
	return out
}

// normalizeTable reads a table name written as layer.name or as layer_name
// with a layer the workspace knows (its pipeline layers, bronze, silver,
// gold and the layers of workspace.yaml). The longest matching layer wins.
func (w *Workspace) normalizeTable(name string) (rat.TableID, error) {
	s := strings.ToLower(strings.TrimSpace(name))
	if strings.Contains(s, ".") {
		return rat.ParseTableID(s)
	}
	layers := append([]string(nil), w.layers...)
	sort.Slice(layers, func(i, j int) bool { return len(layers[i]) > len(layers[j]) })
	for _, layer := range layers {
		if rest, ok := strings.CutPrefix(s, layer+"_"); ok && rest != "" {
			id := rat.TableID{Layer: layer, Name: rest}
			if id.Validate() == nil {
				return id, nil
			}
		}
	}
	return rat.TableID{}, rat.Errorf(rat.EINVALID, "want layer.name or layer_name with a known layer (%s), for example bronze.raw_sales", strings.Join(w.layers, ", "))
}
