package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/ratdata/rat"
)

// HeartbeatRun records that a run's owner is alive. It reports whether a
// cancel was requested; ECONFLICT means the run is no longer this owner's
// to run (another process ended it: owner lost).
func (s *Store) HeartbeatRun(ctx context.Context, id, owner string, at time.Time) (cancel bool, err error) {
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `UPDATE runs SET heartbeat_us = ? WHERE id = ? AND owner = ? AND status = 'running'`, at.UnixMicro(), id, owner)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = rat.Errorf(rat.ECONFLICT, "run %s is no longer run by %s: another process ended it", id, owner)
			}
			return err
		}
		var c int64
		if err := s.queryRow(ctx, tx, `SELECT cancel_requested FROM runs WHERE id = ?`, id).Scan(&c); err != nil {
			return err
		}
		cancel = c != 0
		return nil
	})
	return cancel, s.fail("heartbeat of run "+id, err)
}

// RequestRunCancel asks the owner of a running run to stop it. It reports
// false when the run has no owner or is not running.
func (s *Store) RequestRunCancel(ctx context.Context, id string) (bool, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `UPDATE runs SET cancel_requested = 1 WHERE id = ? AND status = 'running' AND owner <> ''`, id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n > 0, s.fail("request to cancel run "+id, err)
}

// StaleRuns lists the running runs whose owner has written no heartbeat
// for its lease at now. It reads the owned running runs only (an index
// holds just those), so it costs about nothing when none is stale.
func (s *Store) StaleRuns(ctx context.Context, now time.Time) ([]rat.Run, error) {
	rows, err := s.query(ctx, s.db, `SELECT `+runColumns+` FROM runs
WHERE status = 'running' AND owner <> '' AND heartbeat_us < ? - lease_us`, now.UnixMicro())
	if err != nil {
		return nil, s.fail("find runs whose owner is gone", err)
	}
	defer rows.Close()
	var out []rat.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, s.fail("find runs whose owner is gone", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, s.fail("find runs whose owner is gone", err)
	}
	return out, nil
}
