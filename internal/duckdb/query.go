package duckdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/ratdata/rat"
)

// ReadOnlyHint tells users how to write when they tried to through a query.
const ReadOnlyHint = "queries are read-only: load files with 'rat load FILE --into layer.name', or write a pipeline SQL file and 'rat run' it"

// CopyHint says what to use instead of a COPY through a query.
const CopyHint = "to rewrite a table's files into fewer, larger (sorted) ones use 'rat optimize TABLE' (see 'rat optimize --help'); to write a query's result to a file, run the SELECT with --export: rat query \"SELECT ...\" --export out.parquet (or s3://bucket/out.parquet)"

// firstKeyword is the first word of a statement, after blanks and comments.
func firstKeyword(query string) string {
	for {
		query = strings.TrimLeft(query, " \t\r\n;(")
		switch {
		case strings.HasPrefix(query, "--"):
			_, query, _ = strings.Cut(query, "\n")
		case strings.HasPrefix(query, "/*"):
			_, query, _ = strings.Cut(query, "*/")
		default:
			end := strings.IndexFunc(query, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') })
			if end < 0 {
				return query
			}
			return query[:end]
		}
	}
}

// Statement is a parsed, read-only SELECT.
type Statement struct {
	// Tables are the schema-qualified tables it reads ("bronze.sales"),
	// sorted and deduplicated.
	Tables []string
	refs   []tableRef // every reference, in text order
	text   string
	inline bool // every reference could be located in the text
	// outside names what the query reads besides tables: table functions
	// (read_csv, read_text, …) and file paths read by DuckDB's
	// replacement scans ('data.csv').
	outside []string
}

// computeFunctions are the table functions that read nothing: they
// compute their rows.
var computeFunctions = map[string]bool{"range": true, "generate_series": true, "unnest": true}

// Outside returns what the query reads besides tables (files, through
// table functions or paths), in text order; empty when it reads tables
// only. Queries from the API must read tables only: a token to run
// queries is not a key to the server's files.
func (st *Statement) Outside() []string { return st.outside }

// tableRef is one occurrence of a table in the query text.
type tableRef struct {
	table      string // schema.name as DuckDB parsed it
	start, end int    // byte span of the reference in the text
	alias      bool   // the query gives it an alias
}

// parseCache remembers parsed statements by query text.
type parseCache struct {
	mu sync.Mutex
	m  map[string]*Statement
	// serialize is serializeSQL prepared (nil until the first parse).
	serialize *sql.Stmt
}

// serializeSQL has DuckDB parse a query and return its syntax tree as JSON.
const serializeSQL = "SELECT CAST(json_serialize_sql(?::VARCHAR) AS VARCHAR)"

// serializer returns serializeSQL prepared once per database: DuckDB
// would otherwise parse and plan it again for every query parsed.
func (d *DB) serializer(ctx context.Context) (*sql.Stmt, error) {
	d.parsed.mu.Lock()
	defer d.parsed.mu.Unlock()
	if d.parsed.serialize == nil {
		st, err := d.db.PrepareContext(ctx, serializeSQL)
		if err != nil {
			return nil, err
		}
		d.parsed.serialize = st
	}
	return d.parsed.serialize, nil
}

// Parse parses a single SELECT statement. Anything but one SELECT (INSERT,
// CREATE, COPY, several statements) is an EINVALID error. Results are
// cached by query text.
func (d *DB) Parse(ctx context.Context, query string) (*Statement, error) {
	d.parsed.mu.Lock()
	st, ok := d.parsed.m[query]
	d.parsed.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := d.parse(ctx, query)
	if err != nil {
		return nil, err
	}
	d.parsed.mu.Lock()
	if d.parsed.m == nil || len(d.parsed.m) > 1024 {
		d.parsed.m = map[string]*Statement{}
	}
	d.parsed.m[query] = st
	d.parsed.mu.Unlock()
	return st, nil
}

// Referenced returns the schema-qualified tables a SELECT reads.
func (d *DB) Referenced(ctx context.Context, query string) ([]string, error) {
	st, err := d.Parse(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.Tables, nil
}

func (d *DB) parse(ctx context.Context, query string) (*Statement, error) {
	var out string
	ser, err := d.serializer(ctx)
	if err == nil {
		err = ser.QueryRowContext(ctx, query).Scan(&out)
	}
	if err != nil {
		return nil, UserError("parse SQL", err)
	}
	var parsed struct {
		Error      bool              `json:"error"`
		ErrorType  string            `json:"error_type"`
		Message    string            `json:"error_message"`
		Statements []json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal([]byte(out), &parsed); err != nil {
		return nil, fmt.Errorf("parse serialized SQL: %w", err)
	}
	if parsed.Error {
		if parsed.ErrorType == "not implemented" {
			if strings.EqualFold(firstKeyword(query), "COPY") {
				return nil, rat.Errorf(rat.EINVALID, "COPY does not run here: %s", CopyHint)
			}
			return nil, rat.Errorf(rat.EINVALID, "only SELECT statements can run here; %s", ReadOnlyHint)
		}
		return nil, rat.Errorf(rat.EINVALID, "SQL: %s", strings.TrimPrefix(parsed.Message, "Parser Error: "))
	}
	if len(parsed.Statements) != 1 {
		return nil, rat.Errorf(rat.EINVALID, "SQL holds %d statements: run one SELECT at a time", len(parsed.Statements))
	}
	var tree any
	if err := json.Unmarshal(parsed.Statements[0], &tree); err != nil {
		return nil, fmt.Errorf("parse serialized SQL: %w", err)
	}
	st := &Statement{text: query, inline: true}
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch n := v.(type) {
		case map[string]any:
			if n["type"] == "TABLE_FUNCTION" {
				if fn, ok := n["function"].(map[string]any); ok {
					if name, _ := fn["function_name"].(string); !computeFunctions[strings.ToLower(name)] {
						st.outside = append(st.outside, name+"()")
					}
				}
			}
			if n["type"] == "BASE_TABLE" {
				schema, _ := n["schema_name"].(string)
				name, _ := n["table_name"].(string)
				catalog, _ := n["catalog_name"].(string)
				if schema == "" && strings.ContainsAny(name, "./\\:~") {
					st.outside = append(st.outside, "'"+name+"'") // a file, for a replacement scan
				}
				if schema != "" && catalog == "" {
					// rat's table names are case-insensitive, like SQL's.
					table := strings.ToLower(schema + "." + name)
					seen[table] = true
					st.addRef(n, schema, name)
				}
			}
			for _, c := range n {
				walk(c)
			}
		case []any:
			for _, c := range n {
				walk(c)
			}
		}
	}
	walk(tree)
	for t := range seen {
		st.Tables = append(st.Tables, t)
	}
	sort.Strings(st.Tables)
	sort.Slice(st.refs, func(i, j int) bool { return st.refs[i].start < st.refs[j].start })
	for i := 1; i < len(st.refs); i++ {
		if st.refs[i].start < st.refs[i-1].end {
			st.inline = false
		}
	}
	return st, nil
}

// addRef locates a table reference in the text. When it cannot be located
// exactly, or the query names columns as schema.table.column (which an
// inlined reference would break), the statement falls back to views.
func (st *Statement) addRef(n map[string]any, schema, name string) {
	loc, ok := n["query_location"].(float64)
	aliases, _ := n["column_name_alias"].([]any)
	if !ok || n["at_clause"] != nil || len(aliases) > 0 {
		st.inline = false
		return
	}
	start := int(loc)
	s, i, ok1 := scanIdent(st.text, start)
	i = skipSpace(st.text, i)
	if !ok1 || i >= len(st.text) || st.text[i] != '.' {
		st.inline = false
		return
	}
	t, end, ok2 := scanIdent(st.text, skipSpace(st.text, i+1))
	if !ok2 || !strings.EqualFold(s, schema) || !strings.EqualFold(t, name) {
		st.inline = false
		return
	}
	rest := skipSpace(st.text, end)
	if rest < len(st.text) && st.text[rest] == '.' {
		st.inline = false // a three-part name: catalog.schema.table or similar
		return
	}
	if strings.Contains(strings.ToLower(st.text), strings.ToLower(schema+"."+name+".")) {
		st.inline = false
		return
	}
	alias, _ := n["alias"].(string)
	st.refs = append(st.refs, tableRef{table: strings.ToLower(schema + "." + name), start: start, end: end, alias: alias != ""})
}

// Inline rewrites the query with every table reference replaced by its
// read expression: DuckDB then plans exactly what a hand-written
// read_parquet query would get. ok is false when the statement cannot be
// rewritten safely; use views then.
func (st *Statement) Inline(from map[string]string) (string, bool) {
	if !st.inline {
		return "", false
	}
	var b strings.Builder
	last := 0
	for _, r := range st.refs {
		expr, ok := from[r.table]
		if !ok {
			return "", false
		}
		b.WriteString(st.text[last:r.start])
		b.WriteString(expr)
		if !r.alias {
			_, name, _ := strings.Cut(r.table, ".")
			b.WriteString(" AS " + Ident(name))
		}
		last = r.end
	}
	b.WriteString(st.text[last:])
	return b.String(), true
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// scanIdent reads a SQL identifier at i: "quoted" (with "" escapes) or bare.
func scanIdent(s string, i int) (string, int, bool) {
	if i >= len(s) {
		return "", i, false
	}
	if s[i] == '"' {
		var b strings.Builder
		for j := i + 1; j < len(s); j++ {
			if s[j] == '"' {
				if j+1 < len(s) && s[j+1] == '"' {
					b.WriteByte('"')
					j++
					continue
				}
				return b.String(), j + 1, true
			}
			b.WriteByte(s[j])
		}
		return "", i, false
	}
	j := i
	for j < len(s) && (s[j] == '_' || s[j] == '$' || s[j] >= 0x80 || ('a' <= s[j] && s[j] <= 'z') || ('A' <= s[j] && s[j] <= 'Z') || ('0' <= s[j] && s[j] <= '9')) {
		j++
	}
	return s[i:j], j, j > i
}

// View binds a qualified name to a read expression for one query.
type View struct {
	Schema, Name string
	From         string // e.g. the result of ReadParquet
}

// scopes caches private in-memory catalogs holding one set of views each.
// A set of views describes immutable snapshots, so a catalog built for it
// stays valid and later queries over the same snapshots reuse it.
type scopes struct {
	mu    sync.Mutex
	seq   int64
	items map[string]*scope
	max   int
}

type scope struct {
	name    string
	users   int
	lastUse int64
}

// WithViews runs fn on a dedicated connection on which the given views are
// visible under their qualified names (bronze.sales). The views live in a
// private in-memory catalog selected with USE on that connection only, so
// concurrent queries on other branches or snapshots never see each other's.
func (d *DB) WithViews(ctx context.Context, views []View, fn func(conn *sql.Conn) error) (err error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("duckdb connection: %w", err)
	}
	defer conn.Close()
	if len(views) == 0 {
		return fn(conn)
	}
	sc, err := d.acquireScope(ctx, conn, views)
	if err != nil {
		return err
	}
	defer d.releaseScope(sc)
	if _, err := conn.ExecContext(ctx, "USE "+sc.name); err != nil {
		return fmt.Errorf("select views: %w", err)
	}
	defer func() {
		// Leave the pooled connection as we found it.
		if _, uerr := conn.ExecContext(context.WithoutCancel(ctx), "USE memory"); uerr != nil && err == nil {
			err = fmt.Errorf("reset connection: %w", uerr)
		}
	}()
	return fn(conn)
}

func scopeKey(views []View) string {
	h := sha256.New()
	for _, v := range views {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00", v.Schema, v.Name, v.From)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (d *DB) acquireScope(ctx context.Context, conn *sql.Conn, views []View) (*scope, error) {
	key := scopeKey(views)
	s := &d.scopes
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	if sc, ok := s.items[key]; ok {
		sc.users++
		sc.lastUse = s.seq
		return sc, nil
	}
	sc := &scope{name: fmt.Sprintf("rat_scope_%d", s.seq), users: 1, lastUse: s.seq}
	var b strings.Builder
	fmt.Fprintf(&b, "ATTACH ':memory:' AS %s;", sc.name)
	schemas := map[string]bool{}
	for _, v := range views {
		if !schemas[v.Schema] {
			schemas[v.Schema] = true
			fmt.Fprintf(&b, "CREATE SCHEMA %s.%s;", sc.name, Ident(v.Schema))
		}
		fmt.Fprintf(&b, "CREATE VIEW %s.%s.%s AS SELECT * FROM %s;", sc.name, Ident(v.Schema), Ident(v.Name), v.From)
	}
	if _, err := conn.ExecContext(ctx, b.String()); err != nil {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "DETACH DATABASE IF EXISTS "+sc.name)
		return nil, fmt.Errorf("prepare views: %w", err)
	}
	if s.items == nil {
		s.items = map[string]*scope{}
	}
	s.items[key] = sc
	d.evictScopes(ctx, conn)
	return sc, nil
}

func (d *DB) releaseScope(sc *scope) {
	d.scopes.mu.Lock()
	sc.users--
	d.scopes.mu.Unlock()
}

// evictScopes detaches the least recently used idle catalogs beyond the
// limit. The caller holds the lock.
func (d *DB) evictScopes(ctx context.Context, conn *sql.Conn) {
	s := &d.scopes
	limit := s.max
	if limit == 0 {
		limit = 64
	}
	for len(s.items) > limit {
		var oldKey string
		var old *scope
		for k, sc := range s.items {
			if sc.users == 0 && (old == nil || sc.lastUse < old.lastUse) {
				oldKey, old = k, sc
			}
		}
		if old == nil {
			return
		}
		delete(s.items, oldKey)
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "DETACH DATABASE IF EXISTS "+old.name)
	}
}
