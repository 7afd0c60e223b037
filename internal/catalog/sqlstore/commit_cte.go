package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/ratdata/rat"
)

// writeCommitOnce records commit c and moves the branch's head to it in
// one statement of data-modifying WITH clauses (Dialect.WritableCTE): the
// commit row, its parents, its changes, the branch's table state and the
// head. It writes what the separate statements of commitTx write, but
// while the branch's row is locked it costs one round trip instead of five
// or six, so that writers queued on a busy branch (every node of a run
// commits to the run branch) wait less. Foreign keys are checked at the
// end of the statement, when every row is in.
func (s *Store) writeCommitOnce(ctx context.Context, tx *sql.Tx, branch string, c rat.Commit, changes []change) error {
	var q strings.Builder
	args := make([]any, 0, 8+3*len(c.Parents)+7*len(changes))
	q.WriteString(`WITH c AS (INSERT INTO commits (id, parent, author, message, created_us) VALUES (?, ?, ?, ?, ?))`)
	args = append(args, c.ID, c.Parents[0], c.Author, c.Message, c.Time.UnixMicro())
	q.WriteString(`, p AS (INSERT INTO commit_parents (commit_id, ord, parent_id) VALUES ` + RowPlaceholders(len(c.Parents), 3) + `)`)
	for i, p := range c.Parents {
		args = append(args, c.ID, i, p)
	}
	if len(changes) > 0 {
		q.WriteString(`, ch AS (INSERT INTO commit_changes (commit_id, table_key, metadata) VALUES ` + RowPlaceholders(len(changes), 3) + `)`)
		for _, ch := range changes {
			args = append(args, c.ID, ch.key, nullable(ch.Metadata))
		}
	}
	upserts, drops := splitChanges(changes)
	if len(upserts) > 0 {
		q.WriteString(`, u AS (INSERT INTO ref_tables (ref, table_key, metadata, commit_id) VALUES ` + RowPlaceholders(len(upserts), 4) + `
ON CONFLICT (ref, table_key) DO UPDATE SET metadata = excluded.metadata, commit_id = excluded.commit_id)`)
		for _, ch := range upserts {
			args = append(args, branch, ch.key, ch.Metadata, c.ID)
		}
	}
	if len(drops) > 0 {
		q.WriteString(`, d AS (DELETE FROM ref_tables WHERE ref = ? AND table_key IN (` + placeholders(len(drops)) + `))`)
		args = append(args, branch)
		for _, ch := range drops {
			args = append(args, ch.key)
		}
	}
	q.WriteString(`
UPDATE refs SET head = ? WHERE name = ?`)
	args = append(args, c.ID, branch)
	if _, err := s.exec(ctx, tx, q.String(), args...); err != nil {
		return fmt.Errorf("record commit: %w", err)
	}
	return nil
}
