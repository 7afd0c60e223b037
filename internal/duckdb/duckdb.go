// Package duckdb wraps DuckDB, rat's only compute engine and its only cgo
// package. DuckDB reads and writes local files only (DESIGN D2): callers hand
// it local paths (the warehouse directory or the object store's read cache).
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"strings"
	"sync"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/duckdb/duckdb-go/v2/mapping"
	"github.com/ratdata/rat"
)

// Options are the resource limits applied to every connection.
type Options struct {
	MemoryLimitMB int    // DuckDB memory_limit; 0 leaves DuckDB's default
	Threads       int    // DuckDB threads; 0 leaves DuckDB's default
	TempDir       string // spill directory; "" leaves DuckDB's default
}

// DB is an in-memory DuckDB database with rat's settings on every connection.
type DB struct {
	connector *duckdb.Connector
	db        *sql.DB
	opts      Options
	scopes    scopes
	parsed    parseCache
	// rat's scalar functions registered so far (on first use).
	udfMu sync.Mutex
	udfs  map[string]bool
}

// Open starts an in-memory DuckDB. Extensions are never downloaded.
func Open(opts Options) (*DB, error) {
	if opts.TempDir != "" {
		if err := os.MkdirAll(opts.TempDir, 0o755); err != nil {
			return nil, fmt.Errorf("duckdb temp directory: %w", err)
		}
	}
	settings := []string{
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = true",
		// Data files never change once written, so their footers can be cached.
		"SET parquet_metadata_cache = true",
	}
	if opts.MemoryLimitMB > 0 {
		settings = append(settings, fmt.Sprintf("SET memory_limit = '%dMB'", opts.MemoryLimitMB))
	}
	if opts.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", opts.Threads))
	}
	if opts.TempDir != "" {
		settings = append(settings, "SET temp_directory = "+Quote(opts.TempDir))
	}
	connector, err := duckdb.NewConnector("", func(execer driver.ExecerContext) error {
		for _, s := range settings {
			if _, err := execer.ExecContext(context.Background(), s, nil); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	return &DB{connector: connector, db: sql.OpenDB(connector), opts: opts}, nil
}

// SQL returns the database handle.
func (d *DB) SQL() *sql.DB { return d.db }

// Close closes the database.
func (d *DB) Close() error {
	d.parsed.mu.Lock()
	if d.parsed.serialize != nil {
		d.parsed.serialize.Close()
	}
	d.parsed.mu.Unlock()
	err := d.db.Close()
	if cerr := d.connector.Close(); err == nil {
		err = cerr
	}
	return err
}

// Conn returns one dedicated connection; temporary views created on it are
// visible only to it. The caller closes it.
func (d *DB) Conn(ctx context.Context) (*sql.Conn, error) {
	return d.db.Conn(ctx)
}

// Quote returns s as a SQL string literal.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Ident returns s as a quoted SQL identifier.
func Ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// cleanError trims DuckDB's error prefixes to the part a user needs.
func cleanError(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "Parser Error: ")
	// DuckDB appends long "Possible fixes" lists and an echo of the SQL;
	// the first part says what and where.
	for _, cut := range []string{"\nLINE 1:", "\n\nPossible fixes", "Possible fixes:", "\nThe search space used was"} {
		if i := strings.Index(msg, cut); i > 0 {
			msg = msg[:i]
		}
	}
	return strings.TrimSpace(msg)
}

// UserError turns a DuckDB error into a rat EINVALID error with context.
func UserError(context string, err error) error {
	return rat.Errorf(rat.EINVALID, "%s: %s", context, cleanError(err))
}

// Version is the version of the DuckDB library linked in ("v1.5.0"),
// read without opening a database.
func Version() string { return mapping.LibraryVersion() }
