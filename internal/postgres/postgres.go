// Package postgres is rat's catalog store for clustered installs:
// catalog.Store on PostgreSQL through pgx (database/sql via pgx's stdlib
// adapter). The store logic lives in internal/catalog/sqlstore; this package
// supplies the Postgres dialect, the connection pool and the schema.
//
// Write transactions run at READ COMMITTED and lock the ref rows they depend
// on with SELECT ... FOR UPDATE, so commits to one branch serialise on its
// row while commits to other branches proceed in parallel. Migrations run
// under a transaction-scoped advisory lock, so replicas starting together do
// not race.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/catalog/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the catalog store on PostgreSQL.
type Store struct {
	*sqlstore.Store
}

var _ catalog.Store = (*Store)(nil)

// defaultMaxConns is the pool size unless the URL sets pool_max_conns.
// Commits to one branch serialise on its row anyway; the rest serves reads
// and commits to other branches.
const defaultMaxConns = 10

// migrationLockKey identifies rat's catalog migrations among advisory locks
// ("rat_cat" in ASCII).
const migrationLockKey = 0x7261745f636174

// dialect is Postgres's sqlstore.Dialect.
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:   "postgres",
		Rebind: sqlstore.DollarRebind,
		BeginWrite: func(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
			// Explicit, whatever the server's default: each statement then
			// sees the rows committed before it, in particular the ref_tables
			// of a ref row the transaction has just locked.
			return db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
		},
		RowLocks:      true,
		WritableCTE:   true,
		MigrationLock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLockKey),
		Classify:      classify,
		SchemaColumns: `SELECT table_name, column_name FROM information_schema.columns
WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`,
		IdentityInsert: " OVERRIDING SYSTEM VALUE",
		LazyCommit:     "SET LOCAL synchronous_commit = off",
		ByteOrder:      ` COLLATE "C"`,
		AdvanceIdentity: func(table, column string) string {
			return fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', '%s'), (SELECT MAX(%s) FROM %s))", table, column, column, table)
		},
	}
}

// Open connects to the database at url (postgres://user:pass@host:port/db?
// sslmode=...; pgx's options apply, and pool_max_conns sets the pool size,
// default 10), migrates it and returns the store.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts the password from its parse errors.
		return nil, rat.Errorf(rat.EINVALID, "the Postgres URL is not valid (want postgres://user:password@host:5432/db?sslmode=disable): %v", err)
	}
	cc := cfg.ConnConfig
	maxConns := defaultMaxConns
	if strings.Contains(url, "pool_max_conns") {
		maxConns = int(cfg.MaxConns)
	}
	db := stdlib.OpenDB(*cc)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, connectError(cc.Host, cc.Port, cc.Database, cc.User, err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	s, err := sqlstore.Open(ctx, sqlstore.Config{Dialect: dialect(), DB: db, Migrations: sub})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return &Store{Store: s}, nil
}

// connectError explains why the first connection failed.
func connectError(host string, port uint16, database, user string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "3D000": // invalid_catalog_name
			return rat.Errorf(rat.ENOTFOUND, "Postgres database %q does not exist on %s:%d: create it (createdb %s) or fix the catalog URL: %w", database, host, port, database, err)
		case strings.HasPrefix(pe.Code, "28"): // invalid authorization
			return rat.Errorf(rat.EUNAUTHORIZED, "Postgres at %s:%d rejected user %q: check the user and password in the catalog URL: %w", host, port, user, err)
		}
	}
	return rat.Errorf(rat.EUNAVAILABLE, "cannot reach Postgres at %s:%d (database %s, user %s): %w", host, port, database, user, err)
}

// classify maps Postgres errors to what the store does about them, by
// SQLSTATE for server errors and by type for connection failures.
func classify(err error) sqlstore.ErrorKind {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return sqlstore.Retryable
		case "23505": // unique_violation
			return sqlstore.UniqueViolation
		case "53100": // disk_full
			return sqlstore.Full
		case "57P01", "57P02", "57P03", "53300": // shutdown, crash, cannot connect now, too many connections
			return sqlstore.Unavailable
		}
		if strings.HasPrefix(pe.Code, "08") { // connection exception
			return sqlstore.Unavailable
		}
		return sqlstore.Other
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF):
		return sqlstore.Unavailable
	case errors.As(err, &ne) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled):
		return sqlstore.Unavailable
	}
	return sqlstore.Other
}
