package server

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/httpauth"
)

// A web page the user opens must not drive rat: on a loopback server
// without tokens every request is admin, and a page can send requests to
// http://127.0.0.1:3030 (cross-site requests) or rebind its own host name
// to 127.0.0.1 and then read the answers (DNS rebinding). Three checks stop
// it, before any handler runs:
//
//   - Host: a rebound page's requests carry the page's host name. On a
//     loopback listen address only localhost, loopback IPs, the bound
//     address and RAT_ALLOWED_HOSTS are answered. On any other address
//     (0.0.0.0 in Kubernetes, where probes and services use pod IPs and
//     service names) tokens are required anyway: the list is enforced only
//     when RAT_ALLOWED_HOSTS is set, and IP addresses are always accepted
//     there (rebinding needs a name; probes and Prometheus use pod IPs).
//   - Origin / Sec-Fetch-Site: a request that may change something (any
//     method but GET, HEAD, OPTIONS) sent by a page of another origin is
//     refused, unless that origin's host is in RAT_ALLOWED_HOSTS.
//   - Content-Type: an API request body must be application/json (or
//     multipart/form-data for uploads). A page can send text/plain or a
//     form cross-site without asking; JSON needs a CORS preflight, which
//     rat never grants.
//
// Clients that are not browsers (the CLI, curl, webhook senders) send no
// Origin and no Sec-Fetch-Site, and pass.

// codeMisdirected answers a request for a host this server does not serve.
const codeMisdirected = "misdirected"

// hostGuard decides which Host and Origin headers a server accepts.
type hostGuard struct {
	enforce  bool            // check Host at all
	loopback bool            // a loopback listen address: IP literals are not enough
	names    map[string]bool // host names accepted besides loopback ones (lower case, no port)
	trusted  map[string]bool // RAT_ALLOWED_HOSTS: accepted as Host and trusted as Origin
}

func newHostGuard(listen string, allowed []string) *hostGuard {
	g := &hostGuard{loopback: httpauth.IsLoopback(listen), names: map[string]bool{}, trusted: map[string]bool{}}
	g.enforce = g.loopback || len(allowed) > 0
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			g.names[normalHost(host)] = true
		}
	}
	for _, h := range allowed {
		g.names[normalHost(h)] = true
		g.trusted[normalHost(h)] = true
	}
	return g
}

// normalHost lower-cases a host name and drops brackets and a final dot,
// so "LOCALHOST." and "localhost", "[::1]" and "::1" compare equal.
func normalHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

// hostOf is the host name of a Host header, without its port; "" when
// the port is not a number ("localhost:1@evil.example").
func hostOf(hostport string) string {
	h, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return normalHost(hostport)
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return normalHost(h)
}

// allowsHost reports whether a request's Host header names this server.
func (g *hostGuard) allowsHost(hostport string) bool {
	if !g.enforce {
		return true
	}
	h := hostOf(hostport)
	if h == "" {
		return false
	}
	if h == "localhost" || g.names[h] {
		return true
	}
	ip := net.ParseIP(h)
	if ip == nil {
		return false
	}
	return ip.IsLoopback() || !g.loopback
}

// crossOrigin returns an error for a browser request that may change
// something and comes from a page of another origin.
func (g *hostGuard) crossOrigin(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	site := r.Header.Get("Sec-Fetch-Site")
	origin := r.Header.Get("Origin")
	if site == "same-origin" || site == "none" {
		return nil // the browser says so: this site's page, or typed by the user
	}
	if site == "" && origin == "" {
		return nil // not a browser
	}
	if origin != "" && origin != "null" {
		if u, err := url.Parse(origin); err == nil && u.Host != "" {
			if site == "" && strings.EqualFold(u.Host, r.Host) {
				return nil // an older browser: same host and port
			}
			if g.trusted[hostOf(u.Host)] {
				return nil
			}
		}
	}
	from := origin
	if from == "" {
		from = "a " + site + " page"
	}
	return rat.Errorf(codeForbidden, "cross-origin request refused: %s may not send %s %s to this server (a page of another site cannot drive rat; to trust that site's host name, add it to RAT_ALLOWED_HOSTS)", from, r.Method, r.URL.Path)
}

// guardRequests applies the Host and cross-origin checks to every request.
// Webhooks skip the Host check: they authenticate with their own signature
// or token, and tunnels (ngrok and the like) forward their own names.
func (s *Server) guardRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isWebhook(r) && !s.guard.allowsHost(r.Host) {
			s.writeError(w, r, rat.Errorf(codeMisdirected, "this server does not answer to host %q: use http://localhost:%s, or add the name to RAT_ALLOWED_HOSTS (comma-separated host names)", r.Host, s.port()))
			return
		}
		if err := s.guard.crossOrigin(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isWebhook reports whether r is a webhook delivery: POST to
// /api/v1/webhooks/<pipeline>, one path segment.
func isWebhook(r *http.Request) bool {
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/webhooks/")
	return ok && r.Method == http.MethodPost && rest != "" && !strings.Contains(rest, "/")
}

// port is the port the server listens on, for messages.
func (s *Server) port() string {
	if a := s.Addr(); a != nil {
		if _, p, err := net.SplitHostPort(a.String()); err == nil {
			return p
		}
	}
	_, p, _ := net.SplitHostPort(s.cfg.Listen)
	return p
}

// bodyTypes refuses an API request body that is neither JSON nor a
// multipart upload (415). Requests without a body pass.
func (s *Server) bodyTypes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hasBody(r) {
			mt := mediaType(r)
			if mt != "application/json" && mt != "multipart/form-data" {
				s.writeError(w, r, errMediaType(r, "send application/json (or multipart/form-data to upload files)"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// hasBody reports whether a request that may change something carries a
// body (a known length above zero, or chunked).
func hasBody(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
}

// mediaType is the request's Content-Type without parameters, lower case;
// "" when missing or malformed.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// codeUnsupportedMedia answers a body of a type the endpoint does not take.
const codeUnsupportedMedia = "unsupported_media_type"

// errMediaType is the 415 error for a request with the wrong Content-Type.
func errMediaType(r *http.Request, want string) error {
	got := r.Header.Get("Content-Type")
	if got == "" {
		got = "none"
	}
	return rat.Errorf(codeUnsupportedMedia, "%s %s: Content-Type %q is not accepted here: %s", r.Method, r.URL.Path, got, want)
}
