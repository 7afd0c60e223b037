package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ScheduleLast returns the last tick a schedule trigger fired for; ok is
// false for a trigger that never fired.
func (s *Store) ScheduleLast(ctx context.Context, key string) (time.Time, bool, error) {
	var us int64
	err := s.queryRow(ctx, s.db, `SELECT last_us FROM schedule_state WHERE trigger_key = ?`, key).Scan(&us)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, s.fail("read schedule "+key, err)
	}
	return time.UnixMicro(us).UTC(), true, nil
}

// SetScheduleLast records the last tick a schedule trigger fired for.
func (s *Store) SetScheduleLast(ctx context.Context, key string, t time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO schedule_state (trigger_key, last_us) VALUES (?, ?)
ON CONFLICT (trigger_key) DO UPDATE SET last_us = excluded.last_us`, key, t.UnixMicro())
		return err
	})
	return s.fail("record schedule "+key, err)
}
