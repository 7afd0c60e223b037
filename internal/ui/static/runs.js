// Runs: the run list with filters (status, branch, trigger, pipeline) and
// paging; the filters live in the URL so a filtered list can be shared.
"use strict";
(function () {
  const { h, fill, api } = rat;
  const pageSize = 25;
  const form = rat.$("#filters");
  const fields = ["status", "branch", "trigger", "pipeline"];

  function params() {
    const p = new URLSearchParams(location.search);
    return { status: p.get("status") || "", branch: p.get("branch") || "", trigger: p.get("trigger") || "", pipeline: p.get("pipeline") || "", page: Math.max(0, parseInt(p.get("page") || "0", 10) || 0) };
  }

  async function load() {
    const f = params();
    const q = new URLSearchParams({ limit: pageSize, offset: f.page * pageSize });
    if (f.status) q.set("status", f.status);
    if (f.branch) q.set("target", f.branch);
    if (f.trigger) q.set("trigger", f.trigger);
    if (f.pipeline) q.set("pipeline", f.pipeline);
    const data = await api("runs?" + q);
    fill("#list", rat.table(rat.runColumns([
      { title: "Pipelines", get: (r) => (r.pipelines || []).slice(0, 4).join(", ") + ((r.pipelines || []).length > 4 ? " +" + (r.pipelines.length - 4) : "") },
    ]), data.runs, { empty: "No runs match these filters.", label: "Runs" }));
    rat.$("#list").dataset.query = q.toString(); // what the list shows (tests wait on it)
    fill("#count", data.runs.length ? "runs " + (f.page * pageSize + 1) + "–" + (f.page * pageSize + data.runs.length) : "");
    const go = (page) => { const p = new URLSearchParams(location.search); p.set("page", page); history.pushState(null, "", "?" + p); load(); };
    fill("#pager",
      h("button", { type: "button", disabled: f.page === 0, onclick: () => go(f.page - 1) }, "← Newer"),
      h("button", { type: "button", disabled: !data.more, onclick: () => go(f.page + 1) }, "Older →"));
    return data.runs.some((r) => r.status === "running" || r.status === "queued");
  }

  function syncForm() {
    const f = params();
    fields.forEach((k) => { form.elements[k].value = f[k]; });
  }

  rat.start(async () => {
    const branches = await api("branches");
    branches.branches.forEach((b) => rat.$("#f-branch").appendChild(h("option", { value: b.name }, b.name)));
    syncForm();
    form.addEventListener("change", () => {
      const p = new URLSearchParams();
      fields.forEach((k) => { if (form.elements[k].value) p.set(k, form.elements[k].value.trim()); });
      history.pushState(null, "", p.toString() ? "?" + p : location.pathname);
      load();
    });
    form.addEventListener("submit", (e) => { e.preventDefault(); form.dispatchEvent(new Event("change")); });
    window.addEventListener("popstate", () => { syncForm(); load(); });
    await load();
    // While runs are going, keep the list current.
    setInterval(() => load().catch(() => {}), 3000);
  });
})();
