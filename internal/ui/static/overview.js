// Overview: health checks, resource gauges, recent runs, failing tests and
// stale tables, refreshed every 5 seconds.
"use strict";
(function () {
  const { h, s, fill, api } = rat;
  const labels = { memory: "Memory", cpu: "CPU", disk: "Data disk", query_latency_p95: "Query latency p95" };

  function gaugeEl(g) {
    const max = g.unit === "ratio" ? 1 : g.critical * 1.5;
    const frac = Math.max(0, Math.min(1, g.value / max));
    // A half circle from the left (0) to the right (max).
    const arc = (f) => {
      const a = Math.PI * (1 - f);
      return [60 + 48 * Math.cos(a), 64 - 48 * Math.sin(a)];
    };
    const [x, y] = arc(frac);
    const shown = g.status === "unknown" ? "n/a" : g.unit === "ratio" ? Math.round(g.value * 100) + " %" : rat.secs(g.value);
    const limits = g.unit === "ratio" ? Math.round(g.warn * 100) + " / " + Math.round(g.critical * 100) + " %" : g.warn + " s / " + g.critical + " s";
    return h("div", { class: "gauge", role: "meter", "aria-label": labels[g.name] || g.name, "aria-valuemin": "0", "aria-valuemax": String(max), "aria-valuenow": String(g.value), "aria-valuetext": shown + " (" + g.status + ")" },
      s("svg", { viewBox: "0 0 120 74", "aria-hidden": "true" },
        s("path", { d: "M12 64 A48 48 0 0 1 108 64", class: "track", fill: "none", "stroke-width": "10", "stroke-linecap": "round" }),
        frac > 0 ? s("path", { d: "M12 64 A48 48 0 0 1 " + x.toFixed(1) + " " + y.toFixed(1), class: "val " + g.status, fill: "none", "stroke-width": "10", "stroke-linecap": "round" }) : null),
      h("div", { class: "value" }, shown),
      h("div", { class: "label" }, labels[g.name] || g.name, " ", rat.badge(g.status)),
      h("div", { class: "muted small" }, "warn / critical at " + limits));
  }

  function runsTable(runs) {
    return rat.table(rat.runColumns(), runs, { empty: "No runs yet. Open Lineage or a pipeline and press Run.", label: "Recent runs" });
  }

  // The cluster as rat status shows it: each process's heartbeat against
  // the thresholds, and each warning with its advice.
  async function loadCluster() {
    let st;
    try {
      st = await api("status");
    } catch (e) {
      fill("#cluster", rat.empty("No cluster view: " + e.message));
      return;
    }
    const pct = (v) => Math.round(v * 100) + " %";
    const fullest = (p) => (p.resources.disks || []).reduce((m, d) => {
      const r = d.used_bytes / Math.max(1, d.used_bytes + d.free_bytes);
      return !m || r > m.r ? { r, v: d.volume } : m;
    }, null);
    fill("#cluster", rat.table([
      { title: "Role", get: (p) => p.role },
      { title: "Host", get: (p) => p.host },
      { title: "Version", get: (p) => p.version },
      { title: "Up since", get: (p) => rat.time(p.started) },
      { title: "Memory", num: true, get: (p) => (p.resources.memory_limit_bytes ? pct(p.resources.memory_bytes / p.resources.memory_limit_bytes) + " of " + rat.bytes(p.resources.memory_limit_bytes) : "–") },
      { title: "CPU", num: true, get: (p) => pct(p.resources.cpu_ratio) + " of " + p.resources.cpus },
      { title: "Disk", num: true, get: (p) => { const d = fullest(p); return d ? pct(d.r) + " " + d.v : "–"; } },
      { title: "Status", get: (p) => rat.badge(p.status === "warning" ? "warn" : p.status) },
    ], st.processes, { empty: "No rat serve or rat worker process has a live heartbeat.", label: "Processes" }));
    fill("#cluster-warnings", (st.warnings || []).map((w) => h("div", { class: w.status === "critical" ? "error" : "warning" },
      h("strong", null, w.message), h("div", { class: "muted small" }, w.advice))));
  }

  async function load() {
    loadCluster();
    const o = await api("overview");
    fill("#ws-name", o.workspace || "Overview");
    fill("#ws-sub", o.pipelines + " pipeline" + (o.pipelines === 1 ? "" : "s"));
    fill("#checks", o.checks.length ? o.checks.map((c) => h("div", { class: "check" }, rat.badge(c.status), h("span", null, c.name.replace("_", " ")))) : rat.empty("No checks configured."));
    if (o.queue) rat.$("#checks").appendChild(h("div", { class: "check" }, h("span", { class: "badge " + (o.queue.waiting ? "queued" : "ok") }, String(o.queue.waiting)),
      h("span", null, "run" + (o.queue.waiting === 1 ? "" : "s") + " waiting for a worker" + (o.queue.waiting ? ", oldest " + rat.secs(o.queue.oldest_wait_seconds) : ""))));
    if (o.warnings) o.warnings.forEach((w) => rat.$("#checks").appendChild(h("div", { class: "error" }, w)));
    fill("#gauges", o.gauges.map(gaugeEl));
    fill("#runs", runsTable(o.runs));
    fill("#failing", rat.table([
      { title: "Test", get: (t) => t.pipeline + " · " + t.name },
      { title: "Status", get: (t) => h("span", { class: "badge " + (t.status === "fail" && t.severity === "warn" ? "warn" : t.status) }, t.status + (t.severity === "warn" ? " (warn)" : "")) },
      { title: "Violations", num: true, get: (t) => rat.num(t.violations) },
      { title: "Run", get: (t) => h("a", { href: "/runs/" + encodeURIComponent(t.run) }, rat.time(t.when)) },
    ], o.failing_tests, { empty: "No failing tests in the latest runs.", label: "Failing tests" }));
    fill("#stale", rat.table([
      { title: "Table", get: (t) => h("a", { href: "/tables/" + encodeURIComponent(t.table) }, t.table) },
      { title: "Status", get: (t) => rat.badge(t.status === "unknown" ? "unknown" : t.status) },
      { title: "Updated", get: (t) => (t.updated ? rat.time(t.updated) : "never") },
      { title: "Warn / error after", get: (t) => (t.warn_after || "–") + " / " + (t.error_after || "–") },
    ], o.stale_tables, { empty: "Every table with a freshness policy is fresh.", label: "Stale tables" }));
    fill("#updated", "updated " + new Date().toLocaleTimeString());
  }

  rat.start(async () => {
    await load();
    setInterval(() => load().catch(() => {}), 5000);
  });
})();
