// Package sqlstore implements catalog.Store once, over database/sql, for every
// SQL database rat supports. What differs between databases (placeholder
// syntax, how a write transaction begins, how driver errors are classified)
// comes in a Dialect from the adapter (internal/sqlite, internal/postgres),
// together with the adapter's embedded migrations.
//
// Storage model: commits and their changes are immutable rows; refs hold a
// head per branch or tag; ref_tables materialises the table state at every
// ref's head, so a commit checks and updates only the tables it touches and
// never walks history. A commit is one transaction that first locks its
// branch (Postgres: SELECT ... FOR UPDATE; SQLite: BEGIN IMMEDIATE), so
// commits to one branch are serialised while commits to different branches
// only contend in SQLite. Transient lock and serialization failures are
// retried internally, a bounded number of times with jittered backoff.
package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	mathrand "math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

var _ catalog.Store = (*Store)(nil)

// Config describes the database a Store runs on.
type Config struct {
	// Dialect adapts the shared SQL to the database.
	Dialect Dialect
	// DB is the connection pool for reads, and for writes when WriteDB is nil.
	DB *sql.DB
	// WriteDB, when set, is the pool write transactions use. SQLite gives a
	// one-connection pool here so that writers inside one process queue in
	// Go instead of polling SQLite's lock with its busy handler.
	WriteDB *sql.DB
	// Migrations holds the numbered schema files (0001_name.sql, ...) at its
	// root; see Migrate.
	Migrations fs.FS
	// Now is the clock commits are stamped with; nil means time.Now.
	Now func() time.Time
}

// Store is catalog.Store over a SQL database. It is safe for concurrent use,
// and several Stores (in one or many processes) may share one database.
type Store struct {
	d   Dialect
	db  *sql.DB
	wdb *sql.DB
	now func() time.Time

	observe atomic.Pointer[func(CommitStats)]
}

// CommitStats describes one Commit call, for metrics.
type CommitStats struct {
	Duration time.Duration
	Attempts int   // transactions run: more than 1 when the database was locked or busy
	Err      error // nil, or the error Commit returned (rat.ECONFLICT when another writer won)
}

// ObserveCommits has fn called after every Commit; nil stops it.
func (s *Store) ObserveCommits(fn func(CommitStats)) {
	if fn == nil {
		s.observe.Store(nil)
		return
	}
	s.observe.Store(&fn)
}

// Open migrates the database to the newest schema, creates the root commit
// and the main branch if the catalog is new, and returns the Store. On error
// the caller still owns (and must close) the pools.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.DB == nil {
		return nil, errors.New("no database given")
	}
	s := &Store{d: cfg.Dialect, db: cfg.DB, wdb: cfg.WriteDB, now: cfg.Now}
	if s.wdb == nil {
		s.wdb = s.db
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.migrate(ctx, cfg.Migrations); err != nil {
		return nil, s.fail("migrate catalog", err)
	}
	return s, nil
}

// Close closes the store's connection pools.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.wdb != s.db {
		err = errors.Join(err, s.wdb.Close())
	}
	return err
}

// maxAttempts bounds how often a transaction is run when it keeps failing
// with a Retryable error.
const maxAttempts = 12

// retry runs fn until it succeeds, fails with an error that is not
// Retryable, or maxAttempts is reached, sleeping a jittered, growing delay
// between attempts.
func (s *Store) retry(ctx context.Context, fn func() error) error {
	delay := 2 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == maxAttempts || s.d.classify(err) != Retryable {
			return err
		}
		// Sleep between delay/2 and 3*delay/2, so that writers that collided
		// spread out instead of colliding again.
		t := time.NewTimer(delay/2 + mathrand.N(delay))
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}

// write runs fn in a write transaction, retried as a whole on transient
// failures; fn must therefore do nothing outside the transaction.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.retry(ctx, func() error {
		tx, err := s.d.beginWrite(ctx, s.wdb)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	})
}

// writeOne runs one write statement on its own (the database makes it a
// transaction), retried on transient failures: one round trip, where
// write's BEGIN and COMMIT make three.
func (s *Store) writeOne(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := s.retry(ctx, func() error {
		var err error
		res, err = s.exec(ctx, s.wdb, query, args...)
		return err
	})
	return res, err
}

// fail turns err into what callers of the Store see: rat errors pass
// unchanged (their messages carry their own context), lost connections and
// locks that never freed become EUNAVAILABLE, unique violations ECONFLICT,
// and anything else is wrapped with op.
func (s *Store) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	var re *rat.Error
	if errors.As(err, &re) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch s.d.classify(err) {
	case Unavailable:
		return rat.Errorf(rat.EUNAVAILABLE, "%s: the %s catalog database is unavailable: %w", op, s.d.Name, err)
	case UniqueViolation:
		return rat.Errorf(rat.ECONFLICT, "%s: a concurrent change won; reload and retry: %w", op, err)
	case Full:
		return rat.Errorf(rat.EUNAVAILABLE, "%s: the %s catalog database has no space left (its disk is full): free space there and retry: %w", op, s.d.Name, err)
	case Retryable:
		return rat.Errorf(rat.EUNAVAILABLE, "%s: the %s catalog database stayed locked after %d attempts; retry later: %w", op, s.d.Name, maxAttempts, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	return q.ExecContext(ctx, s.d.rebind(query), args...)
}

func (s *Store) query(ctx context.Context, q querier, query string, args ...any) (*sql.Rows, error) {
	return q.QueryContext(ctx, s.d.rebind(query), args...)
}

func (s *Store) queryRow(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	return q.QueryRowContext(ctx, s.d.rebind(query), args...)
}

// newCommitID returns 32 lowercase hex characters from crypto/rand.
func newCommitID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails; see crypto/rand.Read
	return hex.EncodeToString(b[:])
}

// timestamp is the clock reading stored with a commit: UTC, microseconds.
func (s *Store) timestamp() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// fromMicros turns a stored created_us back into a time.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// placeholders returns n comma-separated '?'.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}

// ChunkSize bounds the rows or values of one statement, well inside the
// bind-parameter limits of SQLite (32766) and Postgres (65535).
const ChunkSize = 500

// Chunks calls fn for consecutive slices of at most size elements of n.
func Chunks(n, size int, fn func(lo, hi int) error) error {
	for lo := 0; lo < n; lo += size {
		if err := fn(lo, min(lo+size, n)); err != nil {
			return err
		}
	}
	return nil
}

// splitKey turns a stored table_key back into a TableID. Keys were
// validated when written.
func splitKey(key string) rat.TableID {
	layer, name, _ := strings.Cut(key, ".")
	return rat.TableID{Layer: layer, Name: name}
}

func lessTable(a, b rat.TableID) int {
	if c := strings.Compare(a.Layer, b.Layer); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}
