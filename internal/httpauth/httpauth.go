// Package httpauth holds the bearer-token rules every rat listener
// shares: the API server (internal/server) and /metrics (internal/metrics,
// on rat serve and on rat worker --listen). Standard library and the root
// package only.
package httpauth

import (
	"net"
	"net/http"
	"strings"

	"github.com/ratdata/rat"
)

// MinRemoteToken is the shortest token a listener off loopback accepts:
// 32 bytes, such as `openssl rand -hex 16` gives, or better -hex 32.
const MinRemoteToken = 32

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

// CheckTokenLength refuses a short token on a listener others can reach;
// name says which token it is, never its value.
func CheckTokenLength(listen, name, secret string) error {
	if IsLoopback(listen) || len(secret) >= MinRemoteToken {
		return nil
	}
	return rat.Errorf(rat.EINVALID, "token %s is %d bytes long: listening on %s (not a loopback address) needs tokens of at least %d bytes: make one with openssl rand -hex 32", name, len(secret), listen, MinRemoteToken)
}

// Bearer returns the token of an "Authorization: Bearer <token>" header.
func Bearer(r *http.Request) (string, bool) {
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return "", false
	}
	return secret, true
}
