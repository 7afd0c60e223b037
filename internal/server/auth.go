package server

import (
	"crypto/sha256"
	"fmt"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"

	"github.com/ratdata/rat"
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

// authenticator checks bearer tokens. With no tokens, every request is
// admin: New only allows that on a loopback address.
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
	if len(tokens) == 0 && !IsLoopback(listen) {
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
		if err := checkTokenLength(listen, fmt.Sprintf("%q", t.Name), t.Secret); err != nil {
			return nil, err
		}
		a.tokens = append(a.tokens, hashedToken{name: t.Name, sum: sha256.Sum256([]byte(t.Secret)), role: t.Role})
	}
	return a, nil
}

// IsLoopback reports whether a listen address only accepts local
// connections: localhost or a loopback IP. ":3030" listens everywhere.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// role returns the role of the request's bearer token. Every configured
// token is compared, in constant time on fixed-length digests, so timing
// says nothing about which token nearly matched.
func (a *authenticator) role(r *http.Request) (Role, bool) {
	if len(a.tokens) == 0 {
		return RoleAdmin, true
	}
	secret, ok := credential(r)
	if !ok {
		return 0, false
	}
	return a.lookup(secret)
}

// lookup returns the role of a token secret.
func (a *authenticator) lookup(secret string) (Role, bool) {
	sum := sha256.Sum256([]byte(secret))
	var found Role
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			found = max(found, t.role)
		}
	}
	return found, found != 0
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, bool) {
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return "", false
	}
	return secret, true
}

// authorize requires a token with at least role in front of next.
func (s *Server) authorize(need Role, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := s.auth.role(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rat"`)
			s.writeError(w, r, rat.Errorf(rat.EUNAUTHORIZED, "missing or wrong API token: send 'Authorization: Bearer <token>'"))
			return
		}
		if got < need {
			s.writeError(w, r, rat.Errorf(codeForbidden, "this token's role is %s; %s %s needs %s", got, r.Method, r.URL.Path, need))
			return
		}
		next.ServeHTTP(w, r)
	})
}
