// Run page: status, a Gantt timeline of the nodes, per-node rows, bytes and
// duration, test results with sample violating rows, live logs; cancel and
// retry the failed part.
"use strict";
(function () {
  const { h, s, fill, api } = rat;
  const id = rat.param;
  let run = null;
  let lastSeq = 0;
  let logsDone = false;

  const live = (st) => st === "running" || st === "queued";

  // While a run goes, its record lists no pipelines yet: the log lines of
  // nodes starting and finishing (pipeline.EventLine) draw the timeline
  // until the record has them.
  const logNodes = new Map();
  function noteLog(l) {
    if (!l.pipeline) return;
    let n = logNodes.get(l.pipeline);
    const at = new Date(l.at).getTime();
    if (l.message === "build started") {
      logNodes.set(l.pipeline, { pipeline: l.pipeline, status: "running", started: l.at, duration: 0, rows: 0, files: 0 });
      return;
    }
    if (!n) return;
    const done = (status) => { n.status = status; n.duration = (at - new Date(n.started).getTime()) / 1000; };
    const m = /^built \(([^)]*)\)(?:: (\d+) rows, (\d+) files)?/.exec(l.message);
    if (m) { done("success"); n.kind = m[1]; n.rows = Number(m[2] || 0); n.files = Number(m[3] || 0); }
    else if (l.message.startsWith("failed: ")) { done("failed"); n.error = l.message.slice(8); }
    else if (l.message.startsWith("skipped: ")) { done("skipped"); }
  }
  const nodesOf = (r) => (r.nodes && r.nodes.length ? r.nodes : [...logNodes.values()]);

  function gantt(nodes) {
    const built = nodes.filter((n) => n.started);
    if (!built.length) return rat.empty(live(run.status) ? "Waiting for the first pipeline to start…" : "No pipeline was built.");
    const t0 = Math.min(...built.map((n) => new Date(n.started).getTime()));
    const end = (n) => (n.status === "running" ? Date.now() : new Date(n.started).getTime() + n.duration * 1000);
    const t1 = Math.max(t0 + 1, ...built.map(end));
    const W = 1000, left = 200, rowH = 22;
    const x = (t) => left + ((t - t0) / (t1 - t0)) * (W - left - 70);
    const H = built.length * rowH + 24;
    const g = s("svg", { class: "gantt", viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "Timeline of " + built.length + " pipelines over " + rat.secs((t1 - t0) / 1000) });
    built.forEach((n, i) => {
      const y = i * rowH + 4;
      const a = x(new Date(n.started).getTime()), b = Math.max(a + 3, x(end(n)));
      g.appendChild(s("text", { x: 4, y: y + 14, text: n.pipeline }));
      g.appendChild(s("rect", { class: "bar " + n.status, x: a, y: y + 3, width: b - a, height: rowH - 8, rx: 3 },
        s("title", { text: n.pipeline + ": " + n.status + ", " + rat.secs(n.duration) })));
      g.appendChild(s("text", { x: b + 6, y: y + 14, text: rat.secs(n.status === "running" ? (Date.now() - new Date(n.started)) / 1000 : n.duration) }));
    });
    g.appendChild(s("line", { class: "axis", x1: left, x2: W - 70, y1: H - 16, y2: H - 16 }));
    g.appendChild(s("text", { x: left, y: H - 2, text: "0 s" }));
    g.appendChild(s("text", { x: W - 110, y: H - 2, text: rat.secs((t1 - t0) / 1000) }));
    return g;
  }

  // nodeFailure shows why a pipeline failed: the error, the file and line
  // it points at (linked to the pipeline) and the SQL around that line.
  function nodeFailure(n) {
    const where = n.file ? n.file + (n.line ? ":" + n.line : "") : "";
    return h("div", { class: "node-failure", "data-pipeline": n.pipeline },
      h("div", { class: "error", role: "alert" },
        h("a", { href: "/pipelines/" + encodeURIComponent(n.pipeline) }, n.pipeline), " failed",
        where ? [" at ", h("code", null, where)] : null, ": ", n.error),
      n.excerpt ? h("pre", { class: "code small excerpt", "aria-label": "SQL around the failing line" }, n.excerpt) : null);
  }

  function render() {
    fill("#status", rat.badge(run.status));
    const took = run.duration ? rat.secs(run.duration) : run.started ? rat.secs((Date.now() - new Date(run.started)) / 1000) : "";
    const nodes = nodesOf(run);
    const stat = (label, v) => h("div", null, h("div", { class: "muted small" }, label), h("div", { class: "stat" }, v));
    fill("#summary",
      // A maintenance run has no target and no run branch.
      run.maintenance ? null : stat("Branch", run.target || ""),
      run.maintenance ? null : stat("Run branch", h("code", null, run.run_branch || "")),
      stat("Trigger", run.trigger || ""),
      run.maintenance ? stat("Maintenance task", run.maintenance.task) : null,
      stat("Started", run.started ? rat.time(run.started) : ""),
      stat("Duration", took),
      stat("Pipelines", nodes.length),
      stat("Rows written", rat.num(nodes.reduce((a, n) => a + (n.rows || 0), 0))),
      run.commit ? stat("Published commit", h("code", { title: run.commit }, rat.short(run.commit))) : null);
    fill("#run-error", run.error ? rat.errorBox(run.error) : null,
      run.maintenance && run.maintenance.summary ? h("p", { id: "maintenance" }, "Maintenance task " + run.maintenance.task + ": " + run.maintenance.summary) : null,
      nodes.filter((n) => n.status === "failed" && n.error).map(nodeFailure),
      run.status === "failed" && run.run_branch ? h("p", null, "The run branch keeps what this run built before it stopped: ",
        h("a", { href: "/branches?from=" + encodeURIComponent(run.run_branch) + "&to=" + encodeURIComponent(run.target) }, "compare " + run.run_branch + " with " + run.target)) : null,
      run.status === "success" && run.base && run.commit ? h("p", { id: "changed" }, "What this run changed in " + run.target + ": ",
        h("a", { href: "/branches?from=" + encodeURIComponent(run.commit) + "&to=" + encodeURIComponent(run.base) }, "compare the published commit " + rat.short(run.commit) + " with " + rat.short(run.base) + ", where the run started")) : null);
    fill("#gantt", gantt(nodes));
    fill("#nodes", rat.table([
      // A maintenance run's one node is its task, not a pipeline.
      { title: "Pipeline", get: (n) => (n.kind === "maintenance" ? n.pipeline : h("a", { href: "/pipelines/" + encodeURIComponent(n.pipeline) }, n.pipeline)) },
      { title: "Status", get: (n) => rat.badge(n.status) },
      { title: "Kind", get: (n) => n.kind || "" },
      // A view stores SQL, not rows: "view", never "0 rows".
      { title: "Rows", num: true, get: (n) => (n.status === "running" ? "" : n.kind === "view" ? "view" : rat.num(n.rows)) },
      { title: "Files", num: true, get: (n) => (n.status === "running" || n.kind === "view" ? "" : rat.num(n.files)) },
      { title: "Bytes", num: true, get: (n) => (n.status === "running" || n.kind === "view" ? "" : rat.bytes(n.bytes)) },
      { title: "Duration", num: true, get: (n) => (n.status === "running" ? rat.secs((Date.now() - new Date(n.started)) / 1000) + " …" : n.started || n.duration ? rat.secs(n.duration) : "") },
      { title: "Error", get: (n) => (n.error ? h("span", { class: "error" }, n.error) : "") },
    ], nodes, { empty: "No pipelines yet.", label: "Pipelines of the run" }));
    const tests = run.tests || [];
    fill("#tests", rat.table([
      { title: "Test", get: (t) => t.pipeline + " · " + t.name },
      { title: "Kind", get: (t) => t.kind + (t.severity ? " (" + t.severity + ")" : "") },
      { title: "Status", get: (t) => h("span", { class: "badge " + (t.status === "fail" && t.severity === "warn" ? "warn" : t.status) }, t.status) },
      { title: "Violations", num: true, get: (t) => rat.num(t.violations) },
      { title: "Sample violating rows", get: (t) => (t.sample && t.sample.length ? h("pre", { class: "code small" }, t.sample.join("\n")) : t.error ? h("span", { class: "error" }, t.error) : "") },
    ], tests, { empty: "No tests ran.", label: "Test results" }));
    const canRun = rat.can("run");
    rat.$("#cancel").classList.toggle("hidden", !(live(run.status) && canRun));
    const failed = nodes.filter((n) => n.status === "failed" || n.status === "skipped").map((n) => n.pipeline);
    // A maintenance run's task is no pipeline to run again.
    rat.$("#retry").classList.toggle("hidden", !(canRun && !live(run.status) && failed.length && !run.maintenance));
    rat.$("#retry").dataset.selectors = JSON.stringify(failed);
  }

  async function poll() {
    try {
      run = await api("runs/" + encodeURIComponent(id));
    } catch (err) {
      if (err.status !== 404) throw err;
      run = { status: "queued", nodes: [], tests: [] }; // recorded in a moment
    }
    render();
    if (live(run.status)) setTimeout(() => poll().catch(showErr), 1000);
  }
  const showErr = (err) => rat.toast(err.message, true);

  // followLogs reads the NDJSON log stream, resuming after the last line
  // when the connection ends before the run does.
  async function followLogs() {
    const pre = rat.$("#logs");
    fill("#log-state", "following…");
    while (!logsDone) {
      let resp;
      try {
        resp = await api("runs/" + encodeURIComponent(id) + "/logs?follow=true&after=" + lastSeq, { raw: true });
      } catch (e) {
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (resp.ok && resp.body) {
        const reader = resp.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (!line.trim()) continue;
            const l = rat.parseJSON(line);
            lastSeq = Math.max(lastSeq, l.seq);
            noteLog(l);
            if (run && live(run.status)) render();
            const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
            pre.appendChild(h("div", { class: l.level }, new Date(l.at).toLocaleTimeString() + "  " + (l.pipeline ? l.pipeline + "  " : "") + l.message));
            if (stick) pre.scrollTop = pre.scrollHeight;
          }
        }
      }
      if (run && !live(run.status)) logsDone = true;
      else await new Promise((r) => setTimeout(r, 1000));
    }
    if (!pre.childNodes.length) pre.appendChild(h("div", { class: "muted" }, "No log lines."));
    fill("#log-state", "complete");
  }

  rat.start(async () => {
    rat.$("#cancel").addEventListener("click", async () => {
      if (!confirm("Cancel run " + id + "? Its target branch stays untouched.")) return;
      try {
        await api("runs/" + encodeURIComponent(id) + "/cancel", { method: "POST" });
        rat.toast("Cancelling run " + id);
      } catch (err) { showErr(err); }
    });
    rat.$("#retry").addEventListener("click", async () => {
      try {
        const r = await api("runs", { method: "POST", body: { selectors: JSON.parse(rat.$("#retry").dataset.selectors), branch: run.target } });
        location.href = "/runs/" + encodeURIComponent(r.id);
      } catch (err) { showErr(err); }
    });
    await poll();
    followLogs().catch(showErr);
  });
})();
