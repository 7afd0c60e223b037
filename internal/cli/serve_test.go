package cli

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServe runs the real binary: rat serve on a free loopback port answers
// health and API requests and stops cleanly on SIGTERM; off loopback it
// refuses to start without a token.
func TestServe(t *testing.T) {
	u := newUser(t, false)
	u.write("sales.csv", "id,amount\n1,10\n2,20\n")
	u.ok("load", "sales.csv", "--into", "bronze.sales")
	u.fails("refusing to listen on 0.0.0.0:0 without a token: set RAT_API_TOKEN", "serve", "--listen", "0.0.0.0:0")

	cmd := u.cmd("serve", "--listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // a no-op once it exited
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	addr := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var base string
	timeout := time.After(30 * time.Second)
	for base == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("rat serve exited before listening")
			}
			if m := addr.FindStringSubmatch(l); m != nil {
				base = m[1]
			}
		case <-timeout:
			t.Fatal("rat serve did not log 'listening on' within 30s")
		}
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/health/live"); code != http.StatusOK {
		t.Fatalf("/health/live: %d", code)
	}
	if code, body := get("/health/ready"); code != http.StatusOK {
		t.Fatalf("/health/ready: %d %s", code, body)
	}
	code, body := get("/api/v1/tables")
	var tables struct {
		Tables []struct {
			Table string `json:"table"`
			Rows  int64  `json:"rows"`
		} `json:"tables"`
	}
	if err := json.Unmarshal([]byte(body), &tables); err != nil || code != http.StatusOK {
		t.Fatalf("/api/v1/tables: %d %s (%v)", code, body, err)
	}
	if len(tables.Tables) != 1 || tables.Tables[0].Table != "bronze.sales" || tables.Tables[0].Rows != 2 {
		t.Fatalf("tables = %+v", tables.Tables)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("rat serve after SIGTERM: %v\n%s", err, strings.Join(rest, "\n"))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("rat serve did not stop within 30s of SIGTERM")
	}
	if !strings.Contains(strings.Join(rest, "\n"), "shutting down") {
		t.Fatalf("no shutdown line in %q", rest)
	}
}

func TestServeTokenFile(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	u.write("tokens.yaml", "tokens:\n  - {name: dash, token: dash-token-0123456789, role: read}\n")
	u.env = append(u.env, "RAT_TOKEN_FILE=tokens.yaml")
	if out := u.ok("config"); !strings.Contains(out, "env RAT_TOKEN_FILE") || strings.Contains(out, "dash-token") {
		t.Fatalf("config should name the token file and never print a token:\n%s", out)
	}
	u.write("bad.yaml", "tokens:\n  - {name: dash, token: dash-token-0123456789, role: god}\n")
	u.env[len(u.env)-1] = "RAT_TOKEN_FILE=bad.yaml"
	u.fails("want read, run or admin", "serve", "--listen", "127.0.0.1:0")
}

// TestServeLogsURL: rat serve on every interface prints a URL a person
// can open, and how to sign in, never the token.
func TestServeLogsURL(t *testing.T) {
	u := newUser(t, false)
	const token = "serve-url-token-0123456789abcdef0123"
	u.env = append(u.env, "RAT_API_TOKEN="+token)
	line := startDaemon(t, u, regexp.MustCompile(`(.*listening on http://localhost:\d+.*)`), "serve", "--listen", "0.0.0.0:0")
	if !strings.Contains(line, "sign in with RAT_API_TOKEN") || strings.Contains(line, token) || strings.Contains(line, "[::]") && !strings.Contains(line, "address=") {
		t.Errorf("serve log: %s", line)
	}
	base := regexp.MustCompile(`http://localhost:\d+`).FindString(line)
	resp, err := http.Get(base + "/health/live")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/health/live: %v %v", base, resp, err)
	}
	resp.Body.Close()
}

func TestServeURL(t *testing.T) {
	for addr, want := range map[string]string{
		"0.0.0.0:3030":   "http://localhost:3030",
		"[::]:3030":      "http://localhost:3030",
		"127.0.0.1:3030": "http://127.0.0.1:3030",
		"[::1]:3030":     "http://[::1]:3030",
		"10.0.0.7:80":    "http://10.0.0.7:80",
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := serveURL(a); got != want {
			t.Errorf("serveURL(%s) = %s, want %s", addr, got, want)
		}
	}
}

// TestServeRunOnBranchReadsBranchTable: a queued run into dev whose
// pipeline reads a table that exists only on dev (loaded there) succeeds:
// rat serve's shared workspace does not judge ref() by the configured
// branch alone. The same run into main fails naming the table.
func TestServeRunOnBranchReadsBranchTable(t *testing.T) {
	u := newUser(t, false)
	u.write("workspace.yaml", "name: b\n")
	u.ok("branch", "create", "dev")
	u.write("d.csv", "id\n1\n2\n3\n")
	u.ok("load", "d.csv", "--into", "bronze.d", "--branch", "dev")
	u.write("pipelines/silver/s.sql", "SELECT id * 10 AS id FROM {{ ref('bronze.d') }}\n")
	base := startServe(t, u)
	id := postRun(t, base, `{"branch": "dev"}`)
	if msg := waitRunStatus(t, u, id, "success"); msg != "" {
		t.Fatalf("run into dev: %s", msg)
	}
	if got := strings.TrimSpace(u.ok("query", "SELECT sum(id) FROM silver.s", "--branch", "dev", "--format", "csv")); !strings.HasSuffix(got, "\n60") {
		t.Fatalf("silver.s on dev: %s", got)
	}
	id = postRun(t, base, `{}`)
	waitRunStatus(t, u, id, "failed")
	if show := u.ok("runs", "show", id, "--json"); !strings.Contains(show, "table bronze.d not found on branch") {
		t.Fatalf("run into main: want its node to fail naming bronze.d:\n%s", show)
	}
}
