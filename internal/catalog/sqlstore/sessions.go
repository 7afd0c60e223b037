package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// CreateSession records a web UI session: idHash (the SHA-256 of the id
// in the browser's cookie, never the id), the token it signed in with and
// that token's check value, valid until expires. Sessions expired at now
// are deleted first, so the table holds live sessions only.
func (s *Store) CreateSession(ctx context.Context, idHash, tokenName, tokenMAC string, now, expires time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `DELETE FROM ui_sessions WHERE expires_us <= ?`, now.UnixMicro()); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, `INSERT INTO ui_sessions (id_hash, token_name, token_mac, created_us, expires_us) VALUES (?, ?, ?, ?, ?)`,
			idHash, tokenName, tokenMAC, now.UnixMicro(), expires.UnixMicro())
		return err
	})
	return s.fail("record session", err)
}

// Session returns the token name and check value of a session that
// exists and has not expired at now; ok is false otherwise.
func (s *Store) Session(ctx context.Context, idHash string, now time.Time) (tokenName, tokenMAC string, ok bool, err error) {
	err = s.queryRow(ctx, s.db, `SELECT token_name, token_mac FROM ui_sessions WHERE id_hash = ? AND expires_us > ?`,
		idHash, now.UnixMicro()).Scan(&tokenName, &tokenMAC)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, s.fail("read session", err)
	}
	return tokenName, tokenMAC, true, nil
}

// DeleteSession ends a session (sign-out); an unknown one is no error.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `DELETE FROM ui_sessions WHERE id_hash = ?`, idHash)
		return err
	})
	return s.fail("delete session", err)
}
