package orchestrator

import (
	"context"
	"testing"

	"github.com/ratdata/rat"
)

// TestQueueMigrations: the queue's tables are versioned in
// rat_queue_migrations; opening again applies nothing, a queue made before
// the versions (its tables there, no record) adopts them, and a queue with
// a newer schema is refused with a clear error.
func TestQueueMigrations(t *testing.T) {
	backends(t, func(t *testing.T, open func(Config) *Queue) {
		ctx := context.Background()
		q := open(Config{})
		versions := func() []int64 {
			t.Helper()
			var vs []int64
			if err := q.read(ctx, func(t tx) error {
				return t.query(ctx, `SELECT version FROM rat_queue_migrations ORDER BY version`, nil, func(scan func(...any) error) error {
					var v int64
					err := scan(&v)
					vs = append(vs, v)
					return err
				})
			}); err != nil {
				t.Fatal(err)
			}
			return vs
		}
		if vs := versions(); len(vs) != 1 || vs[0] != 1 {
			t.Fatalf("versions after the first open: %v, want [1]", vs)
		}
		open(Config{})
		if vs := versions(); len(vs) != 1 {
			t.Fatalf("versions after a second open: %v", vs)
		}
		// Before versioning: the tables, no record.
		if err := q.withTx(ctx, func(t tx) error {
			_, err := t.exec(ctx, `DELETE FROM rat_queue_migrations`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		open(Config{})
		if vs := versions(); len(vs) != 1 || vs[0] != 1 {
			t.Fatalf("versions after adopting existing tables: %v", vs)
		}
		// A newer rat migrated this queue.
		if err := q.withTx(ctx, func(t tx) error {
			_, err := t.exec(ctx, `INSERT INTO rat_queue_migrations (version, name, applied_us) VALUES (?, ?, ?)`, 99, "0099_future.sql", 0)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		c := Config{}
		if q.cfg.SQLitePath != "" {
			c.SQLitePath = q.cfg.SQLitePath
		} else {
			c.PostgresURL = q.cfg.PostgresURL
		}
		_, err := Open(ctx, c)
		if !rat.IsCode(err, rat.EINVALID) || err.Error() != "the run queue has schema version 99 but this rat knows versions up to 1: upgrade rat" {
			t.Fatalf("opening a newer queue: %v", err)
		}
	})
}
