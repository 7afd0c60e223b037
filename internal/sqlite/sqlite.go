// Package sqlite is rat's embedded catalog store: catalog.Store on a SQLite
// file through the pure-Go modernc.org/sqlite driver, for single-node
// installs. The store logic lives in internal/catalog/sqlstore; this package
// supplies the SQLite dialect, the connection settings and the schema.
//
// Every connection runs in WAL mode (readers never block the writer) with
// synchronous=NORMAL, foreign keys on and a 10 s busy timeout, and every
// write transaction takes the database write lock at BEGIN (BEGIN
// IMMEDIATE), so writers from several processes serialise instead of
// failing on lock upgrades. Within one process writers queue for a single
// write connection.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/catalog/sqlstore"
	"github.com/ratdata/rat/internal/stmtcache"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the catalog store on a SQLite file.
type Store struct {
	*sqlstore.Store
}

var _ catalog.Store = (*Store)(nil)

// busyTimeoutMS is how long a connection waits for another process's lock
// before a statement fails with SQLITE_BUSY (which the store then retries).
const busyTimeoutMS = 10000

// dialect is SQLite's sqlstore.Dialect. Write transactions take the write
// lock at BEGIN through the _txlock=immediate DSN parameter, so the default
// BeginWrite suffices and no row locks are needed.
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:     "sqlite",
		Classify: classify,
		SchemaColumns: `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY m.name, p.cid`,
	}
}

// Open opens (creating it and its parent directories if needed) the catalog
// database at path, migrates it and returns the store. Several processes
// may open the same file at once.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, rat.Errorf(rat.EINVALID, "no SQLite catalog file given: set RAT_CATALOG_URL or catalog.url in workspace.yaml")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, rat.Errorf(rat.EUNAVAILABLE, "create the catalog's directory: %w", err)
	}
	dsn := DSN(abs)
	read, err := sql.Open(stmtcache.DriverName, dsn)
	if err != nil {
		return nil, err
	}
	read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	read.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	write, err := sql.Open(stmtcache.DriverName, dsn)
	if err != nil {
		return nil, errors.Join(err, read.Close())
	}
	// One write connection per process: writers queue on it in Go (FIFO,
	// honouring their contexts) rather than polling SQLite's lock with the
	// busy handler, which sleeps up to 100 ms between tries.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)

	sub, err := fs.Sub(migrations, "migrations")
	if err == nil {
		var s *sqlstore.Store
		s, err = sqlstore.Open(ctx, sqlstore.Config{Dialect: dialect(), DB: read, WriteDB: write, Migrations: sub})
		if err == nil {
			return &Store{Store: s}, nil
		}
	}
	_ = read.Close()
	_ = write.Close()
	var e *sqlite.Error
	if errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_NOTADB {
		return nil, rat.Errorf(rat.EINVALID, "the file is not a SQLite database: point RAT_CATALOG_URL (or catalog.url in workspace.yaml) at a rat catalog file or at a path that does not exist yet")
	}
	return nil, err
}

// DSN returns the modernc.org/sqlite data source name rat uses for the
// database file at the absolute path abs. The pragmas are DSN parameters so
// that the driver applies them to every connection it opens.
func DSN(abs string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter: file:///C:/...
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return (&url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}).String()
}

// classify maps SQLite result codes (extended codes are on) to what the
// store does about them.
func classify(err error) sqlstore.ErrorKind {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return sqlstore.Other
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return sqlstore.UniqueViolation
	case sqlite3.SQLITE_IOERR_SHMSIZE: // the WAL index (-shm) could not grow: no space
		return sqlstore.Full
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return sqlstore.Retryable
	case sqlite3.SQLITE_CANTOPEN:
		return sqlstore.Unavailable
	case sqlite3.SQLITE_FULL:
		return sqlstore.Full
	}
	return sqlstore.Other
}
