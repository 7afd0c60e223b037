package duckdb

import (
	"fmt"
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
		for {
			fname := p.word()
			ft, err := p.parse()
			if err != nil {
				return Type{}, err
			}
			t.Fields = append(t.Fields, Field{Name: fname, Type: ft})
			if p.peek() == ',' {
				p.i++
				continue
			}
			break
		}
		if err := p.expect(')'); err != nil {
			return Type{}, err
		}
	case "MAP":
		if err := p.expect('('); err != nil {
			return Type{}, err
		}
		k, err := p.parse()
		if err != nil {
			return Type{}, err
		}
		if err := p.expect(','); err != nil {
			return Type{}, err
		}
		v, err := p.parse()
		if err != nil {
			return Type{}, err
		}
		if err := p.expect(')'); err != nil {
			return Type{}, err
		}
		t.Key, t.Val = &k, &v
	default:
		if p.peek() == '(' {
			p.i++
			for {
				n, err := strconv.Atoi(strings.TrimSpace(p.word()))
				if err != nil {
					return Type{}, fmt.Errorf("cannot parse type %q: %w", p.s, err)
				}
				t.Args = append(t.Args, n)
				if p.peek() == ',' {
					p.i++
					continue
				}
				break
			}
			if err := p.expect(')'); err != nil {
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

func toIceberg(t Type, next func() int) (iceberg.Type, error) {
	switch t.Name {
	case "BOOLEAN", "BOOL":
		return iceberg.PrimitiveTypes.Bool, nil
	case "TINYINT", "SMALLINT", "INTEGER", "INT", "UTINYINT", "USMALLINT":
		return iceberg.PrimitiveTypes.Int32, nil
	case "BIGINT", "UINTEGER", "HUGEINT", "UBIGINT", "UHUGEINT":
		// sum() of integers is a HUGEINT in DuckDB: stored as a long, and
		// a value that does not fit fails the write loudly (no silent wrap).
		return iceberg.PrimitiveTypes.Int64, nil
	case "FLOAT", "REAL":
		return iceberg.PrimitiveTypes.Float32, nil
	case "DOUBLE", "DOUBLE PRECISION":
		return iceberg.PrimitiveTypes.Float64, nil
	case "DECIMAL", "NUMERIC":
		p, s := 18, 3
		if len(t.Args) >= 1 {
			p = t.Args[0]
		}
		if len(t.Args) >= 2 {
			s = t.Args[1]
		}
		return iceberg.DecimalTypeOf(p, s), nil
	case "VARCHAR", "TEXT", "STRING", "JSON":
		return iceberg.PrimitiveTypes.String, nil
	case "BLOB", "BYTEA", "VARBINARY":
		return iceberg.PrimitiveTypes.Binary, nil
	case "DATE":
		return iceberg.PrimitiveTypes.Date, nil
	case "TIME":
		return iceberg.PrimitiveTypes.Time, nil
	case "TIMESTAMP", "DATETIME", "TIMESTAMP_MS", "TIMESTAMP_S":
		return iceberg.PrimitiveTypes.Timestamp, nil
	case "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ":
		return iceberg.PrimitiveTypes.TimestampTz, nil
	case "UUID":
		return iceberg.PrimitiveTypes.UUID, nil
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
	case "ENUM":
		return iceberg.PrimitiveTypes.String, nil
	default:
		return nil, fmt.Errorf("type %s has no Iceberg equivalent: cast it to a supported type (integers, DECIMAL, DOUBLE, VARCHAR, BOOLEAN, DATE, TIMESTAMP, TIMESTAMPTZ, BLOB, UUID, LIST, STRUCT, MAP)", t.Name)
	}
}

// TypeOf returns the DuckDB type text for an Iceberg type.
func TypeOf(t iceberg.Type) (string, error) {
	switch t := t.(type) {
	case iceberg.BooleanType:
		return "BOOLEAN", nil
	case iceberg.Int32Type:
		return "INTEGER", nil
	case iceberg.Int64Type:
		return "BIGINT", nil
	case iceberg.Float32Type:
		return "FLOAT", nil
	case iceberg.Float64Type:
		return "DOUBLE", nil
	case iceberg.DecimalType:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision(), t.Scale()), nil
	case iceberg.StringType:
		return "VARCHAR", nil
	case iceberg.BinaryType, iceberg.FixedType:
		return "BLOB", nil
	case iceberg.DateType:
		return "DATE", nil
	case iceberg.TimeType:
		return "TIME", nil
	case iceberg.TimestampType:
		return "TIMESTAMP", nil
	case iceberg.TimestampTzType:
		return "TIMESTAMPTZ", nil
	case iceberg.UUIDType:
		return "UUID", nil
	case *iceberg.ListType:
		e, err := TypeOf(t.Element)
		if err != nil {
			return "", err
		}
		return e + "[]", nil
	case *iceberg.MapType:
		k, err := TypeOf(t.KeyType)
		if err != nil {
			return "", err
		}
		v, err := TypeOf(t.ValueType)
		if err != nil {
			return "", err
		}
		return "MAP(" + k + ", " + v + ")", nil
	case *iceberg.StructType:
		parts := make([]string, 0, len(t.FieldList))
		for _, f := range t.FieldList {
			ft, err := TypeOf(f.Type)
			if err != nil {
				return "", err
			}
			parts = append(parts, Ident(f.Name)+" "+ft)
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")", nil
	default:
		return "", rat.Errorf(rat.EINVALID, "Iceberg type %s is not supported by rat", t)
	}
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
