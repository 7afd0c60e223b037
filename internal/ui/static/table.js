// Table page: stats, schema with docs, lineage neighbours, the snapshot
// timeline with a time-travel preview, and a preview of rows.
"use strict";
(function () {
  const { h, fill, api } = rat;
  const id = rat.param;

  const grid = (res) => (res.rows.length ? rat.grid(res, "Rows of " + id) : rat.empty("No rows."));

  async function preview(branch, snap) {
    fill("#prev-info", snap ? "as of snapshot " + snap : "current");
    try {
      const res = await api("tables/" + encodeURIComponent(id) + "/preview?limit=100&branch=" + encodeURIComponent(branch) + (snap ? "&at=" + encodeURIComponent(snap) : ""));
      // The preview shows its first rows by design; any other cut (the
      // server's size cap, say) is said.
      fill("#preview", res.truncated && res.truncated_by !== "rows" ? h("div", { class: "note", role: "status" }, res.message) : null, grid(res));
    } catch (err) {
      fill("#preview", rat.errorBox(err));
    }
    rat.$("#preview").dataset.at = snap ? String(snap) : "current"; // what the preview shows (tests wait on it)
  }

  async function load() {
    const branch = rat.$("#t-branch").value;
    const [t, lin] = await Promise.all([api("tables/" + encodeURIComponent(id) + "?branch=" + encodeURIComponent(branch)), api("lineage").catch(() => ({ nodes: [], edges: [] }))]);
    fill("#kind", rat.badge(t.kind === "view" ? "view" : "table"));
    const stat = (label, v) => h("div", null, h("div", { class: "muted small" }, label), h("div", { class: "stat" }, v));
    fill("#stats",
      t.kind === "view" ? null : [stat("Rows", rat.num(t.rows)), stat("Data files", rat.num(t.files)), stat("Size", rat.bytes(t.bytes)),
        stat("Partitioning", t.partition && t.partition !== "[]" ? t.partition : "none"),
        t.partition && t.partition !== "[]" ? stat("Partitions", rat.num(t.partitions)) : null, stat("Snapshots", (t.snapshots || []).length)],
      stat("Last commit", h("code", null, rat.short(t.last_commit))),
      h("div", null, h("a", { class: "button", href: "/query?sql=" + encodeURIComponent("SELECT * FROM " + id + " LIMIT 100") + "&branch=" + encodeURIComponent(branch) }, "Query this table")),
      lin.nodes.some((n) => n.key === id && n.kind === "pipeline") ? h("div", null, h("a", { class: "button", href: "/pipelines/" + encodeURIComponent(id) }, "Open pipeline")) : null);
    fill("#schema", t.kind === "view" ? rat.code(t.sql, "View definition") : rat.table([
      { title: "#", num: true, get: (c) => c.id },
      { title: "Column", get: (c) => h("code", null, c.name) },
      { title: "Type", get: (c) => c.type },
      { title: "Required", get: (c) => (c.required ? "yes" : "") },
      { title: "Description", get: (c) => c.doc || "" },
    ], t.columns || [], { label: "Schema" }));
    const up = lin.edges.filter((e) => e.to === id).map((e) => e.from);
    const down = lin.edges.filter((e) => e.from === id).map((e) => e.to);
    const link = (k) => (k.startsWith("landing:") ? h("a", { href: "/landing" }, k) : h("a", { href: "/tables/" + encodeURIComponent(k) }, k));
    fill("#neighbours", h("div", { class: "grid two" },
      h("div", null, h("h3", null, "Reads from"), up.length ? h("ul", null, up.map((k) => h("li", null, link(k)))) : rat.empty("Nothing upstream.")),
      h("div", null, h("h3", null, "Read by"), down.length ? h("ul", null, down.map((k) => h("li", null, link(k)))) : rat.empty("Nothing downstream."))));
    const snaps = (t.snapshots || []).slice().reverse();
    fill("#snapshots", snaps.length ? snaps.map((sn) => h("li", { class: sn.current ? "current" : null },
      h("button", { type: "button", onclick: () => preview(branch, sn.current ? 0 : sn.id), "aria-label": "Preview snapshot " + sn.id }, sn.current ? "current" : "preview"),
      h("span", null, rat.time(sn.time)), h("span", { class: "badge" }, sn.operation),
      h("span", { class: "muted small" }, "+" + rat.num(sn.added_rows) + " / −" + rat.num(sn.deleted_rows) + " rows → " + rat.num(sn.total_rows)),
      h("code", { class: "muted small" }, String(sn.id)))) : h("li", { class: "muted" }, "No snapshots."));
    await preview(branch, 0);
  }

  rat.start(async () => {
    await rat.refOptions(rat.$("#t-branch"), rat.qs("branch") || rat.branch, true);
    rat.$("#t-branch").addEventListener("change", () => load().catch((e) => rat.toast(e.message, true)));
    await load();
  });
})();
