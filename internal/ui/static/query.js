// Query console: a highlighted SQL editor (Ctrl/Cmd-Enter runs), branch and
// time-travel selectors, a typed result grid with paging, CSV and JSON
// downloads, a bar or line chart, and a history kept in this browser.
"use strict";
(function () {
  const { h, s, fill, api } = rat;
  const pageSize = 100;
  const histKey = "rat-query-history";
  let result = null;
  let page = 0;
  let editor;
  let lastRequest = null; // the query of the results shown, for the Parquet download

  const cell = (v, i) => (v === null || v === undefined ? "" : rat.cellText(v, result && i !== undefined ? result.columns[i].type : ""));
  const numeric = rat.numeric;
  const cutBy = { rows: "limit reached", bytes: "size cap reached", time: "time limit reached", error: "stopped by an error" };

  function renderGrid() {
    if (!result) return;
    const cols = result.columns;
    const rows = result.rows.slice(page * pageSize, (page + 1) * pageSize);
    fill("#grid", result.rows.length ? h("div", { class: "scroll" }, rat.grid({ columns: cols, rows }, "Query results")) : rat.empty("The query returned no rows."));
    const pages = Math.max(1, Math.ceil(result.rows.length / pageSize));
    fill("#pager", pages > 1 ? [
      h("button", { type: "button", disabled: page === 0, onclick: () => { page--; renderGrid(); } }, "← Previous"),
      h("span", { class: "muted small" }, "page " + (page + 1) + " of " + pages),
      h("button", { type: "button", disabled: page >= pages - 1, onclick: () => { page++; renderGrid(); } }, "Next →"),
    ] : null);
  }

  function renderChart() {
    if (!result || !result.rows.length) { fill("#chart-svg", rat.empty("Run a query first.")); return; }
    const xi = parseInt(rat.$("#c-x").value, 10), yi = parseInt(rat.$("#c-y").value, 10);
    if (isNaN(xi) || isNaN(yi)) { fill("#chart-svg", rat.empty("The result has no numeric column to chart.")); return; }
    const rows = result.rows.slice(0, 500);
    const ys = rows.map((r) => Number(r[yi]) || 0);
    const max = Math.max(0, ...ys), min = Math.min(0, ...ys);
    const W = 900, H = 260, L = 60, B = 40;
    const y = (v) => H - B - ((v - min) / (max - min || 1)) * (H - B - 10);
    const step = (W - L - 10) / rows.length;
    const g = s("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": (rat.$("#c-kind").value) + " chart of " + result.columns[yi].name + " by " + result.columns[xi].name });
    g.appendChild(s("line", { class: "axis", x1: L, x2: W - 10, y1: y(0), y2: y(0) }));
    g.appendChild(s("text", { x: 4, y: y(max) + 4, text: rat.num(max) }));
    g.appendChild(s("text", { x: 4, y: y(min) + 4, text: rat.num(min) }));
    if (rat.$("#c-kind").value === "bar") {
      rows.forEach((r, i) => g.appendChild(s("rect", { class: "bar", x: L + i * step + step * 0.1, width: Math.max(1, step * 0.8), y: Math.min(y(ys[i]), y(0)), height: Math.abs(y(0) - y(ys[i])) },
        s("title", { text: cell(r[xi], xi) + ": " + ys[i] }))));
    } else {
      g.appendChild(s("polyline", { class: "line", points: rows.map((r, i) => (L + i * step + step / 2).toFixed(1) + "," + y(ys[i]).toFixed(1)).join(" ") }));
    }
    const every = Math.ceil(rows.length / 10);
    rows.forEach((r, i) => { if (i % every === 0) g.appendChild(s("text", { x: L + i * step, y: H - 22, text: cell(r[xi], xi).slice(0, 12) })); });
    fill("#chart-svg", g);
  }

  function chartOptions() {
    const cols = result.columns;
    fill("#c-x", cols.map((c, i) => h("option", { value: i }, c.name)));
    const nums = cols.map((c, i) => [c, i]).filter(([c]) => numeric(c.type));
    fill("#c-y", nums.map(([c, i]) => h("option", { value: i }, c.name)));
    if (nums.length && nums[0][1] === 0 && cols.length > 1) rat.$("#c-y").value = String((nums[1] || nums[0])[1]);
  }

  function csv() {
    const q = (v, i) => { const t = cell(v, i); return /[",\n\r]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t; };
    return [result.columns.map((c) => q(c.name)).join(",")].concat(result.rows.map((r) => r.map((v, i) => q(v, i)).join(","))).join("\r\n") + "\r\n";
  }

  function history() { try { return JSON.parse(localStorage.getItem(histKey) || "[]"); } catch (e) { return []; } }
  function remember(sql, branch, at, info) {
    const list = history().filter((x) => x.sql !== sql);
    list.unshift({ sql, branch, at, info, when: new Date().toISOString() });
    localStorage.setItem(histKey, JSON.stringify(list.slice(0, 30)));
    renderHistory();
  }
  function renderHistory() {
    const list = history();
    fill("#history", list.length ? list.map((x) => h("li", null, h("button", { type: "button", class: "ghost mono small", title: x.sql, onclick: () => {
      editor.set(x.sql); rat.$("#q-branch").value = x.branch; rat.$("#q-at").value = x.at || ""; editor.focus();
    } }, x.sql.length > 60 ? x.sql.slice(0, 60) + "…" : x.sql), h("div", { class: "muted small" }, rat.ago(x.when) + " · " + (x.info || "")))) : h("li", { class: "muted" }, "Queries you run appear here."));
  }

  async function run() {
    const sql = editor.get();
    if (!sql.trim()) return;
    const branch = rat.$("#q-branch").value, at = rat.$("#q-at").value.trim();
    const limit = parseInt(rat.$("#q-limit").value, 10) || 1000;
    const btn = rat.$("#run");
    btn.disabled = true;
    fill("#res-info", "running…");
    try {
      result = await api("query", { method: "POST", body: { sql, branch, at, limit } });
      page = 0;
      const info = rat.num(result.rows.length) + " row" + (result.rows.length === 1 ? "" : "s") + (result.truncated ? " (" + (cutBy[result.truncated_by] || "more exist") + ")" : "") + " in " + rat.secs(result.elapsed_ms / 1000);
      fill("#res-info", info);
      // A cut answer says why: the row limit, the server's size cap, the
      // time limit, or an error after rows came. Downloads hold these rows.
      fill("#res-note", result.error ? rat.errorBox(result.error) : result.truncated ? h("div", { class: "note" }, result.message || "More rows exist.") : null);
      rat.$("#csv").disabled = rat.$("#json").disabled = rat.$("#parquet").disabled = false;
      lastRequest = { sql, branch, at, limit };
      renderGrid();
      chartOptions();
      if (!rat.$("#chart").classList.contains("hidden")) renderChart();
      remember(sql, branch, at, info);
    } catch (err) {
      result = null;
      fill("#res-info", "");
      fill("#res-note");
      fill("#grid", rat.errorBox(err));
      fill("#pager");
      rat.$("#csv").disabled = rat.$("#json").disabled = rat.$("#parquet").disabled = true;
    } finally {
      btn.disabled = false;
    }
  }

  function tab(which) {
    const grid = which === "grid";
    rat.$("#tab-grid").setAttribute("aria-selected", String(grid));
    rat.$("#tab-chart").setAttribute("aria-selected", String(!grid));
    rat.$("#grid").classList.toggle("hidden", !grid);
    rat.$("#pager").classList.toggle("hidden", !grid);
    rat.$("#chart").classList.toggle("hidden", grid);
    if (!grid) renderChart();
  }

  rat.start(async () => {
    editor = rat.editor(rat.$("#editor"), run);
    const sql = rat.qs("sql");
    if (sql) editor.set(sql);
    rat.$("#qform").addEventListener("submit", (e) => { e.preventDefault(); run(); });
    rat.$("#csv").addEventListener("click", () => rat.download("rat-query.csv", csv(), "text/csv"));
    rat.$("#parquet").addEventListener("click", async () => {
      // DuckDB writes the file on the server: the query runs again there.
      try {
        const resp = await rat.api("query/parquet", { method: "POST", body: lastRequest, raw: true });
        if (!resp.ok) { const e = await resp.json().catch(() => ({})); throw new Error((e.error && e.error.message) || resp.statusText); }
        rat.download("rat-query.parquet", await resp.blob(), "application/vnd.apache.parquet");
      } catch (err) { rat.toast(err.message, true); }
    });
    rat.$("#json").addEventListener("click", () => rat.download("rat-query.json", JSON.stringify({ columns: result.columns, rows: result.rows }), "application/json"));
    rat.$("#tab-grid").addEventListener("click", () => tab("grid"));
    rat.$("#tab-chart").addEventListener("click", () => tab("chart"));
    ["#c-kind", "#c-x", "#c-y"].forEach((sel) => rat.$(sel).addEventListener("change", renderChart));
    renderHistory();
    if (!rat.can("run")) {
      rat.$("#run").disabled = true;
      rat.$("#main").prepend(h("div", { class: "note" }, "Your token's role is read: queries need the run role."));
    }
    await rat.refOptions(rat.$("#q-branch"), rat.qs("branch") || rat.branch, true);
    // Time travel: the branch's recent commits are offered as times.
    const commits = async () => {
      const c = await api("commits?limit=30&ref=" + encodeURIComponent(rat.$("#q-branch").value)).catch(() => ({ commits: [] }));
      fill("#q-commits", c.commits.map((x) => h("option", { value: x.time }, x.message + " (" + rat.short(x.id) + ")")));
    };
    rat.$("#q-branch").addEventListener("change", commits);
    commits();
    if (rat.qs("at")) rat.$("#q-at").value = rat.qs("at");
    if (sql && rat.qs("run") === "1" && rat.can("run")) run();
  });
})();
