package orchestrator

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/ratdata/rat/internal/catalog/sqlstore"
)

// The queue's own tables (the DAGs of runs) are versioned like the
// catalog's: numbered files in migrations/ (SQL that SQLite and Postgres
// both accept, so one set serves both), applied in order in
// one transaction and recorded in rat_queue_migrations. The queue has its
// own record, not the catalog's schema_migrations: on Postgres both live
// in one database, and each side refuses a schema newer than it knows.
//
//go:embed migrations
var migrationFiles embed.FS

// migrationLockKey serialises the queue's migrations on Postgres (the
// catalog's lock has a key of its own).
const migrationLockKey = 0x7261745f71756575 // "rat_queu"

// migrateOwn applies the queue's migrations the database lacks.
func (q *Queue) migrateOwn(ctx context.Context, dialect string) error {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	migs, err := sqlstore.ReadMigrations(sub)
	if err != nil {
		return err
	}
	return q.withTx(ctx, func(t tx) error {
		if dialect == "postgres" {
			if _, err := t.exec(ctx, fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLockKey)); err != nil {
				return fmt.Errorf("lock queue migrations: %w", err)
			}
		}
		if _, err := t.exec(ctx, `CREATE TABLE IF NOT EXISTS rat_queue_migrations (
	version BIGINT PRIMARY KEY,
	name TEXT NOT NULL,
	applied_us BIGINT NOT NULL
)`); err != nil {
			return fmt.Errorf("create rat_queue_migrations: %w", err)
		}
		var applied []int64
		if err := t.query(ctx, `SELECT version FROM rat_queue_migrations`, nil, func(scan func(...any) error) error {
			var v int64
			err := scan(&v)
			applied = append(applied, v)
			return err
		}); err != nil {
			return fmt.Errorf("read rat_queue_migrations: %w", err)
		}
		return sqlstore.ApplyMigrations(migs, applied, "the run queue", "rat_queue_migrations", q.nowUS(),
			func(query string, args ...any) error {
				_, err := t.exec(ctx, query, args...)
				return err
			})
	})
}
