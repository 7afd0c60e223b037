// Tables: every table of a branch, by layer, with sizes; search and paging
// keep a thousand tables usable.
"use strict";
(function () {
  const { h, fill, api } = rat;
  const pageSize = 100;
  let tables = [];
  let page = 0;

  function render() {
    const layer = rat.$("#t-layer").value, q = rat.$("#t-search").value.trim().toLowerCase();
    const shown = tables.filter((t) => (!layer || t.table.split(".")[0] === layer) && (!q || t.table.toLowerCase().includes(q)));
    const pages = Math.max(1, Math.ceil(shown.length / pageSize));
    page = Math.min(page, pages - 1);
    const branch = rat.$("#t-branch").value;
    const link = (t) => "/tables/" + encodeURIComponent(t.table) + (branch !== rat.branch ? "?branch=" + encodeURIComponent(branch) : "");
    fill("#list", rat.table([
      { title: "Table", get: (t) => h("a", { href: link(t) }, t.table) },
      { title: "Kind", get: (t) => t.kind },
      { title: "Rows", num: true, get: (t) => (t.kind === "view" ? "" : rat.num(t.rows)) },
      { title: "Files", num: true, get: (t) => (t.kind === "view" ? "" : rat.num(t.files)) },
      { title: "Size", num: true, get: (t) => (t.kind === "view" ? "" : rat.bytes(t.bytes)) },
      { title: "Updated", get: (t) => (t.updated && !t.updated.startsWith("0001") ? rat.time(t.updated) : "") },
    ], shown.slice(page * pageSize, (page + 1) * pageSize), { empty: tables.length ? "No table matches." : "No tables on this branch yet: run the pipelines first.", label: "Tables" }));
    fill("#count", shown.length + " of " + tables.length + " tables");
    fill("#pager", pages > 1 ? [
      h("button", { type: "button", disabled: page === 0, onclick: () => { page--; render(); } }, "← Previous"),
      h("span", { class: "muted small" }, "page " + (page + 1) + " of " + pages),
      h("button", { type: "button", disabled: page >= pages - 1, onclick: () => { page++; render(); } }, "Next →"),
    ] : null);
  }

  async function load() {
    const branch = rat.$("#t-branch").value;
    const data = await api("tables?branch=" + encodeURIComponent(branch));
    tables = data.tables.filter((t) => !t.table.startsWith("_rat."));
    tables.sort((a, b) => a.table.localeCompare(b.table));
    const layers = [...new Set(tables.map((t) => t.table.split(".")[0]))];
    const cur = rat.qs("layer") || rat.$("#t-layer").value;
    fill("#t-layer", h("option", { value: "" }, "all"), layers.map((l) => h("option", { value: l, selected: l === cur }, l)));
    render();
  }

  rat.start(async () => {
    await rat.refOptions(rat.$("#t-branch"), rat.qs("branch") || rat.branch, true);
    rat.$("#t-search").value = rat.qs("q") || "";
    rat.$("#t-branch").addEventListener("change", () => load().catch((e) => rat.toast(e.message, true)));
    rat.$("#t-layer").addEventListener("change", () => { page = 0; render(); });
    rat.$("#t-search").addEventListener("input", () => { page = 0; render(); });
    rat.$("#filters").addEventListener("submit", (e) => e.preventDefault());
    await load();
  });
})();
