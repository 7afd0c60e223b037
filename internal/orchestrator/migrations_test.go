package orchestrator

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
		if vs := versions(); !slices.Equal(vs, []int64{1, 2, 3}) {
			t.Fatalf("versions after the first open: %v, want [1 2 3]", vs)
		}
		open(Config{})
		if vs := versions(); len(vs) != 3 {
			t.Fatalf("versions after a second open: %v", vs)
		}
		// A queue from before the versions, with a run under way: a built,
		// b (reads a) queued, c (reads a and b) waiting.
		exec := func(stmts ...string) {
			t.Helper()
			if err := q.withTx(ctx, func(t tx) error {
				for _, s := range stmts {
					if _, err := t.exec(ctx, s); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		exec(`DROP TABLE rat_queue_migrations`, `DROP TABLE rat_heartbeats`, `ALTER TABLE rat_dag_nodes DROP COLUMN pending`, `ALTER TABLE rat_dag_runs DROP COLUMN active`,
			`INSERT INTO rat_dag_runs (run_id, result, state) VALUES ('r', '{}', 'running')`,
			`INSERT INTO rat_dag_nodes (run_id, ord, pipeline, retries, retry_delay_ms, state) VALUES ('r', 0, 'a', 0, 0, 'success'), ('r', 1, 'b', 0, 0, 'queued'), ('r', 2, 'c', 0, 0, 'waiting')`,
			`INSERT INTO rat_dag_edges (run_id, dep, pipeline) VALUES ('r', 'a', 'b'), ('r', 'a', 'c'), ('r', 'b', 'c')`)
		open(Config{})
		if vs := versions(); !slices.Equal(vs, []int64{1, 2, 3}) {
			t.Fatalf("versions after adopting existing tables: %v", vs)
		}
		var counts []string
		if err := q.read(ctx, func(t tx) error {
			return t.query(ctx, `SELECT n.pipeline, n.pending, r.active FROM rat_dag_nodes n JOIN rat_dag_runs r ON r.run_id = n.run_id ORDER BY n.ord`, nil,
				func(scan func(...any) error) error {
					var p string
					var pending, active int
					err := scan(&p, &pending, &active)
					counts = append(counts, fmt.Sprintf("%s:%d/%d", p, pending, active))
					return err
				})
		}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(counts, " "); got != "a:0/2 b:0/2 c:1/2" {
			t.Fatalf("counts of the run under way (pipeline:pending/active): %s", got)
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
		if !rat.IsCode(err, rat.EINVALID) || err.Error() != "the run queue has schema version 99 but this rat knows versions up to 3: upgrade rat" {
			t.Fatalf("opening a newer queue: %v", err)
		}
	})
}
