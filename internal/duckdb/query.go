package duckdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/ratdata/rat"
)

// ReadOnlyHint tells users how to write when they tried to through a query.
const ReadOnlyHint = "queries are read-only: load files with 'rat load FILE --into layer.name', or write a pipeline SQL file and 'rat run' it"

// Referenced parses a single SELECT statement and returns the schema-qualified
// tables it reads ("bronze.sales"), sorted and deduplicated. Anything but one
// SELECT (INSERT, CREATE, COPY, several statements) is an EINVALID error.
func Referenced(ctx context.Context, conn *sql.Conn, query string) ([]string, error) {
	var out string
	if err := conn.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql(?::VARCHAR) AS VARCHAR)", query).Scan(&out); err != nil {
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

var scopeSeq atomic.Int64

// WithViews runs fn on a dedicated connection on which the given views are
// visible under their qualified names (bronze.sales). The views live in a
// private in-memory catalog of that connection, so concurrent queries on
// other branches or snapshots never see each other's views.
func (d *DB) WithViews(ctx context.Context, views []View, fn func(conn *sql.Conn) error) (err error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("duckdb connection: %w", err)
	}
	defer conn.Close()
	scope := fmt.Sprintf("rat_scope_%d", scopeSeq.Add(1))
	var b strings.Builder
	fmt.Fprintf(&b, "ATTACH ':memory:' AS %s; USE %s;", scope, scope)
	schemas := map[string]bool{}
	for _, v := range views {
		if !schemas[v.Schema] {
			schemas[v.Schema] = true
			fmt.Fprintf(&b, "CREATE SCHEMA %s.%s;", scope, Ident(v.Schema))
		}
		fmt.Fprintf(&b, "CREATE VIEW %s.%s.%s AS SELECT * FROM %s;", scope, Ident(v.Schema), Ident(v.Name), v.From)
	}
	if _, err := conn.ExecContext(ctx, b.String()); err != nil {
		return fmt.Errorf("prepare views: %w", err)
	}
	defer func() {
		// Leave the pooled connection as we found it.
		if _, derr := conn.ExecContext(context.WithoutCancel(ctx), "USE memory; DETACH "+scope); derr != nil && err == nil {
			err = fmt.Errorf("drop views: %w", derr)
		}
	}()
	return fn(conn)
}
