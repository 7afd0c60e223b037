package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ratdata/rat/internal/testenv"
)

// scaleWorkspace writes 500 pipelines (100 bronze, 200 silver, 200 gold,
// each gold reading two silvers) and builds them together with 500 more
// tables that no pipeline builds any more (as tables loaded with rat load
// are): 500 pipelines, 1,000 tables.
func scaleWorkspace(t *testing.T) *ratUser {
	u := newUser(t, false)
	u.write("workspace.yaml", "name: big\n")
	for i := range 100 {
		u.write(fmt.Sprintf("pipelines/bronze/b%d.sql", i), fmt.Sprintf("SELECT i AS id, %d AS src FROM range(3) t(i)\n", i))
	}
	for i := range 200 {
		u.write(fmt.Sprintf("pipelines/silver/s%d.sql", i), fmt.Sprintf("SELECT * FROM {{ ref('bronze.b%d') }}\n", i%100))
		u.write(fmt.Sprintf("pipelines/gold/g%d.sql", i),
			fmt.Sprintf("SELECT a.id FROM {{ ref('silver.s%d') }} a JOIN {{ ref('silver.s%d') }} b USING (id)\n", i, (i*7+3)%200))
	}
	for i := range 500 {
		u.write(fmt.Sprintf("pipelines/archive/a%d.sql", i), fmt.Sprintf("SELECT %d AS id\n", i))
	}
	u.ok("run")
	if err := os.RemoveAll(filepath.Join(u.dir, "pipelines", "archive")); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUIScale: the lineage and tables pages stay usable with 500 pipelines
// and 1,000 tables — the graph draws every pipeline, search finds one and
// centres it, zoom works; the table list pages and filters. It logs how
// long each page took to show its data and the server times.
func TestUIScale(t *testing.T) {
	testenv.Chromium(t)
	u := scaleWorkspace(t)
	base := startServe(t, u)
	b := newBrowser(t, base)

	t.Run("lineage", func(t *testing.T) {
		b.t = t
		start := time.Now()
		b.visit("/lineage", "#graph .node")
		var nodes, edges int
		b.eval(`document.querySelectorAll("#graph .node").length`, &nodes)
		b.eval(`document.querySelectorAll("#graph .edge").length`, &edges)
		var drawn float64
		b.eval(`performance.now()`, &drawn)
		pageMS, apiMS, slowest := b.serverTimes()
		t.Logf("lineage with %d nodes, %d edges: drawn %.0f ms after navigation start (%s in the test), server time page %.1f ms, slowest API %.1f ms %s",
			nodes, edges, drawn, time.Since(start).Round(time.Millisecond), pageMS, apiMS, slowest)
		if nodes != 500 || edges != 600 {
			t.Fatalf("the graph has %d nodes and %d edges, want 500 and 600", nodes, edges)
		}
		// Fitted to the screen: the whole graph is inside the view.
		var fits bool
		b.eval(`(() => { const g = document.querySelector("#graph > g").getBoundingClientRect(), v = document.getElementById("graph").getBoundingClientRect();
			return g.left >= v.left - 1 && g.right <= v.right + 1 && g.top >= v.top - 1 && g.bottom <= v.bottom + 1; })()`, &fits)
		if !fits {
			t.Error("the fitted graph does not fit the view")
		}
		b.screenshots("scale-lineage")

		b.run("search", chromedp.SendKeys(chromedp.ID("search"), "gold.g42"), chromedp.KeyEvent("\r"))
		var matches string
		var focused string
		b.eval(`document.getElementById("matches").textContent`, &matches)
		b.eval(`document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : ""`, &focused)
		if matches != "1 match" || focused != "gold.g42" {
			t.Errorf("search gold.g42: %q, focus on %q", matches, focused)
		}
		// The match is centred and readable (zoomed to at least 1:1).
		var box struct{ X, Y, W, VW, VH float64 }
		b.eval(`(() => { const n = document.querySelector('[data-key="gold.g42"]').getBoundingClientRect(), v = document.getElementById("graph").getBoundingClientRect();
			return { x: n.left + n.width / 2 - v.left, y: n.top + n.height / 2 - v.top, w: n.width, vw: v.width, vh: v.height }; })()`, &box)
		if box.W < 180 || box.X < box.VW/2-20 || box.X > box.VW/2+20 || box.Y < box.VH/2-20 || box.Y > box.VH/2+20 {
			t.Errorf("found node at %+v: want it centred at full size", box)
		}
		b.screenshots("scale-lineage-search")
		var before, after string
		b.eval(`document.querySelector("#graph > g").getAttribute("transform")`, &before)
		b.run("zoom out", chromedp.Click(chromedp.ID("zoom-out")))
		b.eval(`document.querySelector("#graph > g").getAttribute("transform")`, &after)
		if before == after {
			t.Error("zoom out did not change the view")
		}
		b.noErrors("lineage at scale")
	})

	t.Run("server times", func(t *testing.T) {
		b.t = t
		for _, p := range []struct{ path, ready string }{
			{"/", "#runs table"}, {"/runs", "#list table"}, {"/tables", "#list table"}, {"/lineage", "#graph .node"},
			{"/pipelines/gold.g7", "#history table"}, {"/branches", "#list table"},
		} {
			b.visit(p.path, p.ready)
			pageMS, apiMS, slowest := b.serverTimes()
			t.Logf("server time at scale %-20s page %5.1f ms, slowest API call %6.1f ms %s", p.path, pageMS, apiMS, slowest)
			b.noErrors(p.path)
		}
	})

	t.Run("tables", func(t *testing.T) {
		b.t = t
		start := time.Now()
		b.visit("/tables", "#list table")
		var drawn float64
		b.eval(`performance.now()`, &drawn)
		pageMS, apiMS, slowest := b.serverTimes()
		var count string
		var rows int
		b.eval(`document.getElementById("count").textContent`, &count)
		b.eval(`document.querySelectorAll("#list tbody tr").length`, &rows)
		t.Logf("tables (%s): shown %.0f ms after navigation start (%s in the test), server time page %.1f ms, slowest API %.1f ms %s",
			count, drawn, time.Since(start).Round(time.Millisecond), pageMS, apiMS, slowest)
		if count != "1000 of 1000 tables" || rows != 100 {
			t.Fatalf("tables page: %q with %d rows, want 1000 tables, 100 a page", count, rows)
		}
		b.screenshots("scale-tables")
		b.run("next page", chromedp.Click(chromedp.CSS(`#pager button:last-child`)))
		var first string
		b.eval(`document.querySelector("#list tbody tr a").textContent`, &first)
		if !strings.HasPrefix(first, "archive.") {
			t.Errorf("page 2 starts with %q", first)
		}
		b.run("filter by layer", chromedp.SetValue(chromedp.ID("t-layer"), "gold"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("t-layer").dispatchEvent(new Event("change"))`))
		b.eval(`document.getElementById("count").textContent`, &count)
		if count != "200 of 1000 tables" {
			t.Errorf("layer gold: %q", count)
		}
		b.run("search", chromedp.SendKeys(chromedp.ID("t-search"), "g19"))
		b.eval(`document.getElementById("count").textContent`, &count)
		if count != "11 of 1000 tables" { // g19, g190..g199
			t.Errorf("search g19 in gold: %q", count)
		}
		b.noErrors("tables at scale")
	})
}
