package metrics

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/httpauth"
)

// Access decides who may read /metrics: anyone (Token empty), or a caller
// presenting Token or one of Secrets as its bearer token.
type Access struct {
	Token   string   // RAT_METRICS_TOKEN; "" = /metrics is open
	Secrets []string // the API tokens' secrets, accepted as well (every role includes read)
}

// Check refuses a metrics token others could guess on a listener they can
// reach (listen is host:port).
func (a Access) Check(listen string) error {
	if a.Token == "" {
		return nil
	}
	return httpauth.CheckTokenLength(listen, "RAT_METRICS_TOKEN", a.Token)
}

// Handler serves the registry in Prometheus' text format behind access.
// Digests of equal length are compared in constant time, as for API
// tokens.
func (m *Metrics) Handler(access Access) http.Handler {
	next := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	if access.Token == "" {
		return next
	}
	sums := [][sha256.Size]byte{sha256.Sum256([]byte(access.Token))}
	for _, s := range access.Secrets {
		sums = append(sums, sha256.Sum256([]byte(s)))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := httpauth.Bearer(r)
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

// Serve serves /metrics (behind access) and /health/live on addr, for a
// process without the API (rat worker --listen). It returns the bound
// address and a function that stops the listener.
func (m *Metrics) Serve(ctx context.Context, addr string, access Access) (net.Addr, func(), error) {
	if err := access.Check(addr); err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, rat.Errorf(rat.EINVALID, "listen on %s: %v", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler(access))
	mux.HandleFunc("GET /health/live", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr(), func() {
		stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(stop)
	}, nil
}
