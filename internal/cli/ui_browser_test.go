package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ratdata/rat/internal/testenv"
)

// uiToken is the admin token the browser tests' server requires.
const uiToken = "ui-test-token-7f3a9c2e5b"

// browserSession drives one headless Chromium against a rat serve.
type browserSession struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string // directory for screenshots
	dl    string // directory for downloads

	mu   sync.Mutex
	errs []string // console errors, uncaught exceptions, failed loads
}

// newBrowser starts headless Chromium (testenv.Chromium: skipped locally
// without one, a failure under CI=true).
func newBrowser(t *testing.T, base string) *browserSession {
	t.Helper()
	exe := testenv.Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })

	shots := os.Getenv("RAT_TEST_SCREENSHOTS")
	if shots == "" {
		var err error
		if shots, err = os.MkdirTemp("", "rat-ui-screenshots-"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots go to %s", shots)
	b := &browserSession{t: t, ctx: ctx, base: base, shots: shots, dl: t.TempDir()}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium (%s): %v", exe, err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *cdpruntime.EventConsoleAPICalled:
			if e.Type == cdpruntime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.addErr("console.error: " + strings.Join(parts, " "))
			}
		case *cdpruntime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			b.addErr("exception: " + msg)
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				b.addErr("log: " + e.Entry.Text + " " + e.Entry.URL)
			}
		case *page.EventJavascriptDialogOpening:
			// The UI confirms destructive actions; the test accepts them.
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: b.dl}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *browserSession) addErr(s string) {
	b.mu.Lock()
	b.errs = append(b.errs, s)
	b.mu.Unlock()
}

// takeErrs returns and clears the errors seen so far.
func (b *browserSession) takeErrs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.errs
	b.errs = nil
	return e
}

// run runs actions with a timeout, failing the test on error.
func (b *browserSession) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("main") ? document.getElementById("main").innerText.slice(0, 2000) : ""`))
		b.t.Fatalf("%s: %v\npage text: %s\nbrowser errors: %v", what, err, text, b.takeErrs())
	}
}

// eval evaluates a JS expression into out (a pointer).
func (b *browserSession) eval(expr string, out any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage]("JSON.stringify(("+expr+") ?? null)"))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		b.t.Fatalf("evaluate %s: %s", expr, raw)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(str), out); err != nil {
			b.t.Fatalf("evaluate %s: %v: %s", expr, err, str)
		}
	}
}

// waitJS polls a JS boolean expression until it is true.
func (b *browserSession) waitJS(what, expr string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		// While a page loads, its elements may not exist yet: not true.
		b.eval("(() => { try { return !!("+expr+"); } catch (e) { return false; } })()", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var text string
			b.eval(`document.getElementById("main").innerText.slice(0, 2000)`, &text)
			b.t.Fatalf("%s: not true after %s: %s\npage text: %s", what, timeout, expr, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// visit opens a page and waits for the element that shows its data.
func (b *browserSession) visit(path, ready string) {
	b.t.Helper()
	b.run("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS(ready)))
}

// noErrors fails when the page logged errors or shows its failure box.
func (b *browserSession) noErrors(what string) {
	b.t.Helper()
	var failed string
	b.eval(`Array.from(document.querySelectorAll("#main > .error")).map(e => e.textContent).join("; ")`, &failed)
	if failed != "" {
		b.t.Errorf("%s shows an error: %s", what, failed)
	}
	if errs := b.takeErrs(); len(errs) > 0 {
		b.t.Errorf("%s: browser errors: %s", what, strings.Join(errs, "\n"))
	}
}

// accessible checks what a keyboard and screen-reader user needs: every
// control has a name (a label, aria-label or text) and none is taken out of
// the tab order; and the page fits 1024 px without a horizontal scrollbar.
func (b *browserSession) accessible(name string) {
	b.t.Helper()
	var unnamed []string
	b.eval(`Array.from(document.querySelectorAll("button, input:not([type=hidden]), select, textarea, a[href], [role=button], [role=tab]"))
		.filter(e => {
			const named = (e.labels && e.labels.length) || e.getAttribute("aria-label") || e.getAttribute("aria-labelledby") || e.textContent.trim() || e.getAttribute("title");
			return !named || e.tabIndex < 0;
		}).map(e => e.outerHTML.slice(0, 120))`, &unnamed)
	if len(unnamed) > 0 {
		b.t.Errorf("%s: controls without a name or out of the tab order: %v", name, unnamed)
	}
	var overflow int
	b.run("1024 px", chromedp.EmulateViewport(1024, 768))
	b.painted()
	b.eval(`document.documentElement.scrollWidth - document.documentElement.clientWidth`, &overflow)
	b.run("1280 px", chromedp.EmulateViewport(1280, 900))
	if overflow > 0 {
		b.t.Errorf("%s: %d px wider than a 1024 px window", name, overflow)
	}
}

// screenshots writes the page in the light and the dark theme (emulating
// the system preference) and checks that the theme follows it.
func (b *browserSession) screenshots(name string) {
	b.t.Helper()
	bg := map[string]string{}
	for _, theme := range []string{"light", "dark"} {
		b.emulateTheme(theme)
		b.painted()
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			b.t.Fatalf("screenshot %s %s: %v", name, theme, err)
		}
		var color string
		b.eval(`getComputedStyle(document.body).backgroundColor`, &color)
		bg[theme] = color
		if err := os.WriteFile(filepath.Join(b.shots, name+"-"+theme+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	if bg["light"] == bg["dark"] {
		b.t.Errorf("%s: the background is %s in both themes: the page does not follow the system theme", name, bg["light"])
	}
	b.emulateTheme("light")
}

// painted waits until the page has drawn two frames after a change.
func (b *browserSession) painted() {
	b.t.Helper()
	b.run("wait for paint", chromedp.Evaluate[chromedp.Void](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r())))`, chromedp.EvalAwaitPromise))
}

// emulateTheme makes the page see the system's colour scheme as theme.
func (b *browserSession) emulateTheme(theme string) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: theme}}}); err != nil {
		b.t.Fatal(err)
	}
}

// serverTimes returns the server time (request sent to first byte) of the
// page's HTML and the slowest API call it made, from the browser's
// resource timing.
func (b *browserSession) serverTimes() (pageMS, apiMS float64, slowest string) {
	b.t.Helper()
	var r struct {
		Page    float64 `json:"page"`
		API     float64 `json:"api"`
		Slowest string  `json:"slowest"`
	}
	b.eval(`(() => {
		const nav = performance.getEntriesByType("navigation")[0];
		let api = 0, slowest = "";
		for (const e of performance.getEntriesByType("resource")) {
			if (!e.name.includes("/api/v1/") || e.name.includes("/logs")) continue;
			const d = e.responseStart - e.requestStart;
			if (d > api) { api = d; slowest = new URL(e.name).pathname; }
		}
		return { page: nav.responseStart - nav.requestStart, api, slowest };
	})()`, &r)
	return r.Page, r.API, r.Slowest
}

// apiCall calls the API with the admin token and decodes the JSON answer.
func apiCall(t *testing.T, base, method, path, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+uiToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode
}

// uiWorkspace creates the demo workspace, built once, with a landing
// trigger on bronze.raw_orders and a slow pipeline to watch live.
func uiWorkspace(t *testing.T) *ratUser {
	u := newUser(t, false)
	u.ok("demo", "ws")
	u.dir = filepath.Join(u.dir, "ws")
	u.write("pipelines/bronze/raw_orders.yaml", "triggers:\n  - {type: landing, zone: orders}\n")
	// A warning test that finds rows: runs still publish, and the run page
	// shows the violations with samples.
	u.write("pipelines/gold/daily_revenue.yaml", "tests:\n  - {name: busy_days, sql: 'SELECT day, orders FROM {{ this }} WHERE orders >= 20', severity: warn}\n")
	// About three seconds of work on the tiny profile: long enough to see
	// the run page show it running, and to cancel it.
	u.write("pipelines/gold/slow.sql", "-- @description: a deliberately slow count, to watch a run live\nSELECT count(*) AS n FROM range(600000000) t(i) WHERE hash(i) % 7 = 0\n")
	return u
}

// TestUIBrowser drives the web UI in headless Chromium on the demo
// workspace, with a token configured: sign-in, every page (no console
// errors, screenshots in both themes, server times logged), a run started
// from the UI followed live to the end, cancelling a run, the query
// console with its CSV download, an upload to a landing zone starting its
// pipeline, and a branch created, diffed and merged.
func TestUIBrowser(t *testing.T) {
	testenv.Chromium(t) // skip (or fail under CI) before building anything
	u := uiWorkspace(t)
	// Secrets that no page may show: the token, and an S3 secret key
	// (unused on local disk, but part of the effective configuration).
	const s3Secret = "ui-test-s3-secret-4d1e"
	const readToken = "ui-test-read-token-93b0c1"
	tokens := u.write("tokens.yaml", "tokens:\n  - {name: viewer, token: "+readToken+", role: read}\n")
	u.env = append(u.env, "RAT_API_TOKEN="+uiToken, "RAT_TOKEN_FILE="+tokens, "S3_ACCESS_KEY=ui-test-access", "S3_SECRET_KEY="+s3Secret,
		"RAT_MAX_RESULT_BYTES=1048576") // 1 MiB: a query answer cut at the cap is shown as such
	base := startServe(t, u)
	b := newBrowser(t, base)
	t.Cleanup(func() {
		if t.Failed() {
			var runs struct{ Runs []map[string]any }
			apiCall(t, base, "GET", "/api/v1/runs?limit=30", "", &runs)
			for _, r := range runs.Runs {
				t.Logf("run %v %v %v %v", r["id"], r["status"], r["trigger"], r["pipelines"])
			}
		}
	})

	t.Run("sign in", func(t *testing.T) {
		b.t = t
		b.run("open /", chromedp.Navigate(base+"/runs"), chromedp.WaitVisible(chromedp.ID("token")))
		var url string
		b.eval(`location.pathname + location.search`, &url)
		if url != "/login?next=%2Fruns" {
			t.Errorf("without a session / went to %s, want the login page", url)
		}
		b.screenshots("login")
		b.run("wrong token", chromedp.SendKeys(chromedp.ID("token"), "not-the-token"), chromedp.Submit(chromedp.ID("token")),
			chromedp.WaitVisible(chromedp.CSS(".error")))
		b.takeErrs() // the refused sign-in answers 401: the browser logs it
		b.run("sign in", chromedp.SendKeys(chromedp.ID("token"), uiToken), chromedp.Submit(chromedp.ID("token")),
			chromedp.WaitVisible(chromedp.CSS("#list table")))
		b.eval(`location.pathname`, &url)
		if url != "/runs" {
			t.Errorf("after signing in the browser is at %s, want /runs (the page asked for)", url)
		}
		b.noErrors("sign in")
	})

	var demoRun struct {
		Runs []struct{ ID string } `json:"runs"`
	}
	apiCall(t, base, "GET", "/api/v1/runs?limit=1", "", &demoRun)
	if len(demoRun.Runs) == 0 {
		t.Fatal("the demo workspace has no run")
	}

	t.Run("every page", func(t *testing.T) {
		b.t = t
		pages := []struct{ name, path, ready string }{
			{"overview", "/", "#runs table"},
			{"overview cluster", "/", "#cluster td"}, // the heartbeats of this rat serve
			{"lineage", "/lineage", "#graph .node"},
			{"pipeline", "/pipelines/silver.orders", "#history table"},
			{"runs", "/runs", "#list table"},
			{"run", "/runs/" + demoRun.Runs[0].ID, "#nodes table"},
			{"tables", "/tables", "#list table"},
			{"table", "/tables/gold.daily_revenue", "#preview table"},
			{"query", "/query", "#history li"},
			{"branches", "/branches", "#list table"},
			{"landing", "/landing", "#zones-list section table"},
			{"settings", "/settings", "#config table"},
		}
		var cfg struct{ Settings []struct{ Key, Value string } }
		apiCall(t, base, "GET", "/api/v1/config", "", &cfg)
		for _, st := range cfg.Settings {
			if st.Key == "s3_secret_key" && st.Value != "******" {
				t.Errorf("GET /config shows s3_secret_key as %q", st.Value)
			}
		}
		countRuns := func() int {
			var r struct{ Runs []any }
			apiCall(t, base, "GET", "/api/v1/runs?limit=100", "", &r)
			return len(r.Runs)
		}
		before := countRuns()
		for _, p := range pages {
			b.visit(p.path, p.ready)
			b.noErrors(p.name)
			var html string
			b.eval(`document.documentElement.outerHTML`, &html)
			if strings.Contains(html, uiToken) || strings.Contains(html, s3Secret) {
				t.Errorf("page %s shows a secret", p.name)
			}
			b.accessible(p.name)
			pageMS, apiMS, slowest := b.serverTimes()
			t.Logf("server time %-9s page %5.1f ms, slowest API call %5.1f ms %s", p.name, pageMS, apiMS, slowest)
			b.screenshots(p.name)
		}
		// The table page names its lineage neighbours; the pipeline page
		// shows its SQL rendered, templates resolved.
		b.visit("/tables/silver.orders", "#preview table")
		var neighbours string
		b.eval(`document.getElementById("neighbours").innerText`, &neighbours)
		if !strings.Contains(neighbours, "bronze.raw_orders") || !strings.Contains(neighbours, "gold.daily_revenue") {
			t.Errorf("silver.orders neighbours: %q, want bronze.raw_orders upstream and gold.daily_revenue downstream", neighbours)
		}
		// The demo's gold view stores SQL, no rows: the run page says
		// "view" where a table has its row count.
		b.visit("/runs/"+demoRun.Runs[0].ID, "#nodes table")
		var viewRows string
		b.eval(`Array.from(document.querySelectorAll("#nodes tbody tr")).filter((r) => r.cells[0].textContent === "gold.customer_value").map((r) => r.cells[3].textContent).join("|")`, &viewRows)
		if viewRows != "view" {
			t.Errorf("the run page's rows of the view gold.customer_value: %q, want view", viewRows)
		}
		b.visit("/pipelines/silver.orders", "#sql-src pre")
		b.run("rendered tab", chromedp.Click(chromedp.ID("tab-ren")), chromedp.WaitVisible(chromedp.CSS("#sql-ren pre")))
		var rendered string
		b.eval(`document.querySelector("#sql-ren pre").textContent`, &rendered)
		if !strings.Contains(rendered, "FROM") || strings.Contains(rendered, "{{") || strings.Contains(rendered, "{%") {
			t.Errorf("rendered SQL %q: want the templates resolved", rendered)
		}
		var keywords int
		b.eval(`document.querySelectorAll("#sql-ren .tok-kw").length`, &keywords)
		if keywords < 2 {
			t.Errorf("the rendered SQL is not highlighted (%d keywords marked)", keywords)
		}

		// The ◐ button overrides the system theme: light, dark, then the
		// system again; the choice survives a reload.
		b.visit("/settings", "#config table")
		b.emulateTheme("light")
		var themes []string
		for range 3 {
			var th string
			b.run("theme button", chromedp.Click(chromedp.ID("theme")))
			b.eval(`document.documentElement.dataset.theme || "system"`, &th)
			themes = append(themes, th)
			if th == "dark" {
				b.run("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#config table")))
				var bg, kept string
				b.eval(`document.documentElement.dataset.theme || "system"`, &kept)
				b.eval(`getComputedStyle(document.body).backgroundColor`, &bg)
				if kept != "dark" || bg == "rgb(247, 247, 248)" {
					t.Errorf("after a reload the theme is %s with background %s, want dark", kept, bg)
				}
			}
		}
		if strings.Join(themes, ",") != "light,dark,system" {
			t.Errorf("the theme button cycles %v, want light, dark, system", themes)
		}

		// Looking is free: the pipeline page renders its SQL with a dry run
		// that must not be recorded as a run.
		if after := countRuns(); after != before {
			t.Errorf("visiting the pages recorded %d runs", after-before)
		}
		// The lineage graph draws every pipeline of the demo and colours
		// them by their last run.
		var nodes, ok int
		b.visit("/lineage", "#graph .node")
		b.eval(`document.querySelectorAll("#graph .node").length`, &nodes)
		b.eval(`document.querySelectorAll("#graph .node.success").length`, &ok)
		if nodes < 7 || ok != 6 {
			t.Errorf("lineage shows %d nodes, %d successful; want the demo's 6 built pipelines (+ landing zones and gold.slow)", nodes, ok)
		}
	})

	t.Run("run live", func(t *testing.T) {
		b.t = t
		b.visit("/pipelines/gold.slow", "#sql-src pre")
		b.run("press Run", chromedp.Click(chromedp.ID("run")), chromedp.WaitVisible(chromedp.ID("nodes")))
		var path string
		b.eval(`location.pathname`, &path)
		if !strings.HasPrefix(path, "/runs/") {
			t.Fatalf("Run went to %s, want the run page", path)
		}
		// Watch the status badge change without reloading the page.
		seen := map[string]bool{}
		var order []string
		deadline := time.Now().Add(90 * time.Second)
		for {
			var st string
			b.eval(`(document.querySelector("#status .badge") || {}).textContent || ""`, &st)
			var runningBar bool
			b.eval(`!!document.querySelector("#gantt .bar.running")`, &runningBar)
			if runningBar && !seen["timeline shows gold.slow building"] {
				seen["timeline shows gold.slow building"] = true
				b.screenshots("run-running")
			}
			if st != "" && !seen[st] {
				seen[st] = true
				order = append(order, st)
			}
			if st == "success" || st == "failed" || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !seen["running"] || order[len(order)-1] != "success" {
			t.Fatalf("the run page showed %v, want running then success", order)
		}
		if !seen["timeline shows gold.slow building"] {
			t.Error("the timeline never showed gold.slow building while the run went")
		}
		b.waitJS("logs complete", `document.getElementById("log-state").textContent === "complete"`, 30*time.Second)
		var logLines, rows int
		b.eval(`document.querySelectorAll("#logs div").length`, &logLines)
		b.eval(`Array.from(document.querySelectorAll("#nodes tbody tr")).filter(r => r.textContent.includes("gold.slow") && r.textContent.includes("success")).length`, &rows)
		if logLines == 0 || rows != 1 {
			t.Errorf("finished run page: %d log lines, %d successful gold.slow rows", logLines, rows)
		}
		var bars int
		b.eval(`document.querySelectorAll("#gantt .bar.success").length`, &bars)
		if bars != 1 {
			t.Errorf("the timeline shows %d finished bars, want 1", bars)
		}
		b.noErrors("run page")
		b.screenshots("run-finished")
		// What the run changed: the diff from the target's head it forked
		// from to the commit it published.
		b.run("what it changed", chromedp.Click(chromedp.CSS(`#changed a`)))
		b.waitJS("run diff shown", `document.getElementById("diff-out").textContent.includes("gold.slow")`, 20*time.Second)
		b.noErrors("run diff")
	})

	t.Run("lineage select and run", func(t *testing.T) {
		b.t = t
		// A click on a node opens its pipeline.
		b.visit("/lineage", "#graph .node")
		b.run("click silver.orders", chromedp.Click(chromedp.CSS(`[data-key="silver.orders"] rect`)), chromedp.WaitVisible(chromedp.CSS("#sql-src pre")))
		var path string
		b.eval(`location.pathname`, &path)
		if path != "/pipelines/silver.orders" {
			t.Errorf("a click on silver.orders opened %s", path)
		}
		b.visit("/lineage", "#graph .node")
		// Keyboard only: focus the node, Space selects it.
		b.run("select gold.daily_revenue", chromedp.Focus(chromedp.CSS(`[data-key="gold.daily_revenue"]`)), chromedp.KeyEvent(" "),
			chromedp.SetValue(chromedp.ID("with"), "up"))
		var selected string
		b.eval(`document.getElementById("selected").textContent`, &selected)
		if !strings.HasPrefix(selected, "1 selected: gold.daily_revenue") {
			t.Fatalf("after Space on gold.daily_revenue: %q", selected)
		}
		b.run("run selected", chromedp.Click(chromedp.ID("run-selected")), chromedp.WaitVisible(chromedp.ID("nodes")))
		b.waitJS("run finished", `(document.querySelector("#status .badge") || {}).textContent === "success"`, 90*time.Second)
		var built []string
		b.eval(`Array.from(document.querySelectorAll("#nodes tbody tr td:first-child")).map(e => e.textContent)`, &built)
		if strings.Join(built, ",") != "bronze.raw_orders,silver.orders,gold.daily_revenue" {
			t.Errorf("the run built %v, want gold.daily_revenue with everything upstream", built)
		}
		var test struct{ Status, Violations, Sample string }
		b.eval(`(() => { const r = Array.from(document.querySelectorAll("#tests tbody tr")).find(r => r.cells[0].textContent.includes("busy_days"));
			return r ? { status: r.cells[2].textContent, violations: r.cells[3].textContent, sample: r.cells[4].textContent } : {}; })()`, &test)
		if test.Status != "fail" || test.Violations == "" || test.Violations == "0" || !strings.Contains(test.Sample, "day=") {
			t.Errorf("busy_days on the run page: %+v, want a failed warning with sample rows", test)
		}
		b.screenshots("run-with-tests")
		b.noErrors("lineage run")
	})

	t.Run("cancel", func(t *testing.T) {
		b.t = t
		b.visit("/pipelines/gold.slow", "#sql-src pre")
		b.run("press Run", chromedp.Click(chromedp.ID("run")), chromedp.WaitVisible(chromedp.ID("cancel")))
		b.run("press Cancel", chromedp.Click(chromedp.ID("cancel")))
		b.waitJS("run cancelled", `(document.querySelector("#status .badge") || {}).textContent === "failed"`, 60*time.Second)
		b.waitJS("retry offered", `!document.getElementById("retry").classList.contains("hidden")`, 10*time.Second)
		b.noErrors("cancelled run")
		b.screenshots("run-cancelled")
		// The kept run branch can be compared with the target: the
		// cancelled run built nothing, so they hold the same tables.
		var cancelled string
		b.eval(`location.pathname`, &cancelled)
		b.run("compare the run branch", chromedp.Click(chromedp.CSS(`#run-error a[href^="/branches?from=run%2F"]`)))
		b.waitJS("diff shown", `document.getElementById("diff-out").textContent.includes("hold the same tables")`, 20*time.Second)
		b.noErrors("run branch diff")
		// Retry the failed part: a new run of gold.slow that succeeds.
		b.visit(cancelled, "#nodes table")
		b.run("retry", chromedp.Click(chromedp.ID("retry")))
		b.waitJS("new run page", `location.pathname !== "`+cancelled+`" && location.pathname.startsWith("/runs/")`, 20*time.Second)
		b.waitJS("retry succeeded", `(document.querySelector("#status .badge") || {}).textContent === "success"`, 90*time.Second)
		var retried []string
		b.eval(`Array.from(document.querySelectorAll("#nodes tbody tr td:first-child")).map(e => e.textContent)`, &retried)
		if len(retried) != 1 || retried[0] != "gold.slow" {
			t.Errorf("the retry built %v, want gold.slow", retried)
		}
		b.noErrors("retry")
	})

	t.Run("query and CSV", func(t *testing.T) {
		b.t = t
		var want struct {
			Rows [][]any `json:"rows"`
		}
		apiCall(t, base, "POST", "/api/v1/query", `{"sql": "SELECT day, orders, revenue FROM gold.daily_revenue ORDER BY day"}`, &want)
		if len(want.Rows) == 0 {
			t.Fatal("gold.daily_revenue is empty")
		}
		b.visit("/query", "#history li")
		b.waitJS("branches listed", `document.querySelectorAll("#q-branch option").length > 0`, 20*time.Second)
		b.run("type a query",
			chromedp.Evaluate[chromedp.Void](`(() => { const t = document.getElementById("sql"); t.value = ""; t.dispatchEvent(new Event("input")); })()`),
			chromedp.SendKeys(chromedp.ID("sql"), "SELECT day, orders, revenue FROM gold.daily_revenue ORDER BY day"),
			chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)),
			chromedp.WaitVisible(chromedp.CSS("#grid table")))
		var rows int
		var info string
		b.eval(`document.querySelectorAll("#grid tbody tr").length`, &rows)
		b.eval(`document.getElementById("res-info").textContent`, &info)
		if rows != min(len(want.Rows), 100) || !strings.HasPrefix(info, fmt.Sprint(len(want.Rows))+" row") {
			t.Errorf("the grid shows %d rows (%q), want %d", rows, info, len(want.Rows))
		}
		var types string
		b.eval(`Array.from(document.querySelectorAll("#grid th .type")).map(e => e.textContent).join(",")`, &types)
		if !strings.Contains(types, "DATE") {
			t.Errorf("column types %q: want the day column typed DATE", types)
		}
		b.run("download CSV", chromedp.Click(chromedp.ID("csv")))
		data := waitFile(t, filepath.Join(b.dl, "rat-query.csv"))
		lines := strings.Split(strings.TrimSpace(string(data)), "\r\n")
		if len(lines) != len(want.Rows)+1 || lines[0] != "day,orders,revenue" {
			t.Fatalf("downloaded CSV has %d lines starting %q, want a header and %d rows", len(lines), lines[0], len(want.Rows))
		}
		// Dates are written as dates (the API gives them as midnight UTC).
		if first := fmt.Sprint(want.Rows[0][0])[:10]; !strings.HasPrefix(lines[1], first+",") {
			t.Errorf("CSV row 1 = %q, want it to start with %s,", lines[1], first)
		}
		b.run("download Parquet", chromedp.Click(chromedp.ID("parquet")))
		pq := waitFile(t, filepath.Join(b.dl, "rat-query.parquet"))
		if len(pq) < 8 || string(pq[:4]) != "PAR1" || string(pq[len(pq)-4:]) != "PAR1" {
			t.Errorf("the Parquet download is not a Parquet file (%d bytes)", len(pq))
		}
		var hist int
		b.eval(`document.querySelectorAll("#history li button").length`, &hist)
		if hist == 0 {
			t.Error("the query is not in the history")
		}
		b.run("chart tab", chromedp.Click(chromedp.ID("tab-chart")), chromedp.WaitVisible(chromedp.CSS("#chart-svg svg")))
		var bars int
		b.eval(`document.querySelectorAll("#chart-svg .bar").length`, &bars)
		if bars != len(want.Rows) {
			t.Errorf("the bar chart has %d bars, want %d", bars, len(want.Rows))
		}
		b.noErrors("query console")
		b.screenshots("query-results")
	})

	t.Run("query over the size cap", func(t *testing.T) {
		b.t = t
		b.visit("/query", "#history li")
		b.run("type a query of about 2 MB",
			chromedp.Evaluate[chromedp.Void](`(() => { const t = document.getElementById("sql"); t.value = ""; t.dispatchEvent(new Event("input")); })()`),
			chromedp.SendKeys(chromedp.ID("sql"), "SELECT range AS i, repeat('x', 2000) AS s FROM range(1000)"),
			chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)),
			chromedp.WaitVisible(chromedp.CSS("#res-note .note")))
		var info, note string
		b.eval(`document.getElementById("res-info").textContent`, &info)
		b.eval(`document.getElementById("res-note").textContent`, &note)
		if !strings.Contains(info, "size cap reached") || !strings.Contains(note, "1 MiB") || !strings.Contains(note, "max_result_bytes") {
			t.Errorf("a cut answer shows %q and %q: want the size cap named", info, note)
		}
		n, _ := strconv.Atoi(strings.Fields(info)[0])
		if n < 400 || n >= 1000 {
			t.Errorf("%q: want about 500 of the 1000 rows of 2 KB under a cap of 1 MiB", info)
		}
		b.noErrors("query over the cap")
	})

	t.Run("landing upload starts its pipeline", func(t *testing.T) {
		b.t = t
		b.visit("/landing", "#zones-list section table")
		// Drop a file on the drop zone as a user dragging it from a file
		// manager would.
		b.run("drop a file", chromedp.Evaluate[chromedp.Void](`(() => {
			document.getElementById("u-zone").value = "orders";
			const dt = new DataTransfer();
			dt.items.add(new File(["order_id,customer_id,status,amount,updated_at\n9001,1,placed,12.50,2024-04-01 10:00:00\n9002,2,shipped,30.00,2024-04-01 11:00:00\n"], "orders_2024_04.csv", { type: "text/csv" }));
			const drop = document.getElementById("drop");
			drop.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
			drop.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
		})()`))
		b.waitJS("upload done", `document.getElementById("up-out").textContent.includes("Uploaded orders_2024_04.csv")`, 20*time.Second)
		// The landing trigger starts bronze.raw_orders; the page then shows
		// the file consumed by that run.
		b.waitJS("file consumed", `Array.from(document.querySelectorAll("#zones-list tr")).some(r => r.textContent.includes("orders_2024_04.csv") && r.textContent.includes("consumed"))`, 90*time.Second)
		var runs struct {
			Runs []struct {
				ID, Status string
				Pipelines  []string
			} `json:"runs"`
		}
		apiCall(t, base, "GET", "/api/v1/runs?trigger=landing", "", &runs)
		if len(runs.Runs) == 0 || runs.Runs[0].Status != "success" || !strings.Contains(strings.Join(runs.Runs[0].Pipelines, ","), "bronze.raw_orders") {
			t.Fatalf("landing runs = %+v, want a successful run of bronze.raw_orders", runs.Runs)
		}
		var q struct{ Rows [][]any }
		apiCall(t, base, "POST", "/api/v1/query", `{"sql": "SELECT count(*) FROM bronze.raw_orders WHERE order_id IN (9001, 9002)"}`, &q)
		if len(q.Rows) != 1 || fmt.Sprint(q.Rows[0][0]) != "2" {
			t.Errorf("uploaded rows in bronze.raw_orders: %v, want 2", q.Rows)
		}
		b.noErrors("landing")
		b.screenshots("landing-consumed")
	})

	t.Run("runs filters", func(t *testing.T) {
		b.t = t
		b.visit("/runs", "#list table")
		listed := func(what, field, value string) []string {
			b.run("filter "+what, chromedp.SetValue(chromedp.ID(field), value),
				chromedp.Evaluate[chromedp.Void](`document.getElementById("filters").dispatchEvent(new Event("change"))`))
			b.waitJS("filtered list", `(document.getElementById("list").dataset.query || "").includes("`+value+`")`, 10*time.Second)
			var rows []string
			b.eval(`Array.from(document.querySelectorAll("#list tbody tr")).map(r => r.cells[1].textContent + " " + r.cells[3].textContent + " " + r.cells[4].textContent)`, &rows)
			return rows
		}
		if rows := listed("trigger landing", "f-trigger", "landing"); len(rows) != 1 || !strings.HasPrefix(rows[0], "success landing bronze.raw_orders") {
			t.Errorf("trigger=landing lists %q, want the upload's run", rows)
		}
		b.visit("/runs", "#list table")
		rows := listed("pipeline gold.slow", "f-pipeline", "gold.slow")
		if len(rows) != 3 || !strings.HasPrefix(rows[0], "success") || !strings.HasPrefix(rows[1], "failed") || !strings.HasPrefix(rows[2], "success") {
			t.Errorf("pipeline=gold.slow lists %q, want the retry, the cancelled run and the live one, newest first", rows)
		}
		b.noErrors("runs filters")
	})

	t.Run("branch create, diff, merge", func(t *testing.T) {
		b.t = t
		b.visit("/branches", "#list table")
		b.run("create dev", chromedp.SendKeys(chromedp.ID("c-name"), "dev"), chromedp.Click(chromedp.CSS(`#create button[type="submit"]`)))
		b.waitJS("dev listed", `Array.from(document.querySelectorAll("#list td strong")).some(e => e.textContent === "dev")`, 20*time.Second)
		// Change a table on dev: rebuild gold.daily_revenue there.
		var created struct{ ID string }
		if st := apiCall(t, base, "POST", "/api/v1/runs", `{"selectors": ["gold.daily_revenue"], "branch": "dev", "full_refresh": true}`, &created); st != http.StatusAccepted {
			t.Fatalf("run on dev: %d", st)
		}
		waitRunAPI(t, base, created.ID, "success")
		b.visit("/branches", "#list table")
		b.run("diff dev with main",
			chromedp.SetValue(chromedp.ID("d-from"), "dev"), chromedp.SetValue(chromedp.ID("d-to"), "main"),
			chromedp.Click(chromedp.CSS(`#diff button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#diff-out table")))
		var diff string
		b.eval(`document.getElementById("diff-out").innerText`, &diff)
		if !strings.Contains(diff, "gold.daily_revenue") {
			t.Fatalf("the diff of dev and main does not list gold.daily_revenue: %s", diff)
		}
		b.screenshots("branch-diff")
		b.run("merge", chromedp.Click(chromedp.ID("merge")))
		b.waitJS("merged", `document.getElementById("diff-out").textContent.includes("Merged dev into main")`, 30*time.Second)
		var after struct {
			Tables []any `json:"tables"`
		}
		apiCall(t, base, "GET", "/api/v1/diff?from=dev&to=main", "", &after)
		if len(after.Tables) != 0 {
			t.Errorf("after the merge dev and main still differ: %v", after.Tables)
		}
		b.noErrors("branches")
		b.screenshots("branch-merged")

		// Both sides rebuild the same table: the merge is a conflict, and
		// the page says which table and what to do.
		if st := apiCall(t, base, "POST", "/api/v1/branches", `{"name": "clash", "from": "main"}`, nil); st != http.StatusCreated {
			t.Fatalf("create clash: %d", st)
		}
		for _, branch := range []string{"clash", "main"} {
			var r struct{ ID string }
			apiCall(t, base, "POST", "/api/v1/runs", `{"selectors": ["gold.daily_revenue"], "branch": "`+branch+`", "full_refresh": true}`, &r)
			waitRunAPI(t, base, r.ID, "success")
		}
		b.visit("/branches", "#list table")
		b.run("merge clash", chromedp.SetValue(chromedp.ID("d-from"), "clash"), chromedp.SetValue(chromedp.ID("d-to"), "main"),
			chromedp.Click(chromedp.ID("merge")))
		b.waitJS("conflict shown", `document.getElementById("diff-out").textContent.includes("Conflicts")`, 30*time.Second)
		var conflict []string
		b.eval(`Array.from(document.querySelectorAll("#diff-out tbody tr")).map(r => r.cells[0].textContent + " " + r.cells[1].textContent)`, &conflict)
		if len(conflict) != 1 || conflict[0] != "gold.daily_revenue conflict" {
			t.Errorf("the conflict view lists %q, want gold.daily_revenue as a conflict", conflict)
		}
		b.takeErrs() // the refused merge answers 409: the browser logs it
		b.screenshots("branch-conflict")

		b.run("delete clash", chromedp.Click(chromedp.CSS(`button[aria-label="Delete branch clash"]`)))
		b.waitJS("clash gone", `!document.querySelector('button[aria-label="Delete branch clash"]')`, 20*time.Second)
		if st := apiCall(t, base, "GET", "/api/v1/branches/clash", "", nil); st != http.StatusNotFound {
			t.Errorf("after Delete, GET /branches/clash = %d", st)
		}
		b.noErrors("branch conflict and delete")
	})

	t.Run("table time travel", func(t *testing.T) {
		b.t = t
		// gold.daily_revenue has been rebuilt several times by now; its first
		// snapshot had 46 rows.
		b.visit("/tables/gold.daily_revenue", "#preview table")
		var snaps int
		b.eval(`document.querySelectorAll("#snapshots li").length`, &snaps)
		if snaps < 2 {
			t.Fatalf("gold.daily_revenue lists %d snapshots, want several", snaps)
		}
		// Snapshot ids pass 2^53: the page must keep them exact.
		var api struct {
			Snapshots []struct {
				ID json.Number `json:"id"`
			} `json:"snapshots"`
		}
		req, _ := http.NewRequest("GET", base+"/api/v1/tables/gold.daily_revenue/snapshots", nil)
		req.Header.Set("Authorization", "Bearer "+uiToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(resp.Body)
		dec.UseNumber()
		if err := dec.Decode(&api); err != nil || len(api.Snapshots) < 2 {
			t.Fatalf("snapshots: %v %v", err, api)
		}
		resp.Body.Close()
		oldest := api.Snapshots[0].ID.String()
		var shown string
		b.eval(`document.querySelector("#snapshots li:last-child code").textContent`, &shown)
		if shown != oldest {
			t.Errorf("the oldest snapshot shows as %s, want %s", shown, oldest)
		}
		b.run("preview the oldest", chromedp.Click(chromedp.CSS(`#snapshots li:last-child button`)))
		b.waitJS("old preview", `document.getElementById("preview").dataset.at === "`+oldest+`"`, 20*time.Second)
		var rows int
		var failed bool
		b.eval(`document.querySelectorAll("#preview tbody tr").length`, &rows)
		b.eval(`!!document.querySelector("#preview .error")`, &failed)
		if rows != 46 || failed {
			t.Errorf("the preview of snapshot %s shows %d rows (error: %v), want the first build's 46", oldest, rows, failed)
		}
		b.noErrors("time travel")
		b.screenshots("table-time-travel")

		// The query console travels too: as of the oldest snapshot the
		// table held the first build's 46 rows, today 47 (the upload's day).
		b.visit("/query?sql="+url.QueryEscape("SELECT count(*) AS n FROM gold.daily_revenue")+"&at="+oldest+"&run=1", "#grid table")
		var n string
		b.eval(`document.querySelector("#grid tbody td").textContent`, &n)
		if n != "46" {
			t.Errorf("count as of snapshot %s = %s, want 46", oldest, n)
		}
		// The commit times arrive by a request of their own, after the
		// page itself.
		b.waitJS("the As of field offers commit times", `document.querySelectorAll("#q-commits option").length > 0`, 20*time.Second)
		b.noErrors("query as of")
	})

	t.Run("sign out, read role", func(t *testing.T) {
		b.t = t
		b.visit("/settings", "#config table")
		b.run("sign out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.ID("token")))
		for _, p := range []string{"/", "/tables/gold.daily_revenue", "/query", "/branches"} {
			b.run("open "+p, chromedp.Navigate(base+p), chromedp.WaitVisible(chromedp.ID("token")))
		}
		// A read token sees everything and can change nothing: the buttons
		// that need more are disabled and say why where it matters.
		b.run("sign in as viewer", chromedp.SendKeys(chromedp.ID("token"), readToken), chromedp.Submit(chromedp.ID("token")),
			chromedp.WaitVisible(chromedp.CSS("#list table"))) // back on /branches, the page asked for
		for _, c := range []struct{ path, ready, disabled string }{
			{"/pipelines/gold.daily_revenue", "#history table", "#run"},
			{"/query", "#history li", "#run"},
			{"/branches", "#list table", `#create button[type="submit"]`},
			{"/branches", "#list table", "#merge"},
			{"/landing", "#zones-list section", `#upload button[type="submit"]`},
		} {
			b.visit(c.path, c.ready)
			var disabled bool
			b.eval(`document.querySelector('`+c.disabled+`').disabled`, &disabled)
			if !disabled {
				t.Errorf("%s: %s is enabled for a read token", c.path, c.disabled)
			}
			b.noErrors(c.path + " as viewer")
		}
		b.screenshots("landing-read-role")
		// Looking back in time needs no more than reading.
		b.visit("/tables/gold.daily_revenue", "#preview table")
		b.run("preview the oldest as viewer", chromedp.Click(chromedp.CSS(`#snapshots li:last-child button`)))
		b.waitJS("old preview", `(document.getElementById("preview").dataset.at || "current") !== "current"`, 20*time.Second)
		var rows int
		b.eval(`document.querySelectorAll("#preview tbody tr").length`, &rows)
		if rows != 46 {
			t.Errorf("a viewer's preview of the first snapshot shows %d rows, want 46", rows)
		}
		b.noErrors("time travel as viewer")
	})
}

// waitRunAPI waits for a run to reach a status through the API.
func waitRunAPI(t *testing.T, base, id, want string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var r struct{ Status string }
		apiCall(t, base, "GET", "/api/v1/runs/"+id, "", &r)
		if r.Status == want {
			return
		}
		if (r.Status != "running" && r.Status != "queued" && r.Status != "") || time.Now().After(deadline) {
			t.Fatalf("run %s is %s, want %s", id, r.Status, want)
		}
	}
}

// waitFile waits for a download to land and returns its content.
func waitFile(t *testing.T, path string) []byte {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if d, err := os.ReadFile(path); err == nil && len(d) > 0 {
			return d
		}
	}
	t.Fatalf("no download %s", filepath.Base(path))
	return nil
}
