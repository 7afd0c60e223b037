package sqlstore

import (
	"context"
	"database/sql"
	"errors"
)

// PruneToRef makes a copied catalog (rat export --ref) hold one branch or
// tag and its history only: the ref itself with its tables, and the
// commits reachable from its head through every parent, with their parents
// and changes. Other refs and commits go, and so do the records of the
// workspace's operation (runs and their logs, schedule and trigger state,
// webhook deliveries, web sessions) and the copy's own record: the result
// is a plain catalog, not a copy under way. It runs in one transaction.
func PruneToRef(ctx context.Context, s *Store, ref string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var head string
		if err := s.queryRow(ctx, tx, `SELECT head FROM refs WHERE name = ?`, ref).Scan(&head); errors.Is(err, sql.ErrNoRows) {
			return refNotFound(ref)
		} else if err != nil {
			return err
		}
		notReachable := ` NOT IN (WITH RECURSIVE ` + ancestorsCTE + ` SELECT id FROM anc)`
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM ref_tables WHERE ref <> ?`, []any{ref}},
			{`DELETE FROM refs WHERE name <> ?`, []any{ref}},
			{`DELETE FROM commit_changes WHERE commit_id` + notReachable, []any{head}},
			{`DELETE FROM commit_parents WHERE commit_id` + notReachable, []any{head}},
			{`DELETE FROM commits WHERE id` + notReachable, []any{head}},
			{`DELETE FROM run_logs`, nil},
			{`DELETE FROM runs`, nil},
			{`DELETE FROM schedule_state`, nil},
			{`DELETE FROM trigger_state`, nil},
			{`DELETE FROM webhook_deliveries`, nil},
			{`DELETE FROM ui_sessions`, nil},
			{`DELETE FROM copy_progress`, nil},
		} {
			if _, err := s.exec(ctx, tx, q.sql, q.args...); err != nil {
				return err
			}
		}
		return nil
	})
	return s.fail("keep only "+ref+" in the catalog", err)
}
