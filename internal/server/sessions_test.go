package server

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// replica starts another server on e's catalog with other tokens, as a
// second rat serve (or the same one restarted with a new token file).
func (e *testEnv) replica(tokens []Token) *httptest.Server {
	e.t.Helper()
	cfg := e.srv.cfg
	cfg.Metrics, cfg.Tokens = nil, tokens
	s, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	e.t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return ts
}

// getWith sends GET path to base with a cookie and returns the status.
func getWith(t *testing.T, base, path string, c *http.Cookie) int {
	t.Helper()
	resp, _ := get(t, noRedirect, base+path, func(r *http.Request) { r.AddCookie(c) })
	return resp.StatusCode
}

// TestSessions: the cookie holds a random session id, not the token; the
// catalog keeps the session, so every replica accepts it and a sign-out on
// one ends it on all; it expires, and ends with its token.
func TestSessions(t *testing.T) {
	t.Parallel()
	const ops, viewer = "sessions-admin-secret-1234", "sessions-read-secret-5678"
	tokens := []Token{{Name: "ops", Secret: ops, Role: RoleAdmin}, {Name: "viewer", Secret: viewer, Role: RoleRead}}
	clk := &clock{t: time.Now()}
	e := newTestEnv(t, basicFiles, func(c *Config) { c.Tokens, c.Now = tokens, clk.now })

	session := signIn(t, e, ops)
	raw, _ := base64.RawURLEncoding.DecodeString(session.Value)
	if strings.Contains(session.Value, ops) || strings.Contains(string(raw), ops) || len(raw) < 32 {
		t.Fatalf("the cookie carries the token, or a short id: %q", session.Value)
	}
	if session.Expires.IsZero() || session.Expires.Sub(clk.now()) > sessionLifetime+time.Minute {
		t.Errorf("cookie expires %v, want within %s", session.Expires, sessionLifetime)
	}
	if again := signIn(t, e, ops); again.Value == session.Value {
		t.Error("two sign-ins got the same session id")
	}
	if st := getWith(t, e.http.URL, "/api/v1/tables", session); st != http.StatusOK {
		t.Fatalf("the session is refused: %d", st)
	}
	// The token itself is not a session: the old cookie format is refused.
	if st := getWith(t, e.http.URL, "/api/v1/tables", &http.Cookie{Name: sessionCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(ops))}); st != http.StatusUnauthorized {
		t.Errorf("a cookie holding the token: %d, want 401", st)
	}

	// Another replica on the same catalog accepts it; signing out there
	// ends it here too, for the API and the pages.
	other := e.replica(tokens)
	if st := getWith(t, other.URL, "/api/v1/tables", session); st != http.StatusOK {
		t.Fatalf("another replica refuses the session: %d", st)
	}
	req, _ := http.NewRequest("POST", other.URL+"/logout", nil)
	req.AddCookie(session)
	out, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	if st := getWith(t, e.http.URL, "/api/v1/tables", session); st != http.StatusUnauthorized {
		t.Errorf("a signed-out session still works: %d", st)
	}
	if st := getWith(t, e.http.URL, "/tables", session); st != http.StatusSeeOther {
		t.Errorf("a signed-out session still opens pages: %d", st)
	}

	// A session expires.
	s2 := signIn(t, e, viewer)
	clk.add(sessionLifetime - time.Minute)
	if st := getWith(t, e.http.URL, "/api/v1/tables", s2); st != http.StatusOK {
		t.Fatalf("a session before its expiry: %d", st)
	}
	clk.add(2 * time.Minute)
	if st := getWith(t, e.http.URL, "/api/v1/tables", s2); st != http.StatusUnauthorized {
		t.Errorf("an expired session: %d, want 401", st)
	}

	// A token removed from the configuration, or given a new secret, ends
	// its sessions; the others go on.
	s3, s4 := signIn(t, e, viewer), signIn(t, e, ops)
	removed := e.replica(tokens[:1])
	if st := getWith(t, removed.URL, "/api/v1/tables", s3); st != http.StatusUnauthorized {
		t.Errorf("the session of a removed token: %d, want 401", st)
	}
	if st := getWith(t, removed.URL, "/api/v1/tables", s4); st != http.StatusOK {
		t.Errorf("the session of a kept token: %d", st)
	}
	s5 := signIn(t, e, viewer)
	rotated := e.replica([]Token{tokens[0], {Name: "viewer", Secret: "sessions-read-secret-NEW", Role: RoleRead}})
	if st := getWith(t, rotated.URL, "/api/v1/tables", s5); st != http.StatusUnauthorized {
		t.Errorf("the session of a token with a new secret: %d, want 401", st)
	}
	// A role changed in the configuration applies to running sessions.
	s6 := signIn(t, e, viewer)
	promoted := e.replica([]Token{tokens[0], {Name: "viewer", Secret: viewer, Role: RoleAdmin}})
	req, _ = http.NewRequest("POST", promoted.URL+"/api/v1/branches", strings.NewReader(`{"name":"promoted"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(uiHeader, "1")
	req.AddCookie(s6)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("a session whose token became admin: %d, want 201", resp.StatusCode)
	}
}

// TestSignInRateLimit: after 10 failed sign-ins an address is refused for
// a while, even with the right token, by the form and by bearer tokens;
// other addresses and running sessions are not.
func TestSignInRateLimit(t *testing.T) {
	t.Parallel()
	const ops = "ratelimit-admin-secret-1234"
	clk := &clock{t: time.Now()}
	e := newTestEnv(t, basicFiles, func(c *Config) {
		c.Tokens, c.Now = []Token{{Name: "ops", Secret: ops, Role: RoleAdmin}}, clk.now
	})
	session := signIn(t, e, ops)
	login := func(from, token string) *http.Response {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Host = "localhost"
		req.RemoteAddr = from
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(rec, req)
		return rec.Result()
	}
	api := func(from, token string) *http.Response {
		req := httptest.NewRequest("GET", "/api/v1/tables", nil)
		req.Host = "localhost"
		req.RemoteAddr = from
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(rec, req)
		return rec.Result()
	}
	const attacker = "203.0.113.7:5555"
	for i := 0; i < signInFailures/2; i++ {
		if r := login(attacker, "guess"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, r.StatusCode)
		}
		if r := api(attacker, "guess"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bearer guess %d: %d", i, r.StatusCode)
		}
	}
	for name, r := range map[string]*http.Response{
		"the form, a wrong token": login(attacker, "guess"), "the form, the right token": login(attacker, ops),
		"a bearer, a wrong token": api(attacker, "guess"), "a bearer, the right token": api(attacker, ops),
		"the same client, another port": login("203.0.113.7:6666", ops),
	} {
		if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s after %d failures: %d (Retry-After %q), want 429", name, signInFailures, r.StatusCode, r.Header.Get("Retry-After"))
		}
	}
	if r := login("198.51.100.1:1", ops); r.StatusCode != http.StatusSeeOther {
		t.Errorf("another address: %d, want a sign-in", r.StatusCode)
	}
	if st := getWith(t, e.http.URL, "/api/v1/tables", session); st != http.StatusOK {
		t.Errorf("a running session: %d", st)
	}
	// IPv6 clients count per /64.
	for i := 0; i < signInFailures; i++ {
		login("[2001:db8:1:2::1]:1", "guess")
	}
	if r := login("[2001:db8:1:2::ffff]:1", ops); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the same /64: %d, want 429", r.StatusCode)
	}
	if r := login("[2001:db8:1:3::1]:1", ops); r.StatusCode != http.StatusSeeOther {
		t.Errorf("another /64: %d, want a sign-in", r.StatusCode)
	}
	// The window passes.
	clk.add(signInWindow)
	if r := login(attacker, ops); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after the window: %d, want a sign-in", r.StatusCode)
	}
}

// TestSignInLimiterBounded: however many addresses fail, the limiter
// remembers a bounded number.
func TestSignInLimiterBounded(t *testing.T) {
	var l signInLimiter
	now := time.Now()
	for i := 0; i < signInClients+500; i++ {
		l.fail("10."+strings.Repeat("x", i%7)+time.Duration(i).String(), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(l.clients); n > signInClients {
		t.Fatalf("%d addresses remembered, want at most %d", n, signInClients)
	}
}
