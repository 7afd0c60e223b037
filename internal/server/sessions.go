package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"time"
)

// The web UI signs in once with a token and then holds a session: a random
// id in an HttpOnly, SameSite=Strict cookie, never the token itself. The
// catalog database keeps the session (so every replica accepts it and a
// sign-out ends it everywhere) as the id's SHA-256, the name of the token it
// signed in with and an HMAC of that token's digest keyed by the id. A
// session ends when it expires, when the user signs out, or when its token
// is removed from the configuration or given another secret.

// sessionLifetime is how long a sign-in lasts.
const sessionLifetime = 12 * time.Hour

// sessionStore is what the catalog stores keep sessions with.
type sessionStore interface {
	CreateSession(ctx context.Context, idHash, tokenName, tokenMAC string, now, expires time.Time) error
	Session(ctx context.Context, idHash string, now time.Time) (tokenName, tokenMAC string, ok bool, err error)
	DeleteSession(ctx context.Context, idHash string) error
}

// sessionIDHash is the form of a session id the database keeps.
func sessionIDHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// sessionMAC binds a session id to a token: the token's digest, keyed by
// the id, so the database alone cannot be checked against guessed tokens.
func sessionMAC(id string, t hashedToken) string {
	m := hmac.New(sha256.New, []byte(id))
	m.Write(t.sum[:])
	return hex.EncodeToString(m.Sum(nil))
}

// startSession records a new session for a token and returns its id.
func (s *Server) startSession(ctx context.Context, t hashedToken) (string, time.Time, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, err
	}
	id := base64.RawURLEncoding.EncodeToString(b)
	now := s.cfg.Now()
	expires := now.Add(sessionLifetime)
	err := s.sessions.CreateSession(ctx, sessionIDHash(id), t.name, sessionMAC(id, t), now, expires)
	return id, expires, err
}

// sessionRole is the role of a session id: that of its token as configured
// now. A session whose token is gone or changed is deleted.
func (s *Server) sessionRole(ctx context.Context, id string) (Role, bool) {
	if id == "" || len(id) > 128 {
		return 0, false
	}
	h := sessionIDHash(id)
	name, mac, ok, err := s.sessions.Session(ctx, h, s.cfg.Now())
	if err != nil {
		s.log.Error("read session", "err", err)
		return 0, false
	}
	if !ok {
		return 0, false
	}
	for _, t := range s.auth.tokens {
		if t.name == name && hmac.Equal([]byte(sessionMAC(id, t)), []byte(mac)) {
			return t.role, true
		}
	}
	if err := s.sessions.DeleteSession(ctx, h); err != nil {
		s.log.Error("delete session", "err", err)
	}
	return 0, false
}

// endSession deletes the session of a request's cookie, if any.
func (s *Server) endSession(r *http.Request) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return
	}
	if err := s.sessions.DeleteSession(r.Context(), sessionIDHash(c.Value)); err != nil {
		s.log.Error("delete session", "err", err)
	}
}

// sessionCookieFor is the cookie that carries a session id; an empty id
// removes the cookie.
func sessionCookieFor(r *http.Request, id string, expires time.Time) *http.Cookie {
	c := &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)}
	if id == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	return c
}
