package cli

import (
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestHealth: rat health asks a running rat serve's /health/live (or
// /health/ready) without a token, finds the server from RAT_LISTEN when no
// URL is given (a server on every interface is asked on loopback), and
// fails with status 1 and the reason when nothing or an unhealthy server
// answers.
func TestHealth(t *testing.T) {
	u := newUser(t, false)
	const token = "health-token-0123456789abcdef0123456789"
	u.env = append(u.env, "RAT_API_TOKEN="+token)
	line := startDaemon(t, u, regexp.MustCompile(`listening on (http://localhost:\d+)`), "serve", "--listen", "0.0.0.0:0")
	port := line[strings.LastIndex(line, ":")+1:]
	base := "http://127.0.0.1:" + port

	if out := u.ok("health", base); out != "ok: "+base+"/health/live\n" {
		t.Errorf("rat health %s: %q", base, out)
	}
	if out := u.ok("health", "--ready", base+"/"); out != "ok: "+base+"/health/ready\n" {
		t.Errorf("rat health --ready: %q", out)
	}
	// No URL: the listen address from the environment, on loopback.
	u.env = append(u.env, "RAT_LISTEN=0.0.0.0:"+port)
	if out := u.ok("health"); out != "ok: "+base+"/health/live\n" {
		t.Errorf("rat health with RAT_LISTEN=0.0.0.0:%s: %q", port, out)
	}

	// Nothing listening: status 1 naming the address.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	u.fails(closed+"/health/live", "health", closed)
	if _, _, code := u.run("health", closed); code != 1 {
		t.Errorf("rat health of a closed port: exit %d, want 1", code)
	}

	// An answer other than 200: its status and body.
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health/ready" {
			http.NotFound(w, r)
			return
		}
		http.Error(w, `{"status":"unavailable"}`, http.StatusServiceUnavailable)
	}))
	defer sick.Close()
	u.fails(`503 Service Unavailable: {"status":"unavailable"}`, "health", "--ready", sick.URL)
	u.fails("404 Not Found", "health", sick.URL)

	// Bad input: usage errors.
	u.fails("want a URL like http://127.0.0.1:3030", "health", "127.0.0.1:3030")
	u.fails("want a positive duration", "health", "--timeout", "0s", base)
	u.fails("want at most one URL", "health", base, base)
}

func TestListenURL(t *testing.T) {
	for listen, want := range map[string]string{
		"0.0.0.0:3030":       "http://127.0.0.1:3030",
		":3030":              "http://127.0.0.1:3030",
		"[::]:3030":          "http://[::1]:3030",
		"127.0.0.1:3030":     "http://127.0.0.1:3030",
		"10.0.0.5:8080":      "http://10.0.0.5:8080",
		"rat.internal:3030":  "http://rat.internal:3030",
		"[fe80::1%eth0]:303": "http://[fe80::1%eth0]:303",
	} {
		if got := listenURL(listen); got != want {
			t.Errorf("listenURL(%q) = %q, want %q", listen, got, want)
		}
	}
}
