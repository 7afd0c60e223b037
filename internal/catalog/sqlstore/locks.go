package sqlstore

import (
	"context"
	"database/sql"
	"errors"
)

// LockPipelines takes, all or none, the locks of the pipelines a run
// builds into target. A lock held by another run that is still queued or
// running blocks: the result maps each blocked pipeline to that run, and
// nothing is taken. A lock left by a run that has finished (or whose
// record is gone) is taken over.
func (s *Store) LockPipelines(ctx context.Context, target, runID string, pipelines []string) (map[string]string, error) {
	var held map[string]string
	err := s.write(ctx, func(tx *sql.Tx) error {
		held = map[string]string{}
		for _, p := range pipelines {
			var holder string
			var status sql.NullString
			err := s.queryRow(ctx, tx, `SELECT l.run_id, r.status FROM pipeline_locks l LEFT JOIN runs r ON r.id = l.run_id
WHERE l.target = ? AND l.pipeline = ?`, target, p).Scan(&holder, &status)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if holder != runID && (status.String == "running" || status.String == "queued") {
				held[p] = holder
			}
		}
		if len(held) > 0 {
			return nil
		}
		now := s.timestamp().UnixMicro()
		for _, p := range pipelines {
			if _, err := s.exec(ctx, tx, `INSERT INTO pipeline_locks (target, pipeline, run_id, since_us) VALUES (?, ?, ?, ?)
ON CONFLICT (target, pipeline) DO UPDATE SET run_id = excluded.run_id, since_us = excluded.since_us`, target, p, runID, now); err != nil {
				return err
			}
		}
		return nil
	})
	return held, s.fail("lock the pipelines of run "+runID, err)
}

// UnlockPipelines releases the locks a run holds.
func (s *Store) UnlockPipelines(ctx context.Context, runID string) error {
	_, err := s.writeOne(ctx, `DELETE FROM pipeline_locks WHERE run_id = ?`, runID)
	return s.fail("unlock the pipelines of run "+runID, err)
}
