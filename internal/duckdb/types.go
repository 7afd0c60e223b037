package duckdb

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/ratdata/rat"
)

// Column is a result column as DuckDB describes it.
type Column struct {
	Name string
	Type string // DuckDB type text, e.g. "DECIMAL(18,3)" or "STRUCT(a INTEGER)"
}

// Schema converts DuckDB result columns to an Iceberg schema. Field ids are
// provisional (1..n in depth-first order); the table assigns the real ones.
// Every column is optional: DuckDB results carry no NOT NULL information.
func Schema(cols []Column) (*iceberg.Schema, error) {
	ids := 0
	next := func() int { ids++; return ids }
	fields := make([]iceberg.NestedField, 0, len(cols))
	seen := map[string]bool{}
	for _, c := range cols {
		if seen[strings.ToLower(c.Name)] {
			return nil, rat.Errorf(rat.EINVALID, "column %q appears twice: give each column a distinct name (SELECT ... AS other_name)", c.Name)
		}
		seen[strings.ToLower(c.Name)] = true
		id := next()
		t, err := ParseType(c.Type)
		if err != nil {
			return nil, rat.Errorf(rat.EINVALID, "column %q: %s", c.Name, err.Error())
		}
		it, err := toIceberg(t, next)
		if err != nil {
			return nil, rat.Errorf(rat.EINVALID, "column %q: %s", c.Name, err.Error())
		}
		fields = append(fields, iceberg.NestedField{ID: id, Name: c.Name, Type: it})
	}
	return iceberg.NewSchema(0, fields...), nil
}

// Type is a parsed DuckDB type.
type Type struct {
	Name     string  // upper-case base name: INTEGER, DECIMAL, STRUCT, LIST, MAP, ...
	Args     []int   // DECIMAL precision and scale
	Fields   []Field // STRUCT fields
	Elem     *Type   // LIST element
	Key, Val *Type   // MAP key and value
}

// Field is a STRUCT member.
type Field struct {
	Name string
	Type Type
}

// ParseType parses DuckDB's type text as DESCRIBE prints it.
func ParseType(s string) (Type, error) {
	p := &typeParser{s: s}
	t, err := p.parse()
	if err != nil {
		return Type{}, err
	}
	p.space()
	if p.i != len(p.s) {
		return Type{}, fmt.Errorf("cannot parse type %q at %q", s, p.s[p.i:])
	}
	return t, nil
}

type typeParser struct {
	s string
	i int
}

func (p *typeParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *typeParser) word() string {
	p.space()
	start := p.i
	if p.i < len(p.s) && p.s[p.i] == '"' {
		var b strings.Builder
		p.i++
		for p.i < len(p.s) {
			if p.s[p.i] == '"' {
				if p.i+1 < len(p.s) && p.s[p.i+1] == '"' {
					b.WriteByte('"')
					p.i += 2
					continue
				}
				p.i++
				return b.String()
			}
			b.WriteByte(p.s[p.i])
			p.i++
		}
		return b.String()
	}
	for p.i < len(p.s) && !strings.ContainsRune(" (),[]", rune(p.s[p.i])) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *typeParser) expect(c byte) error {
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != c {
		return fmt.Errorf("cannot parse type %q: expected %q at position %d", p.s, c, p.i)
	}
	p.i++
	return nil
}

func (p *typeParser) peek() byte {
	p.space()
	if p.i >= len(p.s) {
		return 0
	}
	return p.s[p.i]
}

// list parses the rest of a parenthesised list after its '(': one item
// each, separated by commas, and the closing ')'.
func (p *typeParser) list(item func() error) error {
	for {
		if err := item(); err != nil {
			return err
		}
		if p.peek() != ',' {
			return p.expect(')')
		}
		p.i++
	}
}

func (p *typeParser) parse() (Type, error) {
	name := strings.ToUpper(p.word())
	if name == "" {
		return Type{}, fmt.Errorf("cannot parse type %q", p.s)
	}
	// Multi-word names.
	for _, suffix := range []string{"WITH TIME ZONE", "PRECISION"} {
		rest := strings.TrimLeft(p.s[p.i:], " ")
		if strings.HasPrefix(strings.ToUpper(rest), suffix) {
			p.i = len(p.s) - len(rest) + len(suffix)
			name += " " + suffix
		}
	}
	t := Type{Name: name}
	switch name {
	case "STRUCT":
		if err := p.expect('('); err != nil {
			return Type{}, err
		}
		err := p.list(func() error {
			fname := p.word()
			ft, err := p.parse()
			t.Fields = append(t.Fields, Field{Name: fname, Type: ft})
			return err
		})
		if err != nil {
			return Type{}, err
		}
	case "MAP":
		if err := p.expect('('); err != nil {
			return Type{}, err
		}
		var kv []Type
		err := p.list(func() error {
			if len(kv) == 2 {
				return fmt.Errorf("cannot parse type %q: MAP has a key and a value type, found a third at position %d", p.s, p.i)
			}
			e, err := p.parse()
			kv = append(kv, e)
			return err
		})
		if err != nil {
			return Type{}, err
		}
		if len(kv) != 2 {
			return Type{}, fmt.Errorf("cannot parse type %q: MAP wants a key and a value type", p.s)
		}
		t.Key, t.Val = &kv[0], &kv[1]
	default:
		if p.peek() == '(' {
			p.i++
			err := p.list(func() error {
				n, err := strconv.Atoi(strings.TrimSpace(p.word()))
				if err != nil {
					return fmt.Errorf("cannot parse type %q: %w", p.s, err)
				}
				t.Args = append(t.Args, n)
				return nil
			})
			if err != nil {
				return Type{}, err
			}
		}
	}
	// Trailing [] or [N] make lists (arrays become lists too).
	for p.peek() == '[' {
		p.i++
		for p.i < len(p.s) && p.s[p.i] != ']' {
			p.i++
		}
		if err := p.expect(']'); err != nil {
			return Type{}, err
		}
		elem := t
		t = Type{Name: "LIST", Elem: &elem}
	}
	return t, nil
}

// primitives pairs each Iceberg primitive type with the DuckDB type names
// that convert to it, the one DuckDB writes for it first. DECIMAL, with its
// precision and scale, and the nested types are converted in code.
var primitives = []struct {
	iceberg iceberg.Type
	duckdb  []string
}{
	{iceberg.PrimitiveTypes.Bool, []string{"BOOLEAN", "BOOL"}},
	{iceberg.PrimitiveTypes.Int32, []string{"INTEGER", "TINYINT", "SMALLINT", "INT", "UTINYINT", "USMALLINT"}},
	// sum() of integers is a HUGEINT in DuckDB: stored as a long, and a
	// value that does not fit fails the write loudly (no silent wrap).
	{iceberg.PrimitiveTypes.Int64, []string{"BIGINT", "UINTEGER", "HUGEINT", "UBIGINT", "UHUGEINT"}},
	{iceberg.PrimitiveTypes.Float32, []string{"FLOAT", "REAL"}},
	{iceberg.PrimitiveTypes.Float64, []string{"DOUBLE", "DOUBLE PRECISION"}},
	{iceberg.PrimitiveTypes.String, []string{"VARCHAR", "TEXT", "STRING", "JSON", "ENUM"}},
	{iceberg.PrimitiveTypes.Binary, []string{"BLOB", "BYTEA", "VARBINARY"}},
	{iceberg.PrimitiveTypes.Date, []string{"DATE"}},
	{iceberg.PrimitiveTypes.Time, []string{"TIME"}},
	{iceberg.PrimitiveTypes.Timestamp, []string{"TIMESTAMP", "DATETIME", "TIMESTAMP_MS", "TIMESTAMP_S"}},
	{iceberg.PrimitiveTypes.TimestampTz, []string{"TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"}},
	{iceberg.PrimitiveTypes.UUID, []string{"UUID"}},
}

func toIceberg(t Type, next func() int) (iceberg.Type, error) {
	for _, p := range primitives {
		if slices.Contains(p.duckdb, t.Name) {
			return p.iceberg, nil
		}
	}
	switch t.Name {
	case "DECIMAL", "NUMERIC":
		p, s := 18, 3
		if len(t.Args) >= 1 {
			p = t.Args[0]
		}
		if len(t.Args) >= 2 {
			s = t.Args[1]
		}
		return iceberg.DecimalTypeOf(p, s), nil
	case "LIST":
		id := next()
		et, err := toIceberg(*t.Elem, next)
		if err != nil {
			return nil, err
		}
		return &iceberg.ListType{ElementID: id, Element: et}, nil
	case "STRUCT":
		fields := make([]iceberg.NestedField, 0, len(t.Fields))
		for _, f := range t.Fields {
			id := next()
			ft, err := toIceberg(f.Type, next)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name, err)
			}
			fields = append(fields, iceberg.NestedField{ID: id, Name: f.Name, Type: ft})
		}
		return &iceberg.StructType{FieldList: fields}, nil
	case "MAP":
		kid, vid := next(), next()
		kt, err := toIceberg(*t.Key, next)
		if err != nil {
			return nil, fmt.Errorf("map key: %w", err)
		}
		vt, err := toIceberg(*t.Val, next)
		if err != nil {
			return nil, fmt.Errorf("map value: %w", err)
		}
		return &iceberg.MapType{KeyID: kid, KeyType: kt, ValueID: vid, ValueType: vt}, nil
	case "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE_NS":
		return nil, fmt.Errorf("type %s (nanoseconds) needs Iceberg v3: cast it to TIMESTAMP", t.Name)
	case "INTERVAL":
		return nil, fmt.Errorf("type INTERVAL has no Iceberg equivalent: convert it to a number of seconds (epoch(x)) or a VARCHAR")
	default:
		return nil, fmt.Errorf("type %s has no Iceberg equivalent: cast it to a supported type (integers, DECIMAL, DOUBLE, VARCHAR, BOOLEAN, DATE, TIMESTAMP, TIMESTAMPTZ, BLOB, UUID, LIST, STRUCT, MAP)", t.Name)
	}
}

// TypeOf returns the DuckDB type text for an Iceberg type.
func TypeOf(t iceberg.Type) (string, error) {
	switch t := t.(type) {
	case iceberg.DecimalType:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision(), t.Scale()), nil
	case iceberg.FixedType:
		return "BLOB", nil
	case *iceberg.ListType:
		e, err := typesOf(t.Element)
		if err != nil {
			return "", err
		}
		return e[0] + "[]", nil
	case *iceberg.MapType:
		kv, err := typesOf(t.KeyType, t.ValueType)
		if err != nil {
			return "", err
		}
		return "MAP(" + strings.Join(kv, ", ") + ")", nil
	case *iceberg.StructType:
		fts := make([]iceberg.Type, len(t.FieldList))
		for i, f := range t.FieldList {
			fts[i] = f.Type
		}
		parts, err := typesOf(fts...)
		if err != nil {
			return "", err
		}
		for i, f := range t.FieldList {
			parts[i] = Ident(f.Name) + " " + parts[i]
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")", nil
	default:
		for _, p := range primitives {
			if p.iceberg == t {
				return p.duckdb[0], nil
			}
		}
		return "", rat.Errorf(rat.EINVALID, "Iceberg type %s is not supported by rat", t)
	}
}

// typesOf is TypeOf of each type, in order.
func typesOf(ts ...iceberg.Type) ([]string, error) {
	out := make([]string, len(ts))
	for i, t := range ts {
		s, err := TypeOf(t)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// FieldIDs renders the FIELD_IDS option of COPY ... (FORMAT parquet) for a
// schema, so every Parquet column carries its Iceberg field id.
func FieldIDs(s *iceberg.Schema) string {
	parts := make([]string, 0, len(s.Fields()))
	for _, f := range s.Fields() {
		parts = append(parts, Ident(f.Name)+": "+fieldIDValue(f.ID, f.Type))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func fieldIDValue(id int, t iceberg.Type) string {
	switch t := t.(type) {
	case *iceberg.StructType:
		parts := []string{"__duckdb_field_id: " + strconv.Itoa(id)}
		for _, f := range t.FieldList {
			parts = append(parts, Ident(f.Name)+": "+fieldIDValue(f.ID, f.Type))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case *iceberg.ListType:
		return "{__duckdb_field_id: " + strconv.Itoa(id) + ", element: " + fieldIDValue(t.ElementID, t.Element) + "}"
	case *iceberg.MapType:
		return "{__duckdb_field_id: " + strconv.Itoa(id) + ", key: " + fieldIDValue(t.KeyID, t.KeyType) +
			", value: " + fieldIDValue(t.ValueID, t.ValueType) + "}"
	default:
		return strconv.Itoa(id)
	}
}

// ReadParquet returns a SQL expression that reads the given local Parquet
// files as a table with the schema's columns, mapping file columns to table
// columns by Iceberg field id (so renamed or added columns read correctly).
// With no files it returns an empty relation of the right shape.
func ReadParquet(files []string, s *iceberg.Schema) (string, error) {
	cols := make([]string, 0, len(s.Fields()))
	entries := make([]string, 0, len(s.Fields()))
	for _, f := range s.Fields() {
		dt, err := TypeOf(f.Type)
		if err != nil {
			return "", fmt.Errorf("column %s: %w", f.Name, err)
		}
		cols = append(cols, "CAST(NULL AS "+dt+") AS "+Ident(f.Name))
		entries = append(entries, fmt.Sprintf("%d: {name: %s, type: %s, default_value: NULL}", f.ID, Quote(f.Name), Quote(dt)))
	}
	if len(files) == 0 {
		if len(cols) == 0 {
			return "(SELECT NULL WHERE false)", nil
		}
		return "(SELECT " + strings.Join(cols, ", ") + " WHERE false)", nil
	}
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = Quote(f)
	}
	return "read_parquet([" + strings.Join(quoted, ", ") + "], schema = MAP {" + strings.Join(entries, ", ") + "})", nil
}

// ReadParquetByName reads files whose columns are exactly the schema's, by
// name and type (files written for a table that never changed its schema).
// It skips the field-id mapping, which DuckDB plans a little slower.
func ReadParquetByName(files []string, s *iceberg.Schema) (string, error) {
	if len(files) == 0 {
		return ReadParquet(files, s)
	}
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = Quote(f)
	}
	return "read_parquet([" + strings.Join(quoted, ", ") + "])", nil
}
