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

// parseCache remembers which tables a query text reads.
type parseCache struct {
	mu sync.Mutex
	m  map[string][]string
}

// Referenced parses a single SELECT statement and returns the schema-qualified
// tables it reads ("bronze.sales"), sorted and deduplicated. Anything but one
// SELECT (INSERT, CREATE, COPY, several statements) is an EINVALID error.
// Results are cached by query text.
func (d *DB) Referenced(ctx context.Context, query string) ([]string, error) {
	d.parsed.mu.Lock()
	tables, ok := d.parsed.m[query]
	d.parsed.mu.Unlock()
	if ok {
		return tables, nil
	}
	tables, err := d.referenced(ctx, query)
	if err != nil {
		return nil, err
	}
	d.parsed.mu.Lock()
	if d.parsed.m == nil || len(d.parsed.m) > 1024 {
		d.parsed.m = map[string][]string{}
	}
	d.parsed.m[query] = tables
	d.parsed.mu.Unlock()
	return tables, nil
}

func (d *DB) referenced(ctx context.Context, query string) ([]string, error) {
	var out string
	if err := d.db.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql(?::VARCHAR) AS VARCHAR)", query).Scan(&out); err != nil {
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
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch n := v.(type) {
		case map[string]any:
			if n["type"] == "BASE_TABLE" {
				schema, _ := n["schema_name"].(string)
				name, _ := n["table_name"].(string)
				catalog, _ := n["catalog_name"].(string)
				if schema != "" && catalog == "" {
					seen[schema+"."+name] = true
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
	tables := make([]string, 0, len(seen))
	for t := range seen {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	return tables, nil
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
