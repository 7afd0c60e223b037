package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// ErrorKind classifies a driver error so the shared store can react to it
// without knowing the driver. Adapters decide it from error codes (SQLite
// result codes, Postgres SQLSTATE), never from message text.
type ErrorKind int

// Error kinds.
const (
	// Other is any error the store does not treat specially.
	Other ErrorKind = iota
	// Retryable is a transient lock or serialization failure: the whole
	// transaction is rolled back and run again.
	Retryable
	// UniqueViolation is a unique or primary-key constraint violation: a
	// concurrent writer created the same row first (rat.ECONFLICT).
	UniqueViolation
	// Unavailable means the database cannot be reached (rat.EUNAVAILABLE).
	Unavailable
	// Full means the database has no space left to write (a full disk,
	// SQLite's SQLITE_FULL, Postgres's disk_full): rat.EUNAVAILABLE, with
	// what to do about it.
	Full
)

// Dialect is what differs between the SQL databases the store runs on. The
// queries themselves are written once, in the subset of SQL both SQLite and
// Postgres accept, with '?' placeholders.
type Dialect struct {
	// Name names the database in error messages ("sqlite", "postgres").
	Name string
	// Rebind turns a query written with '?' placeholders into the driver's
	// syntax. Nil keeps '?'.
	Rebind func(query string) string
	// BeginWrite starts a transaction that will write. It must make the
	// transaction safe against concurrent writers: SQLite takes the database
	// write lock at BEGIN (BEGIN IMMEDIATE), Postgres relies on RowLocks.
	// Nil means db.BeginTx(ctx, nil).
	BeginWrite func(ctx context.Context, db *sql.DB) (*sql.Tx, error)
	// RowLocks says the database supports SELECT ... FOR UPDATE / FOR SHARE,
	// which the store then uses to lock the ref rows a transaction depends
	// on. Without it the database must serialise writers at BEGIN.
	RowLocks bool
	// WritableCTE says the database runs INSERT, UPDATE and DELETE inside
	// WITH clauses of one statement (Postgres): a commit is then recorded
	// in one round trip while its branch is locked.
	WritableCTE bool
	// MigrationLock, when set, is executed first in the migration
	// transaction to serialise concurrent migrations (Postgres:
	// pg_advisory_xact_lock). SQLite needs none: BEGIN IMMEDIATE already
	// holds the write lock.
	MigrationLock string
	// Classify tells what kind of failure a driver error is.
	Classify func(err error) ErrorKind
	// SchemaColumns is a query returning (table name, column name) for
	// every column of every table of the catalog's schema; Copy, Plan and
	// Verify check with it that they know every table.
	SchemaColumns string
	// IdentityInsert, when set, goes between the column list and VALUES of
	// an INSERT that gives a generated identity column its value (Postgres:
	// OVERRIDING SYSTEM VALUE).
	IdentityInsert string
	// AdvanceIdentity, when set, returns the statement that moves the
	// generator of table's identity column past the largest value in it,
	// after Copy gave the column its values (Postgres: setval). Nil means
	// the database does so by itself (SQLite's AUTOINCREMENT).
	AdvanceIdentity func(table, column string) string
	// LazyCommit, when set, is executed first in each transaction of a
	// copy's batches: the database may then acknowledge the commit before
	// it is on disk (Postgres: synchronous_commit off). A crash loses at
	// most the last batches together with their record in copy_progress,
	// so the copy resumes before them; the copy's last transaction commits
	// normally, which makes everything before it durable too.
	LazyCommit string
	// ByteOrder, when set, follows a text column in ORDER BY and key
	// comparisons to order it by its bytes, as SQLite does by default
	// (Postgres: COLLATE "C"): a catch-up (Copy on a finished copy)
	// walks source and target side by side in one order.
	ByteOrder string
}

// DollarRebind rewrites '?' placeholders as $1, $2, ... (Postgres). A '?'
// inside a single-quoted literal or a double-quoted identifier is left alone.
func DollarRebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func (d Dialect) rebind(q string) string {
	if d.Rebind == nil {
		return q
	}
	return d.Rebind(q)
}

func (d Dialect) classify(err error) ErrorKind {
	if err == nil || d.Classify == nil {
		return Other
	}
	return d.Classify(err)
}

func (d Dialect) beginWrite(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
	if d.BeginWrite != nil {
		return d.BeginWrite(ctx, db)
	}
	return db.BeginTx(ctx, nil)
}

// forUpdate and forShare return the row-locking suffix for a SELECT, or ""
// where the database serialises writers by other means.
func (d Dialect) forUpdate() string {
	if d.RowLocks {
		return " FOR UPDATE"
	}
	return ""
}

func (d Dialect) forShare() string {
	if d.RowLocks {
		return " FOR SHARE"
	}
	return ""
}
