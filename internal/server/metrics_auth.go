package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"

	"github.com/ratdata/rat"
)

// minRemoteToken is the shortest token a server off loopback accepts:
// 32 bytes, such as `openssl rand -hex 16` gives, or better -hex 32.
const minRemoteToken = 32

// checkTokenLength refuses a short token on a server others can reach.
func checkTokenLength(listen, name, secret string) error {
	if IsLoopback(listen) || len(secret) >= minRemoteToken {
		return nil
	}
	return rat.Errorf(rat.EINVALID, "token %s is %d bytes long: listening on %s (not a loopback address) needs tokens of at least %d bytes: make one with openssl rand -hex 32", name, len(secret), listen, minRemoteToken)
}

// MetricsAccess decides who may read /metrics: anyone (Token empty), or a
// caller presenting Token or any API token as its bearer token.
type MetricsAccess struct {
	Token  string  // RAT_METRICS_TOKEN; "" = /metrics is open
	Tokens []Token // API tokens, accepted as well (every role includes read)
}

// check validates the access for a listen address.
func (m MetricsAccess) check(listen string) error {
	if m.Token == "" {
		return nil
	}
	return checkTokenLength(listen, "RAT_METRICS_TOKEN", m.Token)
}

// wrap puts next behind the access rule. Digests of equal length are
// compared in constant time, as for API tokens.
func (m MetricsAccess) wrap(next http.Handler) http.Handler {
	if m.Token == "" {
		return next
	}
	sums := [][sha256.Size]byte{sha256.Sum256([]byte(m.Token))}
	for _, t := range m.Tokens {
		sums = append(sums, sha256.Sum256([]byte(t.Secret)))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearer(r)
		match := 0
		if ok {
			sum := sha256.Sum256([]byte(got))
			for _, s := range sums {
				match |= subtle.ConstantTimeCompare(sum[:], s[:])
			}
		}
		if match != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rat metrics"`)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintln(w, "/metrics needs a token: send 'Authorization: Bearer <token>' with RAT_METRICS_TOKEN or an API token (Prometheus: authorization: {credentials_file: ...})")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// metricsAccessOf is the /metrics rule of a server's configuration.
func metricsAccessOf(cfg Config) MetricsAccess {
	return MetricsAccess{Token: cfg.MetricsToken, Tokens: cfg.Tokens}
}
