package cli

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestDBMigrate: rat db migrate creates the catalog's and the queue's
// tables without touching the warehouse (its S3 endpoint is unreachable
// here), and a second call finds them current.
func TestDBMigrate(t *testing.T) {
	t.Parallel()
	for _, cluster := range []bool{false, true} {
		name := "sqlite"
		if cluster {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := newUser(t, cluster)
			u.write("workspace.yaml", "name: schema\n")
			// Nothing listens on port 1: a command that opened the
			// warehouse would fail.
			u.env = append(u.env, "ICEBERG_WAREHOUSE=s3://nowhere/lake", "S3_ENDPOINT=http://127.0.0.1:1", "S3_ACCESS_KEY=k", "S3_SECRET_KEY=s")
			if _, errs, code := u.run("tables"); code == 0 {
				t.Fatalf("rat tables with an unreachable warehouse succeeded; stderr: %s", errs)
			}
			want, err := filepath.Glob("../sqlite/migrations/*.sql")
			if err != nil || len(want) == 0 {
				t.Fatalf("catalog migrations: %v %v", want, err)
			}
			for range 2 {
				if out := u.ok("db", "migrate"); !strings.Contains(out, "schemas are current") {
					t.Fatalf("rat db migrate: %q", out)
				}
				queue := openQueueDB(t, u)
				catalog := queue // on Postgres one database holds both
				if !cluster {
					var err error
					if catalog, err = sql.Open("sqlite", "file:"+filepath.Join(u.dir, ".rat", "catalog.db")+"?mode=ro"); err != nil {
						t.Fatal(err)
					}
					defer catalog.Close()
				}
				var n int
				if err := catalog.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != len(want) {
					t.Fatalf("catalog schema_migrations: %d rows (%v), want %d", n, err, len(want))
				}
				for _, table := range []string{"river_job", "rat_queue_migrations"} {
					if err := queue.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
						t.Fatalf("queue table %s: %v", table, err)
					}
				}
			}
			if _, errs, code := u.run("db", "migrate", "now"); code != 2 || !strings.Contains(errs, "see 'rat db migrate --help'") {
				t.Fatalf("rat db migrate now: exit %d, stderr %q", code, errs)
			}
		})
	}
}
