package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"

	"github.com/ratdata/rat"
)

// Migration is one numbered schema file, NNNN_name.sql.
type Migration struct {
	Version int64
	Name    string
	SQL     string
}

var migrationName = regexp.MustCompile(`^(\d+)_([a-z0-9_]+)\.sql$`)

// ReadMigrations loads NNNN_name.sql files from the root of files, ordered
// by version. The catalog's stores and the orchestrator's queue tables
// (internal/orchestrator/migrations) are versioned this way.
func ReadMigrations(files fs.FS) ([]Migration, error) {
	if files == nil {
		return nil, errors.New("read migrations: none given")
	}
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("read migrations: %s: want NNNN_name.sql", e.Name())
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("read migrations: %s: %w", e.Name(), err)
		}
		body, err := fs.ReadFile(files, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migrations: %w", err)
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(body)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("read migrations: %s and %s share version %d", out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

// migrate applies the migrations the database lacks and bootstraps a new
// catalog, all in one write transaction: concurrent Opens of one new
// database serialise on it (Dialect.MigrationLock on Postgres, the write lock
// of BEGIN IMMEDIATE on SQLite), and the loser finds the work done.
func (s *Store) migrate(ctx context.Context, files fs.FS) error {
	migs, err := ReadMigrations(files)
	if err != nil {
		return err
	}
	// Nearly every open finds the schema current: a read says so without
	// the write lock, which a command would otherwise wait for while another
	// process commits (on SQLite, the whole file's lock).
	if s.current(ctx, migs) {
		return nil
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if s.d.MigrationLock != "" {
			if _, err := s.exec(ctx, tx, s.d.MigrationLock); err != nil {
				return fmt.Errorf("lock migrations: %w", err)
			}
		}
		if _, err := s.exec(ctx, tx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version BIGINT PRIMARY KEY,
	name TEXT NOT NULL,
	applied_us BIGINT NOT NULL
)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		applied, err := s.appliedVersions(ctx, tx)
		if err != nil {
			return err
		}
		err = ApplyMigrations(migs, applied, "the catalog database", "schema_migrations", s.timestamp().UnixMicro(),
			func(query string, args ...any) error {
				_, err := s.exec(ctx, tx, query, args...)
				return err
			})
		if err != nil {
			return err
		}
		return s.bootstrap(ctx, tx)
	})
}

// ApplyMigrations applies the migrations of migs that applied (the versions
// table records) lacks, in order, and records each in table with the time
// nowUS; exec runs a statement (? placeholders) in the caller's
// transaction. A database with a version newer than migs know is refused:
// what names it ("the catalog database").
func ApplyMigrations(migs []Migration, applied []int64, what, table string, nowUS int64, exec func(query string, args ...any) error) error {
	if len(applied) > 0 && len(migs) > 0 {
		if newest := slices.Max(applied); newest > migs[len(migs)-1].Version {
			return rat.Errorf(rat.EINVALID, "%s has schema version %d but this rat knows versions up to %d: upgrade rat",
				what, newest, migs[len(migs)-1].Version)
		}
	}
	for _, m := range migs {
		if slices.Contains(applied, m.Version) {
			continue
		}
		if err := exec(m.SQL); err != nil {
			return fmt.Errorf("apply migration %s (%s): %w", m.Name, table, err)
		}
		if err := exec(`INSERT INTO `+table+` (version, name, applied_us) VALUES (?, ?, ?)`, m.Version, m.Name, nowUS); err != nil {
			return fmt.Errorf("record migration %s (%s): %w", m.Name, table, err)
		}
	}
	return nil
}

// current reports whether the database has exactly the migrations known
// and its root commit. Anything else (a new database, a missing migration,
// a newer schema, an error) goes through migrate's write transaction,
// which applies what is missing or says what is wrong.
func (s *Store) current(ctx context.Context, migs []Migration) bool {
	applied, err := s.appliedVersions(ctx, s.db)
	if err != nil || len(applied) != len(migs) {
		return false
	}
	for _, m := range migs {
		if !slices.Contains(applied, m.Version) {
			return false
		}
	}
	var one int
	return s.queryRow(ctx, s.db, `SELECT 1 FROM commits LIMIT 1`).Scan(&one) == nil
}

func (s *Store) appliedVersions(ctx context.Context, tx querier) ([]int64, error) {
	rows, err := s.query(ctx, tx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	var vs []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

// Root commit of every new catalog.
const (
	rootAuthor  = "rat"
	rootMessage = "initial commit"
)

// bootstrap gives an empty catalog its root commit and the default branch.
func (s *Store) bootstrap(ctx context.Context, tx *sql.Tx) error {
	var n int64
	if err := s.queryRow(ctx, tx, `SELECT COUNT(*) FROM commits`).Scan(&n); err != nil {
		return fmt.Errorf("bootstrap catalog: %w", err)
	}
	if n > 0 {
		return nil
	}
	id := newCommitID()
	if _, err := s.exec(ctx, tx, `INSERT INTO commits (id, parent, author, message, created_us) VALUES (?, NULL, ?, ?, ?)`,
		id, rootAuthor, rootMessage, s.timestamp().UnixMicro()); err != nil {
		return fmt.Errorf("bootstrap catalog: %w", err)
	}
	if _, err := s.exec(ctx, tx, `INSERT INTO refs (name, kind, head) VALUES (?, ?, ?)`,
		rat.DefaultBranch, string(rat.Branch), id); err != nil {
		return fmt.Errorf("bootstrap catalog: %w", err)
	}
	return nil
}
