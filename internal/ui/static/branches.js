// Branches: branches and tags with heads and ahead/behind counts against
// the default branch; create, diff (tables and row-count deltas), merge
// (with a dry run that shows conflicts first) and delete.
"use strict";
(function () {
  const { h, fill, api } = rat;
  const admin = rat.can("admin");

  // aheadBehind counts the commits of a branch not on the default branch
  // and the other way round, over the newest 200 commits of each.
  async function aheadBehind(name, mainIDs) {
    const c = await api("commits?limit=200&ref=" + encodeURIComponent(name));
    const ids = new Set(c.commits.map((x) => x.id));
    const plus = (n, full) => (full ? n + "+" : String(n));
    return {
      ahead: plus(c.commits.filter((x) => !mainIDs.has(x.id)).length, c.commits.length === 200),
      behind: plus([...mainIDs].filter((id) => !ids.has(id)).length, mainIDs.size === 200),
      last: c.commits[0],
    };
  }

  async function loadList() {
    const [b, t, main] = await Promise.all([api("branches"), api("tags"), api("commits?limit=200&ref=" + encodeURIComponent(rat.branch))]);
    const mainIDs = new Set(main.commits.map((x) => x.id));
    // Run branches (run/<id>) are a run's private workspace; the ones left
    // behind belong to failed runs, so they are listed apart.
    const all = b.branches.slice().sort((x, y) => (x.name === rat.branch ? -1 : y.name === rat.branch ? 1 : x.name.localeCompare(y.name)));
    const branches = all.filter((r) => !r.name.startsWith("run/"));
    const runBranches = all.filter((r) => r.name.startsWith("run/"));
    const counts = await Promise.all(branches.slice(0, 40).map((br) => (br.name === rat.branch ? { ahead: "", behind: "", last: main.commits[0] } : aheadBehind(br.name, mainIDs).catch(() => ({})))));
    fill("#list", rat.table([
      { title: "Branch", get: (r) => h("strong", null, r.name) },
      { title: "Head", get: (r) => h("code", { title: r.head }, rat.short(r.head)) },
      { title: "Last commit", get: (r, i) => (r.c && r.c.last ? h("span", null, r.c.last.message || "", " ", h("span", { class: "muted small" }, rat.ago(r.c.last.time))) : "") },
      { title: "Ahead", num: true, get: (r) => (r.c ? r.c.ahead : "") },
      { title: "Behind", num: true, get: (r) => (r.c ? r.c.behind : "") },
      { title: "", get: (r) => (r.name === rat.branch ? h("span", { class: "badge" }, "default") : admin ? h("button", { type: "button", class: "danger", "aria-label": "Delete branch " + r.name, onclick: () => del(r.name) }, "Delete") : "") },
    ], branches.map((r, i) => Object.assign({ c: counts[i] }, r)), { label: "Branches" }),
    runBranches.length ? h("details", null, h("summary", null, runBranches.length + " run branch" + (runBranches.length === 1 ? "" : "es") + " left by runs that did not publish"),
      rat.table([
        { title: "Branch", get: (r) => h("a", { href: "/runs/" + encodeURIComponent(r.name.slice(4)) }, r.name) },
        { title: "Head", get: (r) => h("code", null, rat.short(r.head)) },
        { title: "", get: (r) => (admin ? h("button", { type: "button", class: "danger", "aria-label": "Delete branch " + r.name, onclick: () => del(r.name) }, "Delete") : "") },
      ], runBranches, { label: "Run branches" })) : null,
    t.tags.length ? [h("h3", null, "Tags"), rat.table([
      { title: "Tag", get: (r) => r.name },
      { title: "Commit", get: (r) => h("code", null, rat.short(r.head)) },
    ], t.tags, { label: "Tags" })] : null);
    for (const sel of ["#c-from", "#d-from", "#d-to"]) {
      const el = rat.$(sel), cur = el.value;
      fill(el, all.map((r) => h("option", { value: r.name }, r.name)), sel === "#c-from" ? t.tags.map((r) => h("option", { value: r.name }, "tag " + r.name)) : null);
      el.value = cur || (sel === "#d-from" ? (b.branches.find((r) => r.name !== rat.branch) || { name: rat.branch }).name : rat.branch);
    }
  }

  async function del(name) {
    if (!confirm("Delete branch " + name + "? Its commits stay reachable from other refs only.")) return;
    try {
      await api("branches/" + encodeURIComponent(name), { method: "DELETE" });
      rat.toast("Deleted branch " + name);
      await loadList();
    } catch (err) { rat.toast(err.message, true); }
  }

  async function diff() {
    const from = rat.$("#d-from").value, to = rat.$("#d-to").value;
    const d = await api("diff?from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to));
    // The API diffs "from" against "to": rows_from are the source's rows.
    fill("#diff-out", h("h3", null, "Changes on " + from + " compared with " + to), rat.table([
      { title: "Table", get: (t) => h("a", { href: "/tables/" + encodeURIComponent(t.table) + "?branch=" + encodeURIComponent(from) }, t.table) },
      { title: "Change", get: (t) => rat.badge(t.change) },
      // A view stores SQL, not rows: it has no counts to compare.
      { title: "Rows on " + from, num: true, get: (t) => (t.kind === "view" ? "view" : rat.num(t.rows_from)) },
      { title: "Rows on " + to, num: true, get: (t) => (t.kind === "view" ? "view" : rat.num(t.rows_to)) },
      { title: "Δ rows", num: true, get: (t) => { if (t.kind === "view") return ""; const d = t.rows_from - t.rows_to; return (d > 0 ? "+" : "") + rat.num(d); } },
    ], d.tables, { empty: from + " and " + to + " hold the same tables.", label: "Diff" }));
  }

  function mergeTables(m) {
    return rat.table([
      { title: "Table", get: (t) => t.table },
      { title: "Action", get: (t) => h("span", { class: "badge " + (t.action === "conflict" ? "failed" : "success") }, t.action) },
      { title: "Detail", get: (t) => t.detail || "" },
    ], m.tables || [], { empty: "Nothing to merge.", label: "Merge plan" });
  }

  async function merge() {
    const source = rat.$("#d-from").value, into = rat.$("#d-to").value;
    if (source === into) { rat.toast("Pick two different branches.", true); return; }
    try {
      const plan = await api("merge", { method: "POST", body: { source, into, dry_run: true } });
      if (plan.up_to_date) { fill("#diff-out", h("div", { class: "note" }, into + " already has everything on " + source + ".")); return; }
      fill("#diff-out", h("h3", null, "Merge plan"), mergeTables(plan));
      if (!confirm("Merge " + source + " into " + into + "? " + (plan.tables || []).length + " table(s) change.")) return;
      const done = await api("merge", { method: "POST", body: { source, into } });
      fill("#diff-out", h("div", { class: "note", role: "status" }, "Merged " + source + " into " + into + (done.fast_forward ? " (fast-forward)" : "") + ": new head ", h("code", null, rat.short(done.commit))), mergeTables(done));
      await loadList();
    } catch (err) {
      const m = err.data && err.data.merge;
      fill("#diff-out", rat.errorBox(err), m ? [h("h3", null, "Conflicts"), mergeTables({ tables: m.tables.filter((t) => t.action === "conflict") })] : null);
    }
  }

  rat.start(async () => {
    if (!admin) {
      rat.$("#create").querySelectorAll("input, select, button").forEach((e) => (e.disabled = true));
      rat.$("#merge").disabled = true;
      rat.$("#create").after(h("p", { class: "muted small" }, "Creating, merging and deleting branches needs the admin role."));
    }
    rat.$("#create").addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = rat.$("#c-name").value.trim(), from = rat.$("#c-from").value;
      try {
        await api("branches", { method: "POST", body: { name, from } });
        rat.toast("Created branch " + name + " from " + from);
        rat.$("#c-name").value = "";
        await loadList();
        rat.$("#d-from").value = name;
      } catch (err) { rat.toast(err.message, true); }
    });
    rat.$("#diff").addEventListener("submit", (e) => { e.preventDefault(); diff().catch((err) => fill("#diff-out", rat.errorBox(err))); });
    rat.$("#merge").addEventListener("click", () => merge());
    await loadList();
    // Other pages link here to compare two refs (a failed run's branch
    // with its target).
    // A ref may also be a commit (what a run changed: its base and the
    // commit it published), which the lists of branches do not hold.
    const pick = (sel, v) => {
      if (![...sel.options].some((o) => o.value === v)) sel.append(h("option", { value: v }, "commit " + rat.short(v)));
      sel.value = v;
    };
    const from = rat.qs("from"), to = rat.qs("to");
    if (from && to) {
      pick(rat.$("#d-from"), from);
      pick(rat.$("#d-to"), to);
      await diff().catch((err) => fill("#diff-out", rat.errorBox(err)));
    }
  });
})();
