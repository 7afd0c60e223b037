package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ratdata/rat"
)

// Copying a catalog (rat migrate): every row of every catalog table of one
// Store goes into another, empty one of the same schema version, whatever
// the two databases, with ids, timestamps and commit sequence numbers kept.
// Tables are copied one after the other in dependency order (a row's
// references are copied before it), each streamed from the source in key
// order and written in batches; every batch commits together with the
// target's record of how far the copy got (copy_progress), so a copy that
// was stopped, even by kill -9, resumes after the last batch written.
//
// Not copied: schema_migrations (the target has its own, and must be at the
// same version), pipeline_locks (transient: held by runs in flight, and a
// migration is made with none), copy_progress itself, and the run queue's
// tables (rat_dag_*, rat_queue_*, river_*; SQLite keeps them in a file of
// their own): queued work is not carried over.
//
// Catch-up (catchup.go): Copy on a finished copy of the same source brings
// it to the source's current state, so that a migration's final pass,
// with writers stopped, copies only what changed since the first. The
// target must be as the copy left it: its checksums must be those the copy
// recorded (copy_progress keeps them in step with every batch), else it
// was written to on its own (switched over already?) and is refused. A
// table whose rows at the source still have the count and checksum the
// copy recorded is skipped; every other table is walked on both sides at
// once in key order (bytes order, whatever the database), a batch per
// transaction recorded in copy_progress like the first copy: first in copy
// order, inserting rows the target lacks and rewriting rows that differ,
// then in reverse order, deleting rows the source no longer has (children
// before their parents: ref_tables before refs) — only where the target
// then holds more rows than the source. Per table, what a catch-up finds:
//   - commits, commit_parents, commit_changes: immutable and never deleted;
//     new rows only. New commits come after the target's last sequence
//     number, so only those are read, and only the commit_parents and
//     commit_changes rows of those commits (keyed by random commit ids,
//     they fall anywhere in key order); each table is walked whole only if
//     that does not give it the source's checksum, or when a catch-up
//     stopped midway resumes.
//   - refs, ref_tables: heads move and tables change in place; a deleted
//     branch or tag takes its rows away.
//   - runs: status, detail, heartbeat and lease change in place until a run
//     ends; pruned runs are deleted.
//   - run_logs: appended per run; deleted with a pruned run.
//   - schedule_state: last tick updated in place; trigger_state, rows
//     come and go as triggers are disabled and enabled; webhook_deliveries
//     and ui_sessions: new rows, expired ones deleted, sessions ended.

// CopyOptions tune Copy.
type CopyOptions struct {
	// Progress, when set, is called after each batch: table, rows copied so
	// far in it, rows in it at the source.
	Progress func(table string, done, total int64)
	// Target names the target in errors (a path, or a URL without its
	// password); empty means "the target <database> catalog".
	Target string
}

// Phases of a catch-up, recorded in the last_key of copy_progress's row
// for the whole copy (table_name empty) while it runs; empty in a first copy.
const (
	phaseUpsert = "catch-up"
	phaseDelete = "catch-up-delete"
)

// TableReport describes one table of a catalog.
type TableReport struct {
	Table string
	Rows  int64
	// Checksum is an order-independent hash of the rows' canonical
	// encoding: the same rows give the same checksum on SQLite and
	// Postgres. Plan leaves it empty.
	Checksum string
	// TargetRows and TargetChecksum are the target's, set by Verify only.
	TargetRows     int64
	TargetChecksum string
}

// CopyReport lists the tables copied, in copy order.
type CopyReport struct {
	Tables []TableReport
	// Locks, set by Plan, counts the source's pipeline locks, which Copy
	// leaves out: each is held by a run in flight.
	Locks int64
}

// column is one column of a copied table.
type column struct {
	name    string
	integer bool // INTEGER/BIGINT; else TEXT
}

// copyTable is a table Copy copies. Its key columns come first in cols.
type copyTable struct {
	name     string
	cols     []column
	keys     int    // the first keys columns are the primary key
	identity string // a column the database generates (copied as is)
	// appendOnly: rows are never changed nor deleted, and new ones come
	// after every existing key (commits, by sequence number), so that a
	// catch-up copies the rows after the target's last key. The key must
	// be one integer column.
	appendOnly bool
	// byCommit names the column of the commit a row belongs to when rows
	// are written with their commit and never changed nor deleted
	// (commit_parents, commit_changes): a catch-up that knows the new
	// commits copies their rows only.
	byCommit string
}

func txt(name string) column { return column{name: name} }
func num(name string) column { return column{name: name, integer: true} }

// copyTables are the tables Copy copies, in dependency order: commits
// before what refers to them, refs before their tables.
var copyTables = []copyTable{
	{name: "commits", keys: 1, identity: "seq", appendOnly: true,
		cols: []column{num("seq"), txt("id"), txt("parent"), txt("author"), txt("message"), num("created_us")}},
	{name: "commit_parents", keys: 2, byCommit: "commit_id", cols: []column{txt("commit_id"), num("ord"), txt("parent_id")}},
	{name: "commit_changes", keys: 2, byCommit: "commit_id", cols: []column{txt("commit_id"), txt("table_key"), txt("metadata")}},
	{name: "refs", keys: 1, cols: []column{txt("name"), txt("kind"), txt("head"), num("internal")}},
	{name: "ref_tables", keys: 2, cols: []column{txt("ref"), txt("table_key"), txt("metadata"), txt("commit_id")}},
	{name: "runs", keys: 1, cols: []column{txt("id"), txt("target"), txt("status"), txt("trigger"), num("started_us"),
		num("finished_us"), txt("detail"), txt("owner"), num("heartbeat_us"), num("lease_us"), num("cancel_requested")}},
	{name: "run_logs", keys: 2, cols: []column{txt("run_id"), num("seq"), num("at_us"), txt("level"), txt("pipeline"), txt("message")}},
	{name: "schedule_state", keys: 1, cols: []column{txt("trigger_key"), num("last_us")}},
	{name: "trigger_state", keys: 1, cols: []column{txt("trigger_key"), num("disabled_us")}},
	{name: "webhook_deliveries", keys: 1, cols: []column{txt("id"), num("received_us")}},
	{name: "ui_sessions", keys: 1, cols: []column{txt("id_hash"), txt("token_name"), txt("token_mac"), num("created_us"), num("expires_us")}},
}

// notCopied are the catalog's tables Copy leaves out (see above), and
// notCopiedPrefixes the run queue's, which may share a Postgres database.
var (
	notCopied         = []string{"schema_migrations", "pipeline_locks", "copy_progress"}
	notCopiedPrefixes = []string{"rat_dag_", "rat_queue_", "river_"}
)

// copyBatch is the rows written per transaction: at most 11 columns each,
// well inside both databases' bind-parameter limits. Tests lower it.
var copyBatch = 1000

// SQLStore returns s itself: sqlite.Store and postgres.Store embed *Store,
// so this lets code holding the app's catalog interface reach Copy, Plan
// and Verify.
func (s *Store) SQLStore() *Store { return s }

// Plan counts what Copy would copy (rows per table) without writing
// anything.
func Plan(ctx context.Context, src *Store) (CopyReport, error) {
	if err := src.checkSchema(ctx, "source"); err != nil {
		return CopyReport{}, err
	}
	var rep CopyReport
	for _, t := range copyTables {
		n, err := src.count(ctx, src.db, t.name)
		if err != nil {
			return CopyReport{}, src.fail("plan the copy", err)
		}
		rep.Tables = append(rep.Tables, TableReport{Table: t.name, Rows: n})
	}
	var err error
	if rep.Locks, err = src.count(ctx, src.db, "pipeline_locks"); err != nil {
		return CopyReport{}, src.fail("plan the copy", err)
	}
	return rep, nil
}

// Checksums reads every table Copy copies and returns its row count and
// checksum, as Copy reports them for the copied rows.
func Checksums(ctx context.Context, s *Store) (CopyReport, error) {
	return checksums(ctx, s, "source")
}

func checksums(ctx context.Context, s *Store, side string) (CopyReport, error) {
	if err := s.checkSchema(ctx, side); err != nil {
		return CopyReport{}, err
	}
	var rep CopyReport
	for _, t := range copyTables {
		n, sum, err := s.tableChecksum(ctx, t)
		if err != nil {
			return CopyReport{}, s.fail("checksum "+t.name, err)
		}
		rep.Tables = append(rep.Tables, TableReport{Table: t.name, Rows: n, Checksum: sum.String()})
	}
	return rep, nil
}

// Verify compares every copied table's row count and checksum between src
// and dst and returns the tables that differ (empty: identical), with the
// source's figures in Rows and Checksum and the target's in TargetRows and
// TargetChecksum.
func Verify(ctx context.Context, src, dst *Store) ([]TableReport, error) {
	sr, err := Checksums(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("verify the copy: source: %w", err)
	}
	dr, err := checksums(ctx, dst, "target")
	if err != nil {
		return nil, fmt.Errorf("verify the copy: target: %w", err)
	}
	var diff []TableReport
	for i, st := range sr.Tables {
		dt := dr.Tables[i]
		if st.Rows != dt.Rows || st.Checksum != dt.Checksum {
			st.TargetRows, st.TargetChecksum = dt.Rows, dt.Checksum
			diff = append(diff, st)
		}
	}
	return diff, nil
}

// tableChecksum reads every row of t and returns their count and checksum.
func (s *Store) tableChecksum(ctx context.Context, t copyTable) (int64, checksum, error) {
	var n int64
	var sum checksum
	var buf []byte
	err := s.streamTable(ctx, t, nil, func(row []any) error {
		buf = encodeRow(buf[:0], row)
		sum.add(buf)
		n++
		return nil
	})
	return n, sum, err
}

// Copy copies every row of every catalog table of src into dst, an empty
// catalog (as Open leaves a new database) at the same schema version, so
// that afterwards dst is the same catalog: commits with their ids, times
// and sequence numbers, every branch and tag, run records and logs,
// schedule and trigger state, webhook deliveries and web sessions. The
// source is only read. A target that holds data and is not a copy of the
// same source under way is refused (ECONFLICT); a copy that was stopped
// resumes when Copy runs again. On a finished copy Copy catches up: what
// the source committed, changed or deleted since is copied, changed or
// deleted at the target too, unless the target was written to since the
// copy (ECONFLICT); a catch-up that was stopped resumes too. Nothing should
// write to either catalog meanwhile.
func Copy(ctx context.Context, src, dst *Store, o CopyOptions) (CopyReport, error) {
	target := o.Target
	if target == "" {
		target = "the target " + dst.d.Name + " catalog"
	}
	if err := src.checkSchema(ctx, "source"); err != nil {
		return CopyReport{}, err
	}
	if err := dst.checkSchema(ctx, "target"); err != nil {
		return CopyReport{}, err
	}
	if err := sameVersions(ctx, src, dst, target); err != nil {
		return CopyReport{}, err
	}
	id, err := src.identity(ctx, src.db)
	if err != nil {
		return CopyReport{}, src.fail("copy catalog: read the source's root commit", err)
	}
	var unfinished string
	switch err := src.queryRow(ctx, src.db, `SELECT source FROM copy_progress WHERE table_name = '' AND done = 0`).Scan(&unfinished); {
	case err == nil:
		return CopyReport{}, rat.Errorf(rat.EINVALID, "the source catalog is an unfinished copy of catalog %s: finish that copy (run the same migration again) before copying it on", unfinished)
	case !errors.Is(err, sql.ErrNoRows):
		return CopyReport{}, src.fail("copy catalog: read the source's copy record", err)
	}
	prog, finished, phase, err := dst.startCopy(ctx, id, target)
	if err != nil {
		return CopyReport{}, err
	}
	if finished || phase != "" {
		changed, err := catchUp(ctx, src, dst, id, target, prog, phase, o.Progress)
		if err != nil {
			return CopyReport{}, err
		}
		if changed {
			if err := dst.finishCopy(ctx, id); err != nil {
				return CopyReport{}, err
			}
		}
	} else {
		for _, t := range copyTables {
			if p := prog[t.name]; !p.done {
				if prog[t.name], err = copyRows(ctx, src, dst, t, id, target, p, o.Progress); err != nil {
					return CopyReport{}, err
				}
			}
		}
		if err := dst.finishCopy(ctx, id); err != nil {
			return CopyReport{}, err
		}
	}
	var rep CopyReport
	for _, t := range copyTables {
		rep.Tables = append(rep.Tables, TableReport{Table: t.name, Rows: prog[t.name].copied, Checksum: prog[t.name].sum.String()})
	}
	return rep, nil
}

// CheckTarget fails as Copy would, without writing anything, when dst
// cannot take a copy of src: it is of another schema version, or holds
// data and no copy of src under way. rat migrate calls it before copying
// any file, so that a refused target is left as it was.
func CheckTarget(ctx context.Context, src, dst *Store, target string) error {
	if err := src.checkSchema(ctx, "source"); err != nil {
		return err
	}
	if err := dst.checkSchema(ctx, "target"); err != nil {
		return err
	}
	if err := sameVersions(ctx, src, dst, target); err != nil {
		return err
	}
	id, err := src.identity(ctx, src.db)
	if err != nil {
		return src.fail("copy catalog: read the source's root commit", err)
	}
	var n int64
	if err := dst.queryRow(ctx, dst.db, `SELECT COUNT(*) FROM copy_progress WHERE table_name = '' AND source = ?`, id).Scan(&n); err != nil {
		return dst.fail("copy catalog: read the target's copy record", err)
	}
	if n > 0 {
		// A copy of src under way (Copy resumes it) or done (Copy catches
		// up, if the target is as the copy left it).
		prog, finished, phase, err := dst.readProgress(ctx, dst.db, id)
		if err != nil {
			return dst.fail("copy catalog: read the target's copy record", err)
		}
		if finished || phase != "" {
			return dst.checkUnchanged(ctx, prog, target)
		}
		return nil
	}
	return dst.fail("copy catalog into "+target, dst.checkEmpty(ctx, dst.db, id, target))
}

// progress is a table's row of copy_progress.
type progress struct {
	lastKey string // JSON array of the last copied key, "" before the first batch
	copied  int64
	sum     checksum
	done    bool
}

// startCopy checks that dst can take a copy of the catalog whose identity
// is id and records the copy, or finds the copy under way: it returns each
// table's progress, whether the whole copy is done, and the phase of a
// catch-up under way.
func (s *Store) startCopy(ctx context.Context, id, target string) (map[string]progress, bool, string, error) {
	var (
		prog     map[string]progress
		finished bool
		phase    string
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		var other string
		var otherDone bool
		switch err := s.queryRow(ctx, tx, `SELECT source, done FROM copy_progress WHERE table_name = '' AND source <> ? LIMIT 1`, id).Scan(&other, &otherDone); {
		case err == nil:
			what := "a copy of"
			if !otherDone {
				what = "an unfinished copy of"
			}
			return rat.Errorf(rat.ECONFLICT, "%s holds %s another catalog (root commit %s), not of this source (root commit %s): copy into a new, empty database",
				target, what, other, id)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var err error
		if prog, finished, phase, err = s.readProgress(ctx, tx, id); err != nil {
			return err
		}
		if len(prog) > 0 {
			return nil // resume or catch up
		}
		if err := s.checkEmpty(ctx, tx, id, target); err != nil {
			return err
		}
		for _, name := range append([]string{""}, tableNames()...) {
			if _, err := s.exec(ctx, tx, `INSERT INTO copy_progress (source, table_name, checksum) VALUES (?, ?, ?)`, id, name, checksum{}.String()); err != nil {
				return err
			}
			if name != "" {
				prog[name] = progress{}
			}
		}
		return nil
	})
	return prog, finished, phase, s.fail("copy catalog into "+target, err)
}

// readProgress reads the target's record of the copy of the catalog whose
// identity is id: each table's progress (none without a record), whether
// the copy is done, and the phase of a catch-up under way.
func (s *Store) readProgress(ctx context.Context, q querier, id string) (map[string]progress, bool, string, error) {
	prog := map[string]progress{}
	var finished bool
	var phase string
	rows, err := s.query(ctx, q, `SELECT table_name, last_key, copied, checksum, done FROM copy_progress WHERE source = ?`, id)
	if err != nil {
		return nil, false, "", err
	}
	defer rows.Close()
	for rows.Next() {
		var name, sum string
		var p progress
		if err := rows.Scan(&name, &p.lastKey, &p.copied, &sum, &p.done); err != nil {
			return nil, false, "", err
		}
		if p.sum, err = parseChecksum(sum); err != nil {
			return nil, false, "", fmt.Errorf("copy_progress of %s: %w", name, err)
		}
		if name == "" {
			finished, phase = p.done, p.lastKey
			continue
		}
		prog[name] = p
	}
	return prog, finished, phase, rows.Err()
}

func tableNames() []string {
	var out []string
	for _, t := range copyTables {
		out = append(out, t.name)
	}
	return out
}

// checkEmpty fails unless the catalog holds nothing but what Open puts into
// a new database (a root commit and the main branch).
func (s *Store) checkEmpty(ctx context.Context, q querier, sourceID, target string) error {
	if root, err := s.identity(ctx, q); err == nil && root == sourceID {
		return rat.Errorf(rat.ECONFLICT, "%s holds the source catalog itself (same root commit %s): source and target must be different databases", target, sourceID)
	}
	bootstrap, err := s.isBootstrap(ctx, q)
	if err != nil {
		return err
	}
	var held []string
	for _, t := range copyTables {
		if bootstrap && (t.name == "commits" || t.name == "refs") {
			continue
		}
		n, err := s.count(ctx, q, t.name)
		if err != nil {
			return err
		}
		if n > 0 {
			held = append(held, fmt.Sprintf("%d %s", n, strings.ReplaceAll(t.name, "_", " ")))
		}
	}
	if len(held) == 0 {
		return nil
	}
	return rat.Errorf(rat.ECONFLICT, "%s is not empty: it holds %s: copy into a new, empty database (or the same target again, to resume a copy of this source)",
		target, strings.Join(held, ", "))
}

// isBootstrap reports whether the catalog's commits and refs are only what
// bootstrap wrote: one root commit and the main branch on it, without
// tables.
func (s *Store) isBootstrap(ctx context.Context, q querier) (bool, error) {
	var commits, refs, other int64
	err := s.queryRow(ctx, q, `SELECT
 (SELECT COUNT(*) FROM commits WHERE parent IS NULL AND author = ? AND message = ?),
 (SELECT COUNT(*) FROM refs WHERE name = ? AND kind = 'branch' AND head = (SELECT id FROM commits LIMIT 1)),
 (SELECT COUNT(*) FROM commits) + (SELECT COUNT(*) FROM refs) + (SELECT COUNT(*) FROM ref_tables)
 + (SELECT COUNT(*) FROM commit_parents) + (SELECT COUNT(*) FROM commit_changes)`,
		rootAuthor, rootMessage, rat.DefaultBranch).Scan(&commits, &refs, &other)
	if err != nil {
		return false, err
	}
	return commits == 1 && other == 1+refs, nil
}

// identity is the catalog's root commit id: random, made once when the
// catalog was created, and kept by copies.
func (s *Store) identity(ctx context.Context, q querier) (string, error) {
	var id string
	err := s.queryRow(ctx, q, `SELECT id FROM commits WHERE parent IS NULL ORDER BY seq LIMIT 1`).Scan(&id)
	return id, err
}

// copyRows copies t from where p says the copy got to the end, a batch per
// transaction, and returns the table's final progress.
func copyRows(ctx context.Context, src, dst *Store, t copyTable, id, target string, p progress, report func(string, int64, int64)) (progress, error) {
	return copyStream(ctx, src, dst, t, id, target, p, report, func(after []any, fn func(row []any) error) error {
		return src.streamTable(ctx, t, after, fn)
	})
}

// copyStream is copyRows of the rows stream gives (those after a key, in
// key order): every one is inserted at the target.
func copyStream(ctx context.Context, src, dst *Store, t copyTable, id, target string, p progress, report func(string, int64, int64),
	stream func(after []any, fn func(row []any) error) error) (progress, error) {
	total, after, err := startTable(ctx, src, t, p)
	if err != nil {
		return p, err
	}
	var (
		args    []any
		n       int
		lastRow []any
		buf     []byte
	)
	flush := func(final bool) error {
		next := p
		next.done = final
		if n > 0 {
			key, err := t.encodeKey(lastRow)
			if err != nil {
				return err
			}
			next.lastKey = key
			next.copied += int64(n)
			for i := 0; i < n; i++ {
				buf = encodeRow(buf[:0], args[i*len(t.cols):(i+1)*len(t.cols)])
				next.sum.add(buf)
			}
		}
		err := dst.writeBatch(ctx, t, id, next, func(tx *sql.Tx) error {
			if t.name == "commits" && p.copied == 0 && n > 0 {
				if err := dst.dropBootstrap(ctx, tx); err != nil {
					return err
				}
			}
			if n > 0 {
				if _, err := dst.exec(ctx, tx, t.insert(dst.d, n), args...); err != nil {
					return err
				}
			}
			return nil
		})
		if dst.d.classify(err) == UniqueViolation {
			return rat.Errorf(rat.ECONFLICT, "copy catalog: %s already holds rows of %s that the copy writes: was it written to during the copy? Copy into a new, empty database: %w", target, t.name, err)
		}
		if err != nil {
			return dst.fail("copy catalog: write "+t.name, err)
		}
		p = next
		args, n = args[:0], 0
		if report != nil {
			report(t.name, p.copied, total)
		}
		return nil
	}
	err = stream(after, func(row []any) error {
		args = append(args, row...)
		lastRow = args[len(args)-len(row):]
		n++
		if n == copyBatch {
			return flush(false)
		}
		return nil
	})
	if err != nil {
		var re *rat.Error
		if errors.As(err, &re) {
			return p, err
		}
		return p, src.fail("copy catalog: read the source's "+t.name, err)
	}
	return p, flush(true)
}

// startTable counts t's rows at the source and decodes where p says the
// copy of t got to.
func startTable(ctx context.Context, src *Store, t copyTable, p progress) (int64, []any, error) {
	total, err := src.count(ctx, src.db, t.name)
	if err != nil {
		return 0, nil, src.fail("copy catalog: count the source's "+t.name, err)
	}
	after, err := t.decodeKey(p.lastKey)
	if err != nil {
		return 0, nil, fmt.Errorf("copy catalog: resume %s: %w", t.name, err)
	}
	return total, after, nil
}

// writeBatch writes a batch of t (fn) and records next as the table's
// progress, in one transaction.
func (s *Store) writeBatch(ctx context.Context, t copyTable, id string, next progress, fn func(tx *sql.Tx) error) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if s.d.LazyCommit != "" {
			if _, err := s.exec(ctx, tx, s.d.LazyCommit); err != nil {
				return err
			}
		}
		if err := fn(tx); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, `UPDATE copy_progress SET last_key = ?, copied = ?, checksum = ?, done = ? WHERE source = ? AND table_name = ?`,
			next.lastKey, next.copied, next.sum.String(), boolInt(next.done), id, t.name)
		return err
	})
}

// dropBootstrap removes what Open wrote into the new target (its root commit
// and main branch) before the source's commits go in.
func (s *Store) dropBootstrap(ctx context.Context, tx *sql.Tx) error {
	var n int64
	if err := s.queryRow(ctx, tx, `SELECT COUNT(*) FROM commits`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	ok, err := s.isBootstrap(ctx, tx)
	if err != nil {
		return err
	}
	if !ok {
		return rat.Errorf(rat.ECONFLICT, "the target catalog was written to while it was being copied into: copy into a new, empty database")
	}
	for _, q := range []string{`DELETE FROM ref_tables`, `DELETE FROM refs`, `DELETE FROM commits`} {
		if _, err := s.exec(ctx, tx, q); err != nil {
			return err
		}
	}
	return nil
}

// finishCopy moves the target's identity generators past the copied values
// and marks the copy done.
func (s *Store) finishCopy(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if s.d.AdvanceIdentity != nil {
			for _, t := range copyTables {
				if t.identity != "" {
					if _, err := s.exec(ctx, tx, s.d.AdvanceIdentity(t.name, t.identity)); err != nil {
						return err
					}
				}
			}
		}
		_, err := s.exec(ctx, tx, `UPDATE copy_progress SET done = 1, last_key = '' WHERE source = ? AND table_name = ''`, id)
		return err
	})
	return s.fail("copy catalog: finish", err)
}

// streamTable calls fn with every row of t whose key is after the given
// key (all rows for nil), in key order. The values are sql.NullString and
// sql.NullInt64, in t.cols order; fn must not keep the slice.
func (s *Store) streamTable(ctx context.Context, t copyTable, after []any, fn func(row []any) error) error {
	return s.streamRows(ctx, t, after, false, 0, nil, fn)
}

// rowFilter narrows streamRows to the rows that match an SQL condition.
type rowFilter struct {
	cond string
	args []any
}

// streamRows is streamTable ordered by bytes (Dialect.ByteOrder) when
// bytes is set, and stopped after limit rows when limit > 0.
func (s *Store) streamRows(ctx context.Context, t copyTable, after []any, bytes bool, limit int, filter *rowFilter, fn func(row []any) error) error {
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.name
	}
	keyCols := slices.Clone(names[:t.keys])
	for i, c := range t.cols[:t.keys] {
		if bytes && !c.integer {
			keyCols[i] += s.d.ByteOrder
		}
	}
	keys := strings.Join(keyCols, ", ")
	q := `SELECT ` + strings.Join(names, ", ") + ` FROM ` + t.name
	var conds []string
	args := slices.Clone(after)
	if after != nil {
		conds = append(conds, `(`+keys+`) > (`+placeholders(t.keys)+`)`)
	}
	if filter != nil {
		conds = append(conds, filter.cond)
		args = append(args, filter.args...)
	}
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, ` AND `)
	}
	q += ` ORDER BY ` + keys
	if limit > 0 {
		q += ` LIMIT ` + strconv.Itoa(limit)
	}
	rows, err := s.query(ctx, s.db, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	strs := make([]sql.NullString, len(t.cols))
	ints := make([]sql.NullInt64, len(t.cols))
	dest := make([]any, len(t.cols))
	row := make([]any, len(t.cols))
	for i, c := range t.cols {
		if c.integer {
			dest[i] = &ints[i]
		} else {
			dest[i] = &strs[i]
		}
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		for i, c := range t.cols {
			if c.integer {
				row[i] = ints[i]
			} else {
				row[i] = strs[i]
			}
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return rows.Err()
}

// insert is the statement writing n rows of t.
func (t copyTable) insert(d Dialect, n int) string {
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.name
	}
	q := `INSERT INTO ` + t.name + ` (` + strings.Join(names, ", ") + `)`
	if t.identity != "" {
		q += d.IdentityInsert
	}
	return q + ` VALUES ` + RowPlaceholders(n, len(t.cols))
}

// encodeKey renders the key columns of row as a JSON array of strings.
func (t copyTable) encodeKey(row []any) (string, error) {
	key := make([]string, t.keys)
	for i := range key {
		switch v := row[i].(type) {
		case sql.NullInt64:
			key[i] = strconv.FormatInt(v.Int64, 10)
		case sql.NullString:
			key[i] = v.String
		}
	}
	b, err := json.Marshal(key)
	return string(b), err
}

// decodeKey turns encodeKey's output back into query arguments; "" is nil.
func (t copyTable) decodeKey(s string) ([]any, error) {
	if s == "" {
		return nil, nil
	}
	var key []string
	if err := json.Unmarshal([]byte(s), &key); err != nil {
		return nil, err
	}
	if len(key) != t.keys {
		return nil, fmt.Errorf("key %s has %d values, want %d", s, len(key), t.keys)
	}
	out := make([]any, len(key))
	for i, k := range key {
		if !t.cols[i].integer {
			out[i] = k
			continue
		}
		n, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", s, err)
		}
		out[i] = n
	}
	return out, nil
}

// encodeRow appends the canonical encoding of a row: per column a tag
// (0 NULL, 1 integer, 2 text), then 8 big-endian bytes of an integer or the
// length and bytes of a text. It does not depend on the database.
func encodeRow(b []byte, row []any) []byte {
	for _, v := range row {
		switch v := v.(type) {
		case sql.NullInt64:
			if !v.Valid {
				b = append(b, 0)
				continue
			}
			b = append(b, 1)
			b = binary.BigEndian.AppendUint64(b, uint64(v.Int64))
		case sql.NullString:
			if !v.Valid {
				b = append(b, 0)
				continue
			}
			b = append(b, 2)
			b = binary.AppendUvarint(b, uint64(len(v.String)))
			b = append(b, v.String...)
		}
	}
	return b
}

// checksum is an order-independent hash of a set of rows: the lane-wise sum
// (mod 2^64) of their SHA-256 digests read as four 64-bit integers.
type checksum [4]uint64

func (c *checksum) add(row []byte) {
	h := sha256.Sum256(row)
	for i := range c {
		c[i] += binary.BigEndian.Uint64(h[8*i:])
	}
}

// sub takes a row added before out of the checksum.
func (c *checksum) sub(row []byte) {
	h := sha256.Sum256(row)
	for i := range c {
		c[i] -= binary.BigEndian.Uint64(h[8*i:])
	}
}

func (c checksum) String() string {
	var b [32]byte
	for i, v := range c {
		binary.BigEndian.PutUint64(b[8*i:], v)
	}
	return hex.EncodeToString(b[:])
}

func parseChecksum(s string) (checksum, error) {
	var c checksum
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return c, fmt.Errorf("bad checksum %q", s)
	}
	for i := range c {
		c[i] = binary.BigEndian.Uint64(b[8*i:])
	}
	return c, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Store) count(ctx context.Context, q querier, table string) (int64, error) {
	var n int64
	err := s.queryRow(ctx, q, `SELECT COUNT(*) FROM `+table).Scan(&n)
	return n, err
}

// checkSchema fails unless the database's tables are those Copy knows:
// every copied table with exactly its columns, the tables not copied, and
// nothing else (a table added by a migration must be added here too).
func (s *Store) checkSchema(ctx context.Context, side string) error {
	if s.d.SchemaColumns == "" {
		return fmt.Errorf("the %s catalog's database (%s) cannot list its schema", side, s.d.Name)
	}
	have := map[string][]string{}
	rows, err := s.query(ctx, s.db, s.d.SchemaColumns)
	if err != nil {
		return s.fail("read the "+side+" catalog's schema", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			return s.fail("read the "+side+" catalog's schema", err)
		}
		have[table] = append(have[table], col)
	}
	if err := rows.Err(); err != nil {
		return s.fail("read the "+side+" catalog's schema", err)
	}
	for _, t := range copyTables {
		var want []string
		for _, c := range t.cols {
			want = append(want, c.name)
		}
		got := slices.Clone(have[t.name])
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return rat.Errorf(rat.EINVALID, "the %s catalog's table %s has columns (%s), but this rat copies (%s): copy with the rat that made the catalog",
				side, t.name, strings.Join(got, ", "), strings.Join(want, ", "))
		}
		delete(have, t.name)
	}
	for table := range have {
		known := slices.Contains(notCopied, table)
		for _, p := range notCopiedPrefixes {
			known = known || strings.HasPrefix(table, p)
		}
		if !known {
			return rat.Errorf(rat.EINVALID, "the %s catalog has a table %s that this rat does not know how to copy: copy with the rat that made the catalog", side, table)
		}
	}
	return nil
}

// sameVersions fails unless both catalogs have the same migrations applied.
func sameVersions(ctx context.Context, src, dst *Store, target string) error {
	sv, err := src.appliedVersions(ctx, src.db)
	if err != nil {
		return src.fail("copy catalog", err)
	}
	dv, err := dst.appliedVersions(ctx, dst.db)
	if err != nil {
		return dst.fail("copy catalog", err)
	}
	slices.Sort(sv)
	slices.Sort(dv)
	if !slices.Equal(sv, dv) {
		return rat.Errorf(rat.EINVALID, "%s has schema versions %v but the source has %v: open both with the same rat (it migrates them) and copy again",
			target, dv, sv)
	}
	return nil
}
