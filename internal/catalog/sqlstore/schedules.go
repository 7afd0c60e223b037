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

// DisabledTriggers returns the triggers switched off, by key, with the time
// each was disabled.
func (s *Store) DisabledTriggers(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.query(ctx, s.db, `SELECT trigger_key, disabled_us FROM trigger_state`)
	if err != nil {
		return nil, s.fail("read trigger states", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var key string
		var us int64
		if err := rows.Scan(&key, &us); err != nil {
			return nil, s.fail("read trigger states", err)
		}
		out[key] = time.UnixMicro(us).UTC()
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("read trigger states", err)
	}
	return out, nil
}

// SetTriggerDisabled switches a trigger off (disabled) or back on.
func (s *Store) SetTriggerDisabled(ctx context.Context, key string, disabled bool) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if !disabled {
			_, err := s.exec(ctx, tx, `DELETE FROM trigger_state WHERE trigger_key = ?`, key)
			return err
		}
		_, err := s.exec(ctx, tx, `INSERT INTO trigger_state (trigger_key, disabled_us) VALUES (?, ?)
ON CONFLICT (trigger_key) DO NOTHING`, key, s.timestamp().UnixMicro())
		return err
	})
	return s.fail("switch trigger "+key, err)
}

// triggerTables are the tables that keep state by trigger key.
var triggerTables = []string{"schedule_state", "trigger_state"}

// TriggerKeys returns the keys of every trigger with state (a schedule's
// last tick or a switch-off); a key with both appears twice.
func (s *Store) TriggerKeys(ctx context.Context) ([]string, error) {
	var keys []string
	for _, table := range triggerTables {
		rows, err := s.query(ctx, s.db, `SELECT trigger_key FROM `+table)
		if err != nil {
			return nil, s.fail("read trigger keys", err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, s.fail("read trigger keys", err)
			}
			keys = append(keys, k)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, s.fail("read trigger keys", err)
		}
	}
	return keys, nil
}

// RenameTriggerKeys moves trigger state from old keys to new ones, in one
// transaction: renames maps an old key to its new key, or to "" to forget
// it. State already under a new key wins over the old key's.
func (s *Store) RenameTriggerKeys(ctx context.Context, renames map[string]string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		for old, key := range renames {
			for _, table := range triggerTables {
				if key != "" {
					if _, err := s.exec(ctx, tx, `UPDATE `+table+` SET trigger_key = ? WHERE trigger_key = ?
AND NOT EXISTS (SELECT 1 FROM `+table+` WHERE trigger_key = ?)`, key, old, key); err != nil {
						return err
					}
				}
				if _, err := s.exec(ctx, tx, `DELETE FROM `+table+` WHERE trigger_key = ?`, old); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return s.fail("rename trigger keys", err)
}

// RecordDelivery records a webhook delivery id received at at: it reports
// false when the id was recorded before (a replay). Ids received before
// forget are deleted first.
func (s *Store) RecordDelivery(ctx context.Context, id string, at, forget time.Time) (bool, error) {
	fresh := false
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `DELETE FROM webhook_deliveries WHERE received_us < ?`, forget.UnixMicro()); err != nil {
			return err
		}
		res, err := s.exec(ctx, tx, `INSERT INTO webhook_deliveries (id, received_us) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, id, at.UnixMicro())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		fresh = n == 1
		return err
	})
	return fresh, s.fail("record webhook delivery", err)
}
