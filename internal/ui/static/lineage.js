// Lineage: the workspace DAG as an SVG. Layers are columns (landing →
// bronze → silver → gold → other layers), a layer's internal dependencies
// become sub-columns, rows are ordered by the barycentre of neighbours to
// cut crossings. Pan by dragging, zoom with the wheel or the buttons,
// search to highlight; click opens a node, Shift-click selects it to run.
"use strict";
(function () {
  const { h, s, fill, api } = rat;
  const W = 190, H = 26, GAP_Y = 8, GAP_X = 70, LAYER_GAP = 50, TOP = 40;
  const MAX_ROWS = 40; // a taller column wraps, so big graphs fit a screen
  const order = ["landing", "bronze", "silver", "gold"];
  let view = { x: 0, y: 0, k: 1 };
  let root, svg, bounds = { w: 1, h: 1 };
  const selected = new Set();
  let nodesByKey = {};

  function layout(lin) {
    const nodes = lin.nodes.map((n) => Object.assign({ group: n.kind === "landing" ? "landing" : n.layer || "other", ins: [], outs: [] }, n));
    nodesByKey = {};
    nodes.forEach((n) => (nodesByKey[n.key] = n));
    lin.edges.forEach((e) => {
      const a = nodesByKey[e.from], b = nodesByKey[e.to];
      if (a && b) { a.outs.push(b); b.ins.push(a); }
    });
    const groups = [...new Set(nodes.map((n) => n.group))].sort((a, b) => {
      const ia = order.indexOf(a), ib = order.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
    });
    // depth inside the group: the longest chain of same-group parents.
    const depth = (n, seen) => {
      if (n.depth !== undefined) return n.depth;
      if (seen.has(n)) return 0; // a cycle cannot load, but never loop
      seen.add(n);
      n.depth = Math.max(0, ...n.ins.filter((p) => p.group === n.group).map((p) => depth(p, seen) + 1));
      return n.depth;
    };
    nodes.forEach((n) => depth(n, new Set()));
    // One column per (layer, depth); x comes after ordering, because a
    // column taller than MAX_ROWS wraps into several.
    const columns = [];
    groups.forEach((g) => {
      const members = nodes.filter((n) => n.group === g);
      const maxD = Math.max(...members.map((n) => n.depth));
      for (let d = 0; d <= maxD; d++) {
        const col = members.filter((n) => n.depth === d).sort((a, b) => a.name.localeCompare(b.name));
        col.group = g;
        columns.push(col);
      }
    });
    const place = () => columns.forEach((col) => col.forEach((n, i) => { n.row = i; n.y = TOP + i * (H + GAP_Y); }));
    place();
    // Barycentre sweeps: right (by parents) then left (by children).
    const bary = (list) => (list.length ? list.reduce((a, p) => a + p.row / Math.max(1, p.colLen), 0) / list.length : null);
    columns.forEach((col) => col.forEach((n) => (n.colLen = col.length)));
    for (let pass = 0; pass < 4; pass++) {
      const cols = pass % 2 ? columns.slice().reverse() : columns;
      cols.forEach((col) => {
        col.forEach((n) => { const b = bary(pass % 2 ? n.outs : n.ins); n.key2 = b === null ? n.row / col.length : b; });
        col.sort((a, b) => a.key2 - b.key2);
        col.forEach((n, i) => (n.row = i));
      });
    }
    const titles = [];
    let x = 20, maxRows = 1, lastGroup = null;
    columns.forEach((col) => {
      if (col.group !== lastGroup) {
        if (lastGroup !== null) x += LAYER_GAP;
        titles.push({ text: col.group, x });
        lastGroup = col.group;
      }
      for (let start = 0; start < col.length; start += MAX_ROWS) {
        col.slice(start, start + MAX_ROWS).forEach((n, i) => { n.x = x; n.row = i; n.y = TOP + i * (H + GAP_Y); });
        maxRows = Math.max(maxRows, Math.min(MAX_ROWS, col.length - start));
        x += W + GAP_X;
      }
    });
    bounds = { w: x, h: TOP + maxRows * (H + GAP_Y) };
    return { nodes, edges: lin.edges, titles };
  }

  function draw(g, status) {
    root = s("g");
    const edges = s("g");
    g.edges.forEach((e) => {
      const a = nodesByKey[e.from], b = nodesByKey[e.to];
      if (!a || !b) return;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
      const p = s("path", { class: "edge", d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` });
      p.dataset.from = e.from; p.dataset.to = e.to;
      edges.appendChild(p);
    });
    root.appendChild(edges);
    g.titles.forEach((t) => root.appendChild(s("text", { class: "layer-title", x: t.x, y: 22, text: t.text })));
    g.nodes.forEach((n) => {
      const st = n.kind === "pipeline" ? (status[n.key] ? status[n.key].status : "none") : "none";
      const label = n.kind === "landing" ? n.key : n.name;
      const el = s("g", { class: "node " + (n.kind === "landing" ? "landing " : "") + st, transform: `translate(${n.x},${n.y})`, tabindex: "0", role: "button",
        "aria-label": n.key + " (" + n.kind + (n.kind === "pipeline" ? ", last run " + (st === "none" ? "none" : st) : "") + ")" },
        s("rect", { width: W, height: H, rx: 5 }),
        s("circle", { class: "dot " + st, cx: 12, cy: H / 2, r: 4.5 }),
        s("text", { x: 22, y: H / 2 + 4, text: label.length > 24 ? label.slice(0, 23) + "…" : label }),
        s("title", { text: n.key + (n.materialized ? " · " + n.materialized : "") + (status[n.key] ? " · last run " + status[n.key].status : "") }));
      el.dataset.key = n.key;
      n.el = el;
      el.addEventListener("click", (e) => activate(n, e.shiftKey || e.ctrlKey || e.metaKey));
      const light = (on) => svg.querySelectorAll(`.edge[data-from="${CSS.escape(n.key)}"], .edge[data-to="${CSS.escape(n.key)}"]`).forEach((p) => p.classList.toggle("hl", on));
      el.addEventListener("mouseenter", () => light(true));
      el.addEventListener("mouseleave", () => light(false));
      el.addEventListener("focus", () => light(true));
      el.addEventListener("blur", () => light(false));
      el.addEventListener("keydown", (e) => {
        if (e.key === "Enter") activate(n, e.shiftKey);
        else if (e.key === " ") { e.preventDefault(); activate(n, true); }
      });
      root.appendChild(el);
    });
    svg.appendChild(root);
  }

  function recolour(status) {
    Object.values(nodesByKey).forEach((n) => {
      if (n.kind !== "pipeline") return;
      const st = status[n.key] ? status[n.key].status : "none";
      ["success", "failed", "running", "skipped", "none"].forEach((c) => {
        n.el.classList.toggle(c, c === st);
        n.el.querySelector(".dot").classList.toggle(c, c === st);
      });
      n.el.setAttribute("aria-label", n.key + " (pipeline, last run " + st + ")");
    });
  }

  function activate(n, select) {
    if (select) {
      if (n.kind !== "pipeline") return;
      if (selected.has(n.key)) selected.delete(n.key); else selected.add(n.key);
      n.el.classList.toggle("selected", selected.has(n.key));
      fill("#selected", selected.size ? selected.size + " selected: " + [...selected].slice(0, 3).join(", ") + (selected.size > 3 ? "…" : "") : "Click a node to open it; Shift-click to select.");
      rat.$("#run-selected").disabled = !selected.size || !rat.can("run");
      return;
    }
    location.href = n.kind === "pipeline" ? "/pipelines/" + encodeURIComponent(n.key) : n.kind === "landing" ? "/landing" : "/tables/" + encodeURIComponent(n.key);
  }

  function apply() { root.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`); }
  function fit() {
    const r = svg.getBoundingClientRect();
    view.k = Math.min(1.2, Math.max(0.05, Math.min(r.width / bounds.w, r.height / bounds.h)));
    view.x = (r.width - bounds.w * view.k) / 2;
    view.y = 10;
    apply();
  }
  function zoomAt(f, cx, cy) {
    const k = Math.min(4, Math.max(0.05, view.k * f));
    view.x = cx - ((cx - view.x) * k) / view.k;
    view.y = cy - ((cy - view.y) * k) / view.k;
    view.k = k;
    apply();
  }
  function centerOn(n) {
    const r = svg.getBoundingClientRect();
    view.k = Math.max(view.k, 1);
    view.x = r.width / 2 - (n.x + W / 2) * view.k;
    view.y = r.height / 2 - (n.y + H / 2) * view.k;
    apply();
  }

  function search(q) {
    q = q.trim().toLowerCase();
    let hits = [];
    Object.values(nodesByKey).forEach((n) => {
      const m = q && n.key.toLowerCase().includes(q);
      n.el.classList.toggle("match", !!m);
      n.el.classList.toggle("dim", !!q && !m);
      if (m) hits.push(n);
    });
    svg.querySelectorAll(".edge").forEach((e) => e.classList.toggle("dim", !!q));
    fill("#matches", q ? hits.length + " match" + (hits.length === 1 ? "" : "es") : "");
    return hits;
  }

  function panZoom() {
    let drag = null;
    svg.addEventListener("pointerdown", (e) => {
      if (e.target.closest(".node")) return;
      drag = { x: e.clientX - view.x, y: e.clientY - view.y };
      svg.setPointerCapture(e.pointerId);
      svg.classList.add("dragging");
    });
    svg.addEventListener("pointermove", (e) => { if (drag) { view.x = e.clientX - drag.x; view.y = e.clientY - drag.y; apply(); } });
    svg.addEventListener("pointerup", () => { drag = null; svg.classList.remove("dragging"); });
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = svg.getBoundingClientRect();
      zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    const mid = () => { const r = svg.getBoundingClientRect(); return [r.width / 2, r.height / 2]; };
    rat.$("#zoom-in").addEventListener("click", () => zoomAt(1.25, ...mid()));
    rat.$("#zoom-out").addEventListener("click", () => zoomAt(0.8, ...mid()));
    rat.$("#zoom-fit").addEventListener("click", fit);
    svg.setAttribute("tabindex", "0");
    svg.addEventListener("keydown", (e) => {
      const step = 60, m = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] }[e.key];
      if (m && e.target === svg) { e.preventDefault(); view.x += m[0]; view.y += m[1]; apply(); }
      if ((e.key === "+" || e.key === "=") && e.target === svg) zoomAt(1.25, ...mid());
      if (e.key === "-" && e.target === svg) zoomAt(0.8, ...mid());
    });
  }

  rat.start(async () => {
    svg = rat.$("#graph");
    const [lin, st] = await Promise.all([api("lineage"), api("lineage/status").catch(() => ({ pipelines: {} }))]);
    const g = layout(lin);
    const pipes = g.nodes.filter((n) => n.kind === "pipeline").length;
    fill("#count", pipes + " pipelines · " + lin.edges.length + " edges");
    if (!g.nodes.length) {
      rat.$("#wrap").replaceChildren(h("div", { class: "empty panel" }, "No pipelines yet: add SQL files under pipelines/<layer>/."));
      return;
    }
    draw(g, st.pipelines || {});
    // Colours follow runs as they go.
    setInterval(() => api("lineage/status").then((fresh) => recolour(fresh.pipelines || {})).catch(() => {}), 5000);
    panZoom();
    fit();
    const input = rat.$("#search");
    input.addEventListener("input", () => search(input.value));
    rat.$("#search-form").addEventListener("submit", (e) => { e.preventDefault(); const hits = search(input.value); if (hits.length) { centerOn(hits[0]); hits[0].el.focus(); } });
    rat.$("#run-selected").addEventListener("click", async () => {
      const w = rat.$("#with").value;
      const sel = [...selected].map((k) => (w === "up" || w === "both" ? "+" : "") + k + (w === "down" || w === "both" ? "+" : ""));
      try {
        const r = await api("runs", { method: "POST", body: { selectors: sel } });
        location.href = "/runs/" + encodeURIComponent(r.id);
      } catch (err) { rat.toast(err.message, true); }
    });
  });
})();
