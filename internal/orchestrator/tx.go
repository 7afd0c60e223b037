package orchestrator

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/ratdata/rat/internal/catalog/sqlstore"
)

// sqliteTx runs fn in a transaction on the queue file. The file is opened
// with _txlock=immediate: BEGIN takes SQLite's write lock, so transactions
// of all processes are serialised.
// Jobs inserted in it are announced to this process's listener once
// committed.
func sqliteTx(ctx context.Context, db *sql.DB, c *river.Client[*sql.Tx], w *waker, fn func(tx) error) error {
	t, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = t.Rollback() }()
	var inserted bool
	if err := fn(sqliteT{q: t, t: t, c: c, inserted: &inserted}); err != nil {
		return err
	}
	if err := t.Commit(); err != nil {
		return err
	}
	if inserted {
		w.Inserted()
	}
	return nil
}

// sqliteRead runs fn's queries outside a transaction: a read (a waiter
// polling its run's state) takes no write lock on the queue file.
func sqliteRead(db *sql.DB, fn func(tx) error) error { return fn(sqliteT{q: db}) }

type sqliteT struct {
	q interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	}
	t *sql.Tx // nil for reads: nothing to insert jobs into
	c *river.Client[*sql.Tx]
	// inserted is set when jobs were inserted in t.
	inserted *bool
}

func (s sqliteT) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s sqliteT) query(ctx context.Context, query string, args []any, row func(scan func(...any) error) error) error {
	rows, err := s.q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return eachRow(rows, row)
}

// eachRow calls row for each row of rows, whichever the driver.
func eachRow(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}, row func(scan func(...any) error) error) error {
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (s sqliteT) insert(ctx context.Context, jobs []river.InsertManyParams) error {
	if len(jobs) == 0 {
		return nil
	}
	if s.t == nil {
		return errors.New("queue: jobs are inserted in a transaction")
	}
	_, err := s.c.InsertManyTx(ctx, s.t, jobs)
	if err == nil {
		*s.inserted = true
	}
	return err
}

// pgxTx runs fn in a transaction on the cluster's Postgres database. The
// DAG's transactions lock their run's row first (lockRun), which
// serialises the transactions of one run.
func pgxTx(ctx context.Context, pool *pgxpool.Pool, c *river.Client[pgx.Tx], fn func(tx) error) error {
	t, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = t.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(pgxT{q: t, t: t, c: c}); err != nil {
		return err
	}
	return t.Commit(ctx)
}

// pgxRead runs fn's queries on the pool, each on its own: a read (a
// waiter looking at its run's state, a worker reading a run's head) costs
// one round trip, not a BEGIN and a COMMIT more.
func pgxRead(pool *pgxpool.Pool, fn func(tx) error) error { return fn(pgxT{q: pool}) }

type pgxT struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	}
	t pgx.Tx // nil for reads: nothing to insert jobs into
	c *river.Client[pgx.Tx]
}

func (p pgxT) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := p.q.Exec(ctx, sqlstore.DollarRebind(query), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (p pgxT) query(ctx context.Context, query string, args []any, row func(scan func(...any) error) error) error {
	rows, err := p.q.Query(ctx, sqlstore.DollarRebind(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return eachRow(rows, row)
}

func (p pgxT) insert(ctx context.Context, jobs []river.InsertManyParams) error {
	if len(jobs) == 0 {
		return nil
	}
	if p.t == nil {
		return errors.New("queue: jobs are inserted in a transaction")
	}
	_, err := p.c.InsertManyTx(ctx, p.t, jobs)
	return err
}

func (sqliteT) notifyDone(context.Context, string) error { return nil }

func (p pgxT) notifyDone(ctx context.Context, run string) error {
	_, err := p.q.Exec(ctx, `SELECT pg_notify($1, $2)`, runDoneChannel, run)
	return err
}
