package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/httpauth"
	"github.com/ratdata/rat/internal/metrics"
)

// Role is what a token may do. Each role includes the ones before it.
type Role int

// Roles.
const (
	RoleRead  Role = iota + 1 // every GET
	RoleRun                   // read, start and cancel runs, query, upload to landing zones
	RoleAdmin                 // everything: branches, tags, merges
)

func (r Role) String() string {
	switch r {
	case RoleRead:
		return "read"
	case RoleRun:
		return "run"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole reads read, run or admin.
func ParseRole(s string) (Role, error) {
	for _, r := range []Role{RoleRead, RoleRun, RoleAdmin} {
		if strings.EqualFold(s, r.String()) {
			return r, nil
		}
	}
	return 0, rat.Errorf(rat.EINVALID, "token role %q: want read, run or admin", s)
}

// Token is one API token. Secret is never logged or returned.
type Token struct {
	Name   string
	Secret string
	Role   Role
}

// authenticator holds the API tokens, as digests. With no tokens, every
// request is admin: New only allows that on a loopback address.
type authenticator struct {
	tokens []hashedToken
}

type hashedToken struct {
	name string
	sum  [sha256.Size]byte
	role Role
}

func newAuthenticator(listen string, tokens []Token) (*authenticator, error) {
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return nil, rat.Errorf(rat.EINVALID, "listen address %q: want host:port, for example 127.0.0.1:3030", listen)
	}
	if len(tokens) == 0 && !httpauth.IsLoopback(listen) {
		return nil, rat.Errorf(rat.EINVALID, "refusing to listen on %s without a token: set RAT_API_TOKEN (an admin token) or listen on a loopback address such as 127.0.0.1:3030", listen)
	}
	a := &authenticator{}
	for _, t := range tokens {
		if t.Secret == "" {
			return nil, rat.Errorf(rat.EINVALID, "token %q has an empty secret", t.Name)
		}
		if t.Role < RoleRead || t.Role > RoleAdmin {
			return nil, rat.Errorf(rat.EINVALID, "token %q: want role read, run or admin", t.Name)
		}
		if err := httpauth.CheckTokenLength(listen, fmt.Sprintf("%q", t.Name), t.Secret); err != nil {
			return nil, err
		}
		a.tokens = append(a.tokens, hashedToken{name: t.Name, sum: sha256.Sum256([]byte(t.Secret)), role: t.Role})
	}
	return a, nil
}

// find returns the token a secret belongs to (the one with the highest
// role if several share it). Every configured token is compared, in
// constant time on fixed-length digests, so timing says nothing about
// which token nearly matched.
func (a *authenticator) find(secret string) (hashedToken, bool) {
	sum := sha256.Sum256([]byte(secret))
	var found hashedToken
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 && t.role > found.role {
			found = t
		}
	}
	return found, found.role != 0
}

// authenticate returns the role of a request: that of its bearer token,
// else of its UI session. Without tokens every request is admin (New
// allows that on loopback only). A client with too many failed attempts
// is refused (429, with Retry-After) before its token is looked at.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (Role, error) {
	if !s.auth.enabled() {
		return RoleAdmin, nil
	}
	unauthorized := rat.Errorf(rat.EUNAUTHORIZED, "missing or wrong API token: send 'Authorization: Bearer <token>'")
	if secret, ok := httpauth.Bearer(r); ok {
		key, now := clientKey(r), s.cfg.Now()
		if wait := s.limiter.blocked(key, now); wait > 0 {
			return 0, s.tooManyFailures(w, wait)
		}
		if t, ok := s.auth.find(secret); ok {
			return t.role, nil
		}
		s.limiter.fail(key, now)
		s.log.Warn("wrong API token", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
		return 0, unauthorized
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return 0, unauthorized
	}
	// A cross-site form cannot set a header: a change through the cookie
	// needs the UI's.
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get(uiHeader) == "" {
		return 0, unauthorized
	}
	if role, ok := s.sessionRole(r.Context(), c.Value); ok {
		return role, nil
	}
	return 0, unauthorized
}

// tooManyFailures is the answer to a client that failed to sign in too
// often: 429 with the wait in Retry-After.
func (s *Server) tooManyFailures(w http.ResponseWriter, wait time.Duration) error {
	return rat.Errorf(codeTooManyRequests, "too many failed sign-ins from this address: try again in %d seconds", retryAfter(w, wait))
}

// retryAfter sets Retry-After to wait, in whole seconds, and returns them.
func retryAfter(w http.ResponseWriter, wait time.Duration) int {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return secs
}

// authorize requires a token with at least role in front of next.
func (s *Server) authorize(need Role, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, err := s.authenticate(w, r)
		if rat.IsCode(err, rat.EUNAUTHORIZED) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rat"`)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if got < need {
			s.writeError(w, r, rat.Errorf(codeForbidden, "this token's role is %s; %s %s needs %s", got, r.Method, r.URL.Path, need))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// metricsAccessOf is the /metrics rule of a server's configuration:
// RAT_METRICS_TOKEN, or any API token, when the former is set.
func metricsAccessOf(cfg Config) metrics.Access {
	a := metrics.Access{Token: cfg.MetricsToken}
	for _, t := range cfg.Tokens {
		a.Secrets = append(a.Secrets, t.Secret)
	}
	return a
}
