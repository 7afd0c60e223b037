package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

// change is a validated catalog.Change with its stored key.
type change struct {
	catalog.Change
	key string
}

// Commit appends one commit to a branch in one transaction: it locks the
// branch, checks ExpectedHead and every change's Expected against the
// branch's current tables, then records the commit (first parent: the
// current head; second: MergeParent), its changes and the new table state,
// and moves the head. Nothing is written unless all of it is.
func (s *Store) Commit(ctx context.Context, req catalog.CommitRequest) (rat.Commit, error) {
	op := "commit to " + req.Branch
	changes, err := validateCommit(op, req)
	if err != nil {
		return rat.Commit{}, err
	}
	var c rat.Commit
	start, attempts := time.Now(), 0
	err = s.write(ctx, func(tx *sql.Tx) error {
		attempts++
		var err error
		c, err = s.commitTx(ctx, tx, op, req, changes)
		return err
	})
	err = s.fail(op, err)
	if fn := s.observe.Load(); fn != nil {
		(*fn)(CommitStats{Duration: time.Since(start), Attempts: attempts, Err: err})
	}
	if err != nil {
		return rat.Commit{}, err
	}
	return c, nil
}

// validateCommit checks a request without touching the database and returns
// its changes sorted by table.
func validateCommit(op string, req catalog.CommitRequest) ([]change, error) {
	if err := rat.ValidateRefName(req.Branch); err != nil {
		return nil, rat.Errorf(rat.EINVALID, "%s: %w", op, err)
	}
	changes := make([]change, len(req.Changes))
	seen := make(map[string]bool, len(req.Changes))
	for i, ch := range req.Changes {
		if err := ch.Table.Validate(); err != nil {
			return nil, rat.Errorf(rat.EINVALID, "%s: %w", op, err)
		}
		key := ch.Table.String()
		if seen[key] {
			return nil, rat.Errorf(rat.EINVALID, "%s: table %s is changed twice: give one change per table", op, key)
		}
		seen[key] = true
		if ch.Expected == "" && ch.Metadata == "" {
			return nil, rat.Errorf(rat.EINVALID, "%s: table %s: a change needs an expected or a new metadata location (dropping a table that does not exist does nothing)", op, key)
		}
		changes[i] = change{Change: ch, key: key}
	}
	slices.SortFunc(changes, func(a, b change) int { return lessTable(a.Table, b.Table) })
	return changes, nil
}

func (s *Store) commitTx(ctx context.Context, tx *sql.Tx, op string, req catalog.CommitRequest, changes []change) (rat.Commit, error) {
	var kind, head string
	err := s.queryRow(ctx, tx, `SELECT kind, head FROM refs WHERE name = ?`+s.d.forUpdate(), req.Branch).Scan(&kind, &head)
	if errors.Is(err, sql.ErrNoRows) {
		return rat.Commit{}, branchNotFound(op, req.Branch)
	}
	if err != nil {
		return rat.Commit{}, err
	}
	if rat.RefKind(kind) == rat.Tag {
		return rat.Commit{}, rat.Errorf(rat.EINVALID, "%s: %q is a tag and tags cannot be committed to: commit to a branch", op, req.Branch)
	}
	if req.ExpectedHead != "" && head != req.ExpectedHead {
		return rat.Commit{}, rat.Errorf(rat.ECONFLICT, "%s: the branch head moved to %s since your base %s: reload and retry",
			op, rat.ShortID(head), rat.ShortID(req.ExpectedHead))
	}
	if req.MergeParent != "" {
		if err := s.commitExists(ctx, tx, op+": merge parent", req.MergeParent); err != nil {
			return rat.Commit{}, err
		}
	}
	if err := s.checkExpected(ctx, tx, op, req.Branch, changes); err != nil {
		return rat.Commit{}, err
	}

	c := rat.Commit{
		ID:      newCommitID(),
		Parents: []string{head},
		Author:  req.Author,
		Message: req.Message,
		Time:    s.timestamp(),
		Changes: make([]rat.TableChange, len(changes)),
	}
	if req.MergeParent != "" {
		c.Parents = append(c.Parents, req.MergeParent)
	}
	for i, ch := range changes {
		c.Changes[i] = rat.TableChange{Table: ch.Table, Metadata: ch.Metadata}
	}
	if s.d.WritableCTE && len(changes) <= ChunkSize {
		if err := s.writeCommitOnce(ctx, tx, req.Branch, c, changes); err != nil {
			return rat.Commit{}, err
		}
		return c, nil
	}
	if _, err := s.exec(ctx, tx, `INSERT INTO commits (id, parent, author, message, created_us) VALUES (?, ?, ?, ?, ?)`,
		c.ID, head, c.Author, c.Message, c.Time.UnixMicro()); err != nil {
		return rat.Commit{}, fmt.Errorf("insert commit: %w", err)
	}
	args := make([]any, 0, 3*len(c.Parents))
	for i, p := range c.Parents {
		args = append(args, c.ID, i, p)
	}
	if _, err := s.exec(ctx, tx, `INSERT INTO commit_parents (commit_id, ord, parent_id) VALUES `+
		RowPlaceholders(len(c.Parents), 3), args...); err != nil {
		return rat.Commit{}, fmt.Errorf("insert commit parents: %w", err)
	}
	if err := s.writeChanges(ctx, tx, req.Branch, c.ID, changes); err != nil {
		return rat.Commit{}, err
	}
	if _, err := s.exec(ctx, tx, `UPDATE refs SET head = ? WHERE name = ?`, c.ID, req.Branch); err != nil {
		return rat.Commit{}, fmt.Errorf("move head: %w", err)
	}
	return c, nil
}

// checkExpected compares each change's Expected with the branch's current
// entry for the table and returns one ECONFLICT naming every table that
// moved.
func (s *Store) checkExpected(ctx context.Context, tx *sql.Tx, op, branch string, changes []change) error {
	current := make(map[string]string, len(changes))
	err := Chunks(len(changes), ChunkSize, func(lo, hi int) error {
		args := make([]any, 0, 1+hi-lo)
		args = append(args, branch)
		for _, ch := range changes[lo:hi] {
			args = append(args, ch.key)
		}
		rows, err := s.query(ctx, tx, `SELECT table_key, metadata FROM ref_tables WHERE ref = ? AND table_key IN (`+
			placeholders(hi-lo)+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k, m string
			if err := rows.Scan(&k, &m); err != nil {
				return err
			}
			current[k] = m
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("read current tables: %w", err)
	}
	var moved []string
	for _, ch := range changes {
		if now := current[ch.key]; now != ch.Expected {
			moved = append(moved, fmt.Sprintf("table %s changed since your base (expected %s, now %s)",
				ch.key, location(ch.Expected), location(now)))
		}
	}
	if len(moved) > 0 {
		return rat.Errorf(rat.ECONFLICT, "%s: %s; reload and retry", op, strings.Join(moved, "; "))
	}
	return nil
}

// location shows a metadata location in a message.
func location(m string) string {
	if m == "" {
		return "absent"
	}
	return m
}

// writeChanges records the changes of commit id and applies them to the
// branch's table state.
func (s *Store) writeChanges(ctx context.Context, tx *sql.Tx, branch, id string, changes []change) error {
	err := Chunks(len(changes), ChunkSize, func(lo, hi int) error {
		args := make([]any, 0, 3*(hi-lo))
		for _, ch := range changes[lo:hi] {
			args = append(args, id, ch.key, nullable(ch.Metadata))
		}
		_, err := s.exec(ctx, tx, `INSERT INTO commit_changes (commit_id, table_key, metadata) VALUES `+
			RowPlaceholders(hi-lo, 3), args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("insert changes: %w", err)
	}

	upserts, drops := splitChanges(changes)
	err = Chunks(len(upserts), ChunkSize, func(lo, hi int) error {
		args := make([]any, 0, 4*(hi-lo))
		for _, ch := range upserts[lo:hi] {
			args = append(args, branch, ch.key, ch.Metadata, id)
		}
		_, err := s.exec(ctx, tx, `INSERT INTO ref_tables (ref, table_key, metadata, commit_id) VALUES `+
			RowPlaceholders(hi-lo, 4)+`
ON CONFLICT (ref, table_key) DO UPDATE SET metadata = excluded.metadata, commit_id = excluded.commit_id`, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("update tables: %w", err)
	}
	err = Chunks(len(drops), ChunkSize, func(lo, hi int) error {
		args := make([]any, 0, 1+hi-lo)
		args = append(args, branch)
		for _, ch := range drops[lo:hi] {
			args = append(args, ch.key)
		}
		_, err := s.exec(ctx, tx, `DELETE FROM ref_tables WHERE ref = ? AND table_key IN (`+placeholders(hi-lo)+`)`, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("drop tables: %w", err)
	}
	return nil
}

// nullable stores "" as NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// RowPlaceholders returns n rows of width '?' for a multi-row VALUES list.
func RowPlaceholders(n, width int) string {
	row := "(" + placeholders(width) + ")"
	return strings.Repeat(row+",", n-1) + row
}

// splitChanges parts a commit's changes into the tables it writes and the
// ones it drops (no metadata).
func splitChanges(changes []change) (upserts, drops []change) {
	for _, ch := range changes {
		if ch.Metadata == "" {
			drops = append(drops, ch)
		} else {
			upserts = append(upserts, ch)
		}
	}
	return upserts, drops
}
