package server

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// raw sends a request with a literal body and headers ("Host" sets the
// Host header).
func (e *testEnv) raw(method, path, body string, headers map[string]string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	return e.send(req)
}

// port is the test server's port.
func (e *testEnv) port() string {
	u, _ := url.Parse(e.http.URL)
	return u.Port()
}

// TestHostCheck is the DNS-rebinding defence: a page whose host name
// resolves to 127.0.0.1 sends its own name as Host, and a loopback
// server answers only its own names.
func TestHostCheck(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, nil) // loopback, no tokens: every request is admin
	p := e.port()
	for host, want := range map[string]int{
		"evil.example":                http.StatusMisdirectedRequest,
		"evil.example:" + p:           http.StatusMisdirectedRequest,
		"localhost.evil.example:" + p: http.StatusMisdirectedRequest,
		"127.0.0.1.nip.io:" + p:       http.StatusMisdirectedRequest,
		"10.0.0.5:" + p:               http.StatusMisdirectedRequest,
		"localhost:" + p:              http.StatusOK,
		"LOCALHOST.:" + p:             http.StatusOK,
		"127.0.0.1:" + p:              http.StatusOK,
		"[::1]:" + p:                  http.StatusOK,
		"localhost":                   http.StatusOK,
		"0.0.0.0:" + p:                http.StatusMisdirectedRequest, // browsers on Linux reach loopback through 0.0.0.0
		"localhost:1@evil.example":    http.StatusMisdirectedRequest,
	} {
		for _, path := range []string{"/api/v1/tables", "/", "/metrics", "/health/ready", "/static/core.js"} {
			r := e.raw("GET", path, "", map[string]string{"Host": host})
			if want == http.StatusOK && r.status == http.StatusMisdirectedRequest || want != http.StatusOK && r.status != want {
				t.Errorf("GET %s with Host %s: %d, want %d", path, host, r.status, want)
			}
			if want != http.StatusOK && (r.errCode() != codeMisdirected || !strings.Contains(r.errMessage(), "RAT_ALLOWED_HOSTS")) {
				t.Errorf("GET %s with Host %s: %s", path, host, r.raw)
			}
		}
	}
	// A rebound page cannot change anything either.
	r := e.raw("POST", "/api/v1/branches", `{"name":"rebound"}`, map[string]string{"Host": "evil.example:" + p, "Content-Type": "application/json"})
	if r.status != http.StatusMisdirectedRequest {
		t.Errorf("POST with a forged Host: %d %s", r.status, r.raw)
	}
	if r := e.do("GET", "/api/v1/branches/rebound", nil); r.status != http.StatusNotFound {
		t.Errorf("the refused request created a branch: %d", r.status)
	}
	// Webhook deliveries come through tunnels under their names: only a
	// POST to one webhook skips the check.
	if r := e.raw("POST", "/api/v1/webhooks/silver.orders", "{}", map[string]string{"Host": "tunnel.example", "Content-Type": "application/json"}); r.status != http.StatusNotFound {
		t.Errorf("a webhook through a tunnel: %d %s, want its 404", r.status, r.raw)
	}
	for _, path := range []string{"/api/v1/webhooks/silver.orders", "/api/v1/webhooks/x/../../tables"} {
		if r := e.raw("GET", path, "", map[string]string{"Host": "evil.example"}); r.status == http.StatusOK {
			t.Errorf("GET %s with a forged Host: %d", path, r.status)
		}
	}

	// Names listed in RAT_ALLOWED_HOSTS are answered too.
	listed := newTestEnv(t, nil, func(c *Config) { c.AllowedHosts = []string{"rat.example.com"} })
	for host, want := range map[string]int{"rat.example.com": 200, "RAT.example.com:443": 200, "localhost:1": 200, "other.example.com": 421} {
		if r := listed.raw("GET", "/api/v1/tables", "", map[string]string{"Host": host}); r.status != want {
			t.Errorf("allowed hosts, Host %s: %d, want %d", host, r.status, want)
		}
	}

	// Off loopback tokens protect the server: the Host list applies only
	// when set, and IP addresses (probes, Prometheus) are always answered.
	const tok = "an-admin-token-of-at-least-32-bytes!"
	open := newTestEnv(t, nil, func(c *Config) {
		c.Listen = "0.0.0.0:3030"
		c.Tokens = []Token{{Name: "ops", Secret: tok, Role: RoleAdmin}}
	})
	open.token = tok
	if r := open.raw("GET", "/api/v1/tables", "", map[string]string{"Host": "rat.default.svc:3030"}); r.status != http.StatusOK {
		t.Errorf("0.0.0.0 without RAT_ALLOWED_HOSTS, a service name: %d", r.status)
	}
	strict := newTestEnv(t, nil, func(c *Config) {
		c.Listen = "0.0.0.0:3030"
		c.Tokens = []Token{{Name: "ops", Secret: tok, Role: RoleAdmin}}
		c.AllowedHosts = []string{"rat.example.com"}
	})
	strict.token = tok
	for host, want := range map[string]int{"rat.example.com": 200, "10.1.2.3:3030": 200, "[fd00::7]:3030": 200, "evil.example": 421} {
		if r := strict.raw("GET", "/health/ready", "", map[string]string{"Host": host}); r.status != want {
			t.Errorf("0.0.0.0 with RAT_ALLOWED_HOSTS, Host %s: %d, want %d", host, r.status, want)
		}
	}
}

// TestCrossOrigin: a page of another site cannot change anything, by
// fetch, form or upload; this site's own pages and non-browser clients can.
func TestCrossOrigin(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, func(c *Config) { c.AllowedHosts = []string{"trusted.example"} })
	self := e.http.URL
	branch := func(name string, headers map[string]string) response {
		h := map[string]string{"Content-Type": "application/json"}
		for k, v := range headers {
			h[k] = v
		}
		return e.raw("POST", "/api/v1/branches", `{"name":"`+name+`"}`, h)
	}
	for name, h := range map[string]map[string]string{
		"evil-fetch":     {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
		"evil-old":       {"Origin": "http://evil.example"},
		"other-port":     {"Origin": "http://localhost:8080", "Sec-Fetch-Site": "same-site"},
		"other-port-old": {"Origin": "http://127.0.0.1:8080"},
		"null-origin":    {"Origin": "null"},
		"no-origin":      {"Sec-Fetch-Site": "cross-site"},
	} {
		r := branch(name, h)
		if r.status != http.StatusForbidden || r.errCode() != codeForbidden || !strings.Contains(r.errMessage(), "cross-origin") {
			t.Errorf("%s: %d %s, want 403", name, r.status, r.raw)
		}
		if r := e.do("GET", "/api/v1/branches/"+name, nil); r.status != http.StatusNotFound {
			t.Errorf("%s: the refused request created the branch", name)
		}
	}
	for name, h := range map[string]map[string]string{
		"ui":         {"Origin": self, "Sec-Fetch-Site": "same-origin"},
		"ui-old":     {"Origin": self},
		"cli":        nil,
		"trusted":    {"Origin": "https://trusted.example", "Sec-Fetch-Site": "cross-site"},
		"user-typed": {"Sec-Fetch-Site": "none"},
	} {
		e.want(branch(name, h), http.StatusCreated)
	}
	// Reading is not a change: GET passes (the browser keeps the answer
	// from the other site's page, since rat sends no CORS headers).
	r := e.raw("GET", "/api/v1/tables", "", map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
	if r.status != http.StatusOK {
		t.Errorf("cross-site GET: %d", r.status)
	}
	req, _ := http.NewRequest("GET", self+"/api/v1/tables", nil)
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("Access-Control-Allow-Origin: %s", v)
	}

	// A cross-site form uploading to a landing zone, or posting to a
	// no-body endpoint, is refused too.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "evil.csv")
	fw.Write([]byte("a\n1\n"))
	mw.Close()
	up := e.raw("POST", "/api/v1/landing/orders", buf.String(), map[string]string{"Content-Type": mw.FormDataContentType(), "Origin": "http://evil.example"})
	if up.status != http.StatusForbidden {
		t.Errorf("cross-site upload: %d %s", up.status, up.raw)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "landing", "orders", "evil.csv")); err == nil {
		t.Error("the refused upload stored its file")
	}
	if r := e.raw("POST", "/api/v1/runs/x/cancel", "", map[string]string{"Origin": "http://evil.example"}); r.status != http.StatusForbidden {
		t.Errorf("cross-site cancel: %d", r.status)
	}
	// Nor can it sign the user in (to its own token) or out.
	for _, path := range []string{"/login", "/logout"} {
		r := e.raw("POST", path, "token=x", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
		if r.status != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d", path, r.status)
		}
	}
}

// TestJSONBodies: a page can send text/plain or a form to another site
// without asking; rat takes JSON only as application/json, one object,
// within its size limit.
func TestJSONBodies(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, nil)
	e.load("bronze.raw", "SELECT 1 AS id, 5 AS amount")
	runs := func() int { return len(list(t, e.want(e.do("GET", "/api/v1/runs", nil), http.StatusOK), "runs")) }
	for name, ct := range map[string]string{
		"text/plain":              "text/plain",
		"text/plain with charset": "text/plain;charset=UTF-8",
		"form":                    "application/x-www-form-urlencoded",
		"no type":                 "",
		"multipart":               "multipart/form-data; boundary=x",
		"json-ish":                "application/jsonp",
	} {
		r := e.raw("POST", "/api/v1/runs", `{"selectors":["silver.orders"]}`, map[string]string{"Content-Type": ct})
		if r.status != http.StatusUnsupportedMediaType || r.errCode() != codeUnsupportedMedia || !strings.Contains(r.errMessage(), "application/json") {
			t.Errorf("%s body: %d %s, want 415", name, r.status, r.raw)
		}
	}
	// A body where none is read must be JSON or multipart too.
	if r := e.raw("POST", "/api/v1/runs/x/cancel", "anything", map[string]string{"Content-Type": "text/plain"}); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain to cancel: %d %s", r.status, r.raw)
	}
	if n := runs(); n != 0 {
		t.Fatalf("refused bodies started %d runs", n)
	}
	// The same body as JSON does start a run: the refusals above were
	// about the type alone.
	e.want(e.raw("POST", "/api/v1/runs", `{"selectors":["silver.orders"]}`, map[string]string{"Content-Type": "application/json"}), http.StatusAccepted)
	json := map[string]string{"Content-Type": "application/json; charset=utf-8"}
	for name, body := range map[string]string{
		"two objects":      `{"name":"t1"}{"name":"t2"}`,
		"object and junk":  `{"name":"t1"} x`,
		"object and array": "{\"name\":\"t1\"}\n[]",
	} {
		r := e.raw("POST", "/api/v1/branches", body, json)
		if r.status != http.StatusBadRequest || !strings.Contains(r.errMessage(), "one JSON") {
			t.Errorf("%s: %d %s, want 400", name, r.status, r.raw)
		}
	}
	if r := e.do("GET", "/api/v1/branches/t1", nil); r.status != http.StatusNotFound {
		t.Error("a body with trailing data created a branch")
	}
	e.want(e.raw("POST", "/api/v1/branches", "{\"name\":\"t3\"}\n \t\n", json), http.StatusCreated)

	// Over the limit: 413, and the message says the limit.
	big := `{"sql":"SELECT 1 AS x` + strings.Repeat(" ", jsonBodyLimit) + `"}`
	r := e.raw("POST", "/api/v1/query", big, json)
	if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.errMessage(), "1 MiB") {
		t.Errorf("a body over 1 MiB: %d %s", r.status, r.raw)
	}
	// Exactly at the limit is not over it.
	exact := `{"name":"t4"}`
	exact += strings.Repeat(" ", jsonBodyLimit-len(exact))
	e.want(e.raw("POST", "/api/v1/branches", exact, json), http.StatusCreated)
}

// TestUploadErrors: a broken multipart body is the client's mistake (400,
// not 500), a body over the limit is 413 with the limit, and an upload
// must be multipart.
func TestUploadErrors(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil, func(c *Config) { c.Limits.UploadBytes = 4096 })
	const boundary = "XyZ"
	ct := "multipart/form-data; boundary=" + boundary
	part := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\n"
	for name, c := range map[string]struct{ ct, body string }{
		"no closing boundary":   {ct, part + "id\n1\n"},
		"cut in the headers":    {ct, "--" + boundary + "\r\nContent-Disposition: form-da"},
		"no boundary parameter": {"multipart/form-data", part + "id\n1\n\r\n--" + boundary + "--\r\n"},
		"garbage":               {ct, "this is not multipart at all"},
		"wrong boundary":        {"multipart/form-data; boundary=other", part + "id\n1\n\r\n--" + boundary + "--\r\n"},
	} {
		r := e.raw("POST", "/api/v1/landing/orders", c.body, map[string]string{"Content-Type": c.ct})
		if r.status != http.StatusBadRequest || r.errCode() != "invalid" {
			t.Errorf("%s: %d %s, want 400", name, r.status, r.raw)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir, "landing", "orders", "a.csv")); err == nil {
		t.Error("a malformed upload left a file in the landing zone")
	}
	if r := e.raw("POST", "/api/v1/landing/orders", "id\n1\n", map[string]string{"Content-Type": "application/json"}); r.status != http.StatusUnsupportedMediaType || !strings.Contains(r.errMessage(), "multipart/form-data") {
		t.Errorf("a JSON upload: %d %s, want 415", r.status, r.raw)
	}
	big := part + strings.Repeat("1\n", 4096) + "\r\n--" + boundary + "--\r\n"
	r := e.raw("POST", "/api/v1/landing/orders", big, map[string]string{"Content-Type": ct})
	if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.errMessage(), "4 KiB") {
		t.Errorf("an upload over the limit: %d %s", r.status, r.raw)
	}
	ok := part + "id\n1\n\r\n--" + boundary + "--\r\n"
	e.want(e.raw("POST", "/api/v1/landing/orders", ok, map[string]string{"Content-Type": ct}), http.StatusCreated)
}

// TestLoginBodyLimit: the sign-in form is small; a bigger one is 413.
func TestLoginBodyLimit(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil, func(c *Config) { c.Tokens = []Token{{Name: "ops", Secret: "login-limit-secret-123", Role: RoleAdmin}} })
	r := e.raw("POST", "/login", "token="+strings.Repeat("x", 9<<10), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.errMessage(), "8 KiB") {
		t.Errorf("a 9 KiB sign-in: %d %s", r.status, r.raw)
	}
}

// TestWebhookBodyLimit: a webhook body over its limit is 413 with the limit.
func TestWebhookBodyLimit(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"pipelines/silver/orders.sql":  "SELECT 1 AS id\n",
		"pipelines/silver/orders.yaml": "triggers:\n  - {type: webhook, secret_env: WH_SECRET}\n",
	}
	e := newTestEnv(t, files, func(c *Config) {
		c.Env = func(k string) (string, bool) { return "hook-secret", k == "WH_SECRET" }
	})
	r := e.raw("POST", "/api/v1/webhooks/silver.orders", strings.Repeat("x", webhookBodyLimit+1), map[string]string{"Content-Type": "application/json", "X-Rat-Timestamp": "1"})
	if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.errMessage(), "1 MiB") {
		t.Errorf("a webhook body over 1 MiB: %d %s", r.status, r.raw)
	}
}
