package server

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ratdata/rat/internal/ui"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, c *http.Client, u string, mod func(*http.Request)) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(req)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// pagePaths is one URL of every UI page.
func pagePaths() []string {
	var out []string
	for _, p := range ui.Pages {
		out = append(out, strings.NewReplacer("{$}", "", "{id}", "gold.total").Replace(p.Pattern))
	}
	return out
}

func TestUIPagesWithoutTokens(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, nil)
	for _, p := range pagePaths() {
		resp, body := get(t, noRedirect, e.http.URL+p, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<main id="main"`) {
			t.Errorf("GET %s = %d, want the page", p, resp.StatusCode)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q", p, csp)
		}
		if !strings.Contains(body, `data-role="admin"`) {
			t.Errorf("GET %s: without tokens the role is admin; page: %.300s", p, body)
		}
	}
	// Without tokens there is nothing to sign in to.
	if resp, _ := get(t, noRedirect, e.http.URL+"/login", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("GET /login without tokens = %d %s, want a redirect to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Static files carry a content hash: the versioned URL may be cached.
	_, body := get(t, noRedirect, e.http.URL+"/", nil)
	i := strings.Index(body, "/static/core.js?v=")
	if i < 0 {
		t.Fatalf("the page does not load core.js: %.500s", body)
	}
	src := body[i : strings.Index(body[i:], `"`)+i]
	sr, js := get(t, noRedirect, e.http.URL+src, nil)
	if sr.StatusCode != http.StatusOK || !strings.Contains(sr.Header.Get("Cache-Control"), "immutable") || !strings.Contains(js, "rat.api") {
		t.Errorf("GET %s = %d %q", src, sr.StatusCode, sr.Header.Get("Cache-Control"))
	}
	if r, _ := get(t, noRedirect, e.http.URL+"/static/nope.js", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown static file = %d, want 404", r.StatusCode)
	}
}

func TestUITokenSignIn(t *testing.T) {
	t.Parallel()
	const secret = "ui-admin-secret-123456"
	e := newTestEnv(t, basicFiles, func(c *Config) {
		c.Tokens = []Token{{Name: "ops", Secret: secret, Role: RoleAdmin}, {Name: "viewer", Secret: "ui-read-secret-654321", Role: RoleRead}}
	})
	base := e.http.URL

	// Without a session every page sends the browser to the login page
	// (and shows nothing), and every API call is refused.
	for _, p := range pagePaths() {
		resp, body := get(t, noRedirect, base+p, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next="+url.QueryEscape(p) || strings.Contains(body, "<main") {
			t.Errorf("GET %s without a token = %d %s", p, resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, _ = get(t, noRedirect, base+p, func(r *http.Request) { r.AddCookie(&http.Cookie{Name: sessionCookie, Value: "d3Jvbmc"}) })
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("GET %s with a wrong session = %d, want a redirect to the login page", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/api/v1/workspace", "/api/v1/overview", "/api/v1/landing", "/api/v1/lineage/status", "/api/v1/config", "/api/v1/runs"} {
		if resp, _ := get(t, noRedirect, base+p, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without a token = %d, want 401", p, resp.StatusCode)
		}
	}
	resp, body := get(t, noRedirect, base+"/login?next=/tables", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="token"`) || !strings.Contains(body, `value="/tables"`) {
		t.Fatalf("login page = %d: %.500s", resp.StatusCode, body)
	}

	post := func(form url.Values) *http.Response {
		resp, err := noRedirect.PostForm(base+"/login", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post(url.Values{"token": {"nope"}, "next": {"/tables"}}); r.StatusCode != http.StatusUnauthorized || len(r.Cookies()) != 0 {
		t.Errorf("a wrong token signs in: %d %v", r.StatusCode, r.Cookies())
	}
	// An open redirect after sign-in is not possible.
	if r := post(url.Values{"token": {secret}, "next": {"//evil.example/"}}); r.Header.Get("Location") != "/" {
		t.Errorf("next=//evil.example/ redirects to %s", r.Header.Get("Location"))
	}
	r := post(url.Values{"token": {secret}, "next": {"/tables"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/tables" || len(r.Cookies()) != 1 {
		t.Fatalf("sign in = %d %s %v", r.StatusCode, r.Header.Get("Location"), r.Cookies())
	}
	session := r.Cookies()[0]
	if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, path /", session)
	}
	withSession := func(r *http.Request) { r.AddCookie(session) }
	for _, p := range pagePaths() {
		resp, body := get(t, noRedirect, base+p, withSession)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-role="admin"`) || !strings.Contains(body, "Sign out") {
			t.Errorf("GET %s signed in = %d", p, resp.StatusCode)
		}
		if strings.Contains(body, secret) {
			t.Errorf("GET %s shows the token", p)
		}
	}
	if resp, body := get(t, noRedirect, base+"/api/v1/tables", withSession); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /api/v1/tables with the session = %d %s", resp.StatusCode, body)
	}

	// A change through the session needs the UI's header: a cross-site
	// form cannot send it.
	send := func(header bool) int {
		req, _ := http.NewRequest("POST", base+"/api/v1/branches", strings.NewReader(`{"name": "x`+map[bool]string{true: "1", false: "2"}[header]+`"}`))
		req.AddCookie(session)
		req.Header.Set("Content-Type", "application/json")
		if header {
			req.Header.Set(uiHeader, "1")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := send(false); st != http.StatusUnauthorized {
		t.Errorf("POST with the session but without %s = %d, want 401", uiHeader, st)
	}
	if st := send(true); st != http.StatusCreated {
		t.Errorf("POST with the session and %s = %d, want 201", uiHeader, st)
	}

	// A read token sees pages with its role, so the browser hides what it
	// cannot do; the API still decides.
	rr := post(url.Values{"token": {"ui-read-secret-654321"}})
	if resp, body := get(t, noRedirect, base+"/runs", func(r *http.Request) { r.AddCookie(rr.Cookies()[0]) }); resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-role="read"`) {
		t.Errorf("read token page = %d", resp.StatusCode)
	}

	out, err := noRedirect.Post(base+"/logout", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	if out.StatusCode != http.StatusSeeOther || len(out.Cookies()) != 1 || out.Cookies()[0].MaxAge >= 0 {
		t.Errorf("sign out = %d %v, want the cookie removed", out.StatusCode, out.Cookies())
	}
}

// signIn signs in through the login form and returns the session cookie.
func signIn(t *testing.T, e *testEnv, token string) *http.Cookie {
	t.Helper()
	resp, err := noRedirect.PostForm(e.http.URL+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			return c
		}
	}
	t.Fatalf("sign in: %d, no session cookie", resp.StatusCode)
	return nil
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/tables":               "/tables",
		"/runs?status=failed":   "/runs?status=failed",
		"":                      "/",
		"tables":                "/",
		"//evil.example/":       "/",
		"/\\evil.example":       "/",
		"/\t/evil.example":      "/",
		"/\n/evil.example":      "/",
		"https://evil.example/": "/",
		"javascript:alert(1)":   "/",
		"/%0a/evil.example":     "/%0a/evil.example", // stays a path on this site
		"/tables#x":             "/tables#x",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEveryRouteNeedsAToken reads the routes from server.go, so a route
// added later is checked too: with tokens configured, each API call
// without a valid token is refused, and so is a change through the UI's
// cookie without the UI's header.
func TestEveryRouteNeedsAToken(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`api\("([A-Z]+) (/api/v1/[^"]*)"`).FindAllStringSubmatch(string(src), -1)
	if len(routes) < 30 {
		t.Fatalf("found %d routes in server.go: the pattern is out of date", len(routes))
	}
	const secret = "route-test-secret-0123456789"
	e := newTestEnv(t, basicFiles, func(c *Config) { c.Tokens = []Token{{Name: "ops", Secret: secret, Role: RoleAdmin}} })
	session := signIn(t, e, secret)
	params := regexp.MustCompile(`\{[^}]+\}`)
	for _, r := range routes {
		method, path := r[1], params.ReplaceAllString(r[2], "x")
		for _, c := range []struct {
			name string
			set  func(*http.Request)
		}{
			{"no token", func(*http.Request) {}},
			{"wrong token", func(q *http.Request) { q.Header.Set("Authorization", "Bearer "+secret+"x") }},
			{"wrong cookie", func(q *http.Request) { q.AddCookie(&http.Cookie{Name: sessionCookie, Value: "eA"}) }},
		} {
			req, _ := http.NewRequest(method, e.http.URL+path, strings.NewReader("{}"))
			c.set(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			// Wrong tokens from one address soon meet the sign-in limit:
			// refused all the same, as 429.
			if resp.StatusCode != http.StatusUnauthorized && !(c.name == "wrong token" && resp.StatusCode == http.StatusTooManyRequests) {
				t.Errorf("%s %s with %s = %d, want 401", method, path, c.name, resp.StatusCode)
			}
		}
		if method != "GET" {
			req, _ := http.NewRequest(method, e.http.URL+path, strings.NewReader("{}"))
			req.AddCookie(session)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s with the session but no %s = %d, want 401", method, path, uiHeader, resp.StatusCode)
			}
		}
	}
}
