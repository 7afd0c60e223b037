// Pipeline page: SQL as written and as it would run (highlighted), the
// configuration, column docs and tests, run history, and a Run button.
"use strict";
(function () {
  const { h, fill, api } = rat;
  const id = rat.param;

  const kv = (rows) => h("table", { class: "data", "aria-label": "Configuration" }, h("tbody", null,
    rows.filter((r) => r[1] !== undefined && r[1] !== null && r[1] !== "" && !(Array.isArray(r[1]) && !r[1].length))
      .map((r) => h("tr", null, h("th", { scope: "row" }, r[0]), h("td", null, Array.isArray(r[1]) ? r[1].join(", ") : r[1])))));

  function tab(src) {
    rat.$("#tab-src").setAttribute("aria-selected", String(src));
    rat.$("#tab-ren").setAttribute("aria-selected", String(!src));
    rat.$("#sql-src").classList.toggle("hidden", !src);
    rat.$("#sql-ren").classList.toggle("hidden", src);
  }

  async function load() {
    const branch = rat.$("#r-branch").value;
    const [p, runs] = await Promise.all([api("pipelines/" + encodeURIComponent(id) + "?branch=" + encodeURIComponent(branch)),
      api("runs?limit=20&pipeline=" + encodeURIComponent(id)).catch(() => ({ runs: [] }))]);
    fill("#mat", rat.badge(p.materialized));
    fill("#about", h("div", { class: "stats" },
      h("div", null, h("div", { class: "muted small" }, "Description"), h("div", null, p.description || "—")),
      h("div", null, h("div", { class: "muted small" }, "Owner"), h("div", null, p.owner || "—")),
      h("div", null, h("div", { class: "muted small" }, "File"), h("code", null, p.file)),
      h("div", null, h("div", { class: "muted small" }, "Reads"), h("div", null, p.reads.length ? p.reads.map((r, i) => [i ? ", " : "", h("a", { href: "/pipelines/" + encodeURIComponent(r) }, r)]) : "—",
        (p.landings || []).map((z) => [", ", h("a", { href: "/landing" }, "landing:" + z)]))),
      h("div", null, h("div", { class: "muted small" }, "Table"), h("a", { href: "/tables/" + encodeURIComponent(p.id) + "?branch=" + encodeURIComponent(branch) }, p.id))));
    fill("#sql-src", rat.code(p.sql, "SQL source"));
    fill("#sql-ren", p.render_error ? rat.errorBox(p.render_error) : null, rat.code(p.rendered || "(not rendered)", "Rendered SQL"));
    const c = p.config || {};
    fill("#config", kv([
      ["Materialized", p.materialized], ["Unique key", c.unique_key], ["Partition by", c.partition_by], ["Merge strategy", c.merge_strategy],
      ["Watermark column", c.watermark_column], ["On schema change", c.on_schema_change], ["On bad rows", c.on_bad_rows],
      ["Retries", c.retries ? c.retries + (c.retry_delay ? " every " + c.retry_delay : "") : ""], ["Freshness", c.freshness_warn_after || c.freshness_error_after ? "warn after " + (c.freshness_warn_after || "–") + ", error after " + (c.freshness_error_after || "–") : ""],
      ["Triggers", (c.triggers || []).map((t) => JSON.stringify(t))], ["Tags", p.tags], ["Tests", p.tests],
    ]));
    fill("#columns", rat.table([
      { title: "Column", get: (x) => h("code", null, x.name) },
      { title: "Type", get: (x) => x.type || "" },
      { title: "Description", get: (x) => [x.description || "", x.pii ? [" ", h("span", { class: "badge warn" }, "PII")] : null] },
      { title: "Tests", get: (x) => (x.tests || []).join(", ") },
    ], c.columns || [], { empty: "No columns documented in the pipeline's YAML.", label: "Columns" }));
    fill("#history", rat.table(rat.runColumns(), runs.runs, { empty: "This pipeline has not run yet.", label: "Run history" }));
  }

  rat.start(async () => {
    rat.$("#tab-src").addEventListener("click", () => tab(true));
    rat.$("#tab-ren").addEventListener("click", () => tab(false));
    await rat.refOptions(rat.$("#r-branch"), rat.qs("branch") || rat.branch, false);
    rat.$("#r-branch").addEventListener("change", () => load().catch((e) => rat.toast(e.message, true)));
    const btn = rat.$("#run");
    btn.disabled = !rat.can("run");
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      try {
        const r = await api("runs", { method: "POST", body: { selectors: [id], branch: rat.$("#r-branch").value, full_refresh: rat.$("#r-full").checked } });
        location.href = "/runs/" + encodeURIComponent(r.id);
      } catch (err) { rat.toast(err.message, true); btn.disabled = false; }
    });
    await load();
  });
})();
