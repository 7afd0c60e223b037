// rat UI core: API calls, DOM building, formatting, the theme switch and
// SQL highlighting. Every page script uses window.rat. Text from the API is
// only ever inserted as text nodes (never as HTML).
"use strict";
(function () {
  const body = document.body;
  const rat = {
    page: body.dataset.page,
    param: body.dataset.param,
    role: body.dataset.role,
    branch: body.dataset.branch || "main",
  };
  window.rat = rat;

  // can reports whether the signed-in role may do something that needs role.
  const rank = { read: 1, run: 2, admin: 3 };
  rat.can = (need) => (rank[rat.role] || 0) >= rank[need];

  // api calls the JSON API. The session cookie authenticates; the X-Rat-UI
  // header is what lets a cookie-authenticated request change anything.
  rat.api = async function (path, opts) {
    opts = opts || {};
    const headers = { "X-Rat-UI": "1" };
    let reqBody = opts.body;
    if (reqBody !== undefined && !(reqBody instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      reqBody = JSON.stringify(reqBody);
    }
    const resp = await fetch("/api/v1/" + path, { method: opts.method || "GET", headers, body: reqBody, credentials: "same-origin", signal: opts.signal });
    if (resp.status === 401) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      throw new Error("signed out");
    }
    if (opts.raw) return resp;
    const text = await resp.text();
    let data = null;
    if (text) {
      try { data = rat.parseJSON(text); } catch (e) { data = { error: { message: text } }; }
    }
    if (!resp.ok) {
      const err = new Error((data && data.error && data.error.message) || resp.status + " " + resp.statusText);
      err.status = resp.status;
      err.data = data;
      throw err;
    }
    return data;
  };

  // parseJSON keeps integers beyond 2^53 (snapshot ids, BIGINT values)
  // exact, as strings, where the browser gives the reviver the source text.
  rat.parseJSON = (text) => JSON.parse(text, (k, v, ctx) =>
    typeof v === "number" && !Number.isSafeInteger(v) && ctx && typeof ctx.source === "string" && /^-?\d+$/.test(ctx.source) ? ctx.source : v);

  // h builds an element: h("a", {href: "/x", class: "y"}, "text", child…).
  rat.h = function (tag, attrs) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const k in attrs) {
        const v = attrs[k];
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
        else if (k === "text") el.textContent = v;
        else el.setAttribute(k, v === true ? "" : v);
      }
    }
    for (let i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  };
  function append(el, c) {
    if (c === undefined || c === null || c === false) return;
    if (Array.isArray(c)) { c.forEach((x) => append(el, x)); return; }
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  const svgNS = "http://www.w3.org/2000/svg";
  rat.s = function (tag, attrs) {
    const el = document.createElementNS(svgNS, tag);
    for (const k in attrs || {}) {
      if (k.startsWith("on")) el.addEventListener(k.slice(2), attrs[k]);
      else if (k === "text") el.textContent = attrs[k];
      else el.setAttribute(k, attrs[k]);
    }
    for (let i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  };
  rat.$ = (sel, root) => (root || document).querySelector(sel);
  rat.fill = function (el, ...children) {
    if (typeof el === "string") el = rat.$(el);
    el.replaceChildren();
    children.forEach((c) => append(el, c));
    return el;
  };

  rat.badge = (status) => rat.h("span", { class: "badge " + (status || "unknown") }, status || "unknown");
  rat.errorBox = (err) => rat.h("div", { class: "error", role: "alert" }, err && err.message ? err.message : String(err));
  rat.empty = (text) => rat.h("div", { class: "empty" }, text);

  rat.toast = function (text, bad) {
    const t = rat.h("div", { class: bad ? "bad" : "" }, text);
    rat.$("#toast").appendChild(t);
    setTimeout(() => t.remove(), bad ? 8000 : 4000);
  };

  // runColumns are the columns of a list of runs; extra ones go before
  // the times.
  rat.runColumns = function (extra) {
    return [
      { title: "Run", get: (r) => rat.h("a", { href: "/runs/" + encodeURIComponent(r.id) }, r.id) },
      { title: "Status", get: (r) => rat.badge(r.status) },
      { title: "Branch", get: (r) => r.target },
      { title: "Trigger", get: (r) => r.trigger },
      ...(extra || []),
      { title: "Started", get: (r) => rat.time(r.started) },
      { title: "Took", num: true, get: (r) => (r.finished ? rat.secs((new Date(r.finished) - new Date(r.started)) / 1000) : "…") },
    ];
  };

  // table renders rows as a data table: cols is [{title, num, get(row)}].
  rat.table = function (cols, rows, opts) {
    opts = opts || {};
    if (!rows.length) return rat.empty(opts.empty || "Nothing here yet.");
    return rat.h("table", { class: "data", "aria-label": opts.label || null },
      rat.h("thead", null, rat.h("tr", null, cols.map((c) => rat.h("th", { class: c.num ? "num" : null, scope: "col" }, c.title)))),
      rat.h("tbody", null, rows.map((r) => rat.h("tr", opts.rowAttrs ? opts.rowAttrs(r) : null,
        cols.map((c) => rat.h("td", { class: c.num ? "num" : null }, c.get(r)))))));
  };

  // formatting
  rat.bytes = function (n) {
    if (n === undefined || n === null) return "";
    const u = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + u[i];
  };
  rat.num = (n) => (n === undefined || n === null ? "" : Number(n).toLocaleString("en-US"));
  rat.secs = function (s) {
    if (s === undefined || s === null) return "";
    if (s < 1) return Math.round(s * 1000) + " ms";
    if (s < 60) return s.toFixed(1) + " s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + " m " + Math.round(s % 60) + " s";
    return Math.floor(m / 60) + " h " + (m % 60) + " m";
  };
  rat.ago = function (t) {
    if (!t) return "";
    const d = (Date.now() - new Date(t).getTime()) / 1000;
    if (d < 5) return "just now";
    if (d < 60) return Math.round(d) + " s ago";
    if (d < 3600) return Math.round(d / 60) + " min ago";
    if (d < 86400) return Math.round(d / 3600) + " h ago";
    return Math.round(d / 86400) + " d ago";
  };
  rat.time = (t) => (t ? rat.h("time", { datetime: t, title: new Date(t).toLocaleString() }, rat.ago(t)) : "");
  rat.short = (id) => (id ? String(id).slice(0, 10) : "");
  rat.qs = (k) => new URLSearchParams(location.search).get(k);

  // cellText shows a query value by its SQL type: DATE without a time,
  // nested values as JSON.
  rat.numeric = (t) => /^(TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|DECIMAL|NUMERIC)/i.test(t || "");
  rat.cellText = function (v, type) {
    if (v === null || v === undefined) return "null";
    if (typeof v === "object") return JSON.stringify(v);
    if (/^DATE$/i.test(type || "") && typeof v === "string") return v.replace(/T00:00:00(\.0+)?Z$/, "");
    return String(v);
  };
  // grid renders a query result ({columns, rows}) as a typed table.
  rat.grid = function (res, label) {
    const cols = res.columns;
    return h("table", { class: "data", "aria-label": label },
      h("thead", null, h("tr", null, cols.map((c) => h("th", { scope: "col", class: rat.numeric(c.type) ? "num" : null }, c.name, h("span", { class: "type" }, c.type))))),
      h("tbody", null, res.rows.map((r) => h("tr", null, r.map((v, i) => h("td", { class: v === null ? "null" : rat.numeric(cols[i].type) ? "num" : null }, rat.cellText(v, cols[i].type)))))));
  };
  const h = rat.h;

  // branches fills a <select> with the branches (and tags), the current
  // one selected.
  rat.refOptions = async function (select, current, withTags) {
    const [b, t] = await Promise.all([rat.api("branches"), withTags ? rat.api("tags") : { tags: [] }]);
    const opts = b.branches.map((r) => rat.h("option", { value: r.name, selected: r.name === current }, r.name));
    t.tags.forEach((r) => opts.push(rat.h("option", { value: r.name, selected: r.name === current }, "tag " + r.name)));
    rat.fill(select, opts);
    return b.branches;
  };

  // SQL highlighting: a small tokenizer, enough for reading and editing.
  const kw = new Set(("select from where group by order having limit offset join left right full inner outer cross on using as and or not in is null " +
    "case when then else end distinct union all except intersect with insert into values update set delete create table view replace " +
    "if exists asc desc between like ilike true false cast over partition window rows range qualify filter interval date timestamp " +
    "primary key merge matched returning lateral unnest any some natural semi anti pivot unpivot describe show summarize").split(" "));
  rat.highlight = function (sql) {
    const out = document.createDocumentFragment();
    const re = /(--[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|(\{\{[\s\S]*?(?:\}\}|$)|\{%[\s\S]*?(?:%\}|$))|('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)(?=\s*\()|([A-Za-z_][A-Za-z0-9_]*)/g;
    let last = 0, m;
    while ((m = re.exec(sql))) {
      if (m.index > last) out.appendChild(document.createTextNode(sql.slice(last, m.index)));
      let cls = null;
      if (m[1]) cls = "tok-com";
      else if (m[2]) cls = "tok-tpl";
      else if (m[3]) cls = "tok-str";
      else if (m[5]) cls = "tok-num";
      else if (m[6]) cls = kw.has(m[6].toLowerCase()) ? "tok-kw" : "tok-fn";
      else if (m[7] && kw.has(m[7].toLowerCase())) cls = "tok-kw";
      out.appendChild(cls ? rat.h("span", { class: cls }, m[0]) : document.createTextNode(m[0]));
      last = re.lastIndex;
    }
    if (last < sql.length) out.appendChild(document.createTextNode(sql.slice(last)));
    return out;
  };
  rat.code = (sql, label) => rat.h("pre", { class: "code", tabindex: "0", "aria-label": label || "SQL" }, rat.h("code", null, rat.highlight(sql || "")));

  // editor turns a .editor (a <pre> under a <textarea>) into a highlighted
  // SQL editor; onRun is called on Ctrl/Cmd-Enter.
  rat.editor = function (wrap, onRun) {
    const ta = wrap.querySelector("textarea"), pre = wrap.querySelector("pre");
    const paint = () => { rat.fill(pre, rat.highlight(ta.value + "\n")); pre.scrollTop = ta.scrollTop; pre.scrollLeft = ta.scrollLeft; };
    ta.addEventListener("input", paint);
    ta.addEventListener("scroll", () => { pre.scrollTop = ta.scrollTop; pre.scrollLeft = ta.scrollLeft; });
    ta.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); onRun(); }
      else if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
        // Tab indents; Escape then Tab leaves the editor.
        if (ta.dataset.escaped) { delete ta.dataset.escaped; return; }
        e.preventDefault();
        ta.setRangeText("  ", ta.selectionStart, ta.selectionEnd, "end");
        paint();
      } else if (e.key === "Escape") ta.dataset.escaped = "1";
    });
    paint();
    return { get: () => ta.value, set: (v) => { ta.value = v; paint(); }, focus: () => ta.focus() };
  };

  // download saves text as a file.
  rat.download = function (name, text, type) {
    const url = URL.createObjectURL(new Blob([text], { type: type || "text/plain" }));
    const a = rat.h("a", { href: url, download: name, class: "hidden" });
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 1000);
  };

  // theme: system (default), light or dark, remembered in this browser.
  const themes = ["system", "light", "dark"];
  const themeBtn = document.getElementById("theme");
  function applyTheme(t) {
    if (t === "system") document.documentElement.removeAttribute("data-theme");
    else document.documentElement.setAttribute("data-theme", t);
    themeBtn.setAttribute("aria-label", "Colour theme: " + (t === "system" ? "follows the system" : t) + " (click to change)");
    themeBtn.title = themeBtn.getAttribute("aria-label");
  }
  let theme = localStorage.getItem("rat-theme") || "system";
  if (!themes.includes(theme)) theme = "system";
  applyTheme(theme);
  themeBtn.addEventListener("click", () => {
    theme = themes[(themes.indexOf(theme) + 1) % themes.length];
    localStorage.setItem("rat-theme", theme);
    applyTheme(theme);
  });

  // Pages call rat.start(fn): fn runs once the DOM is ready; a thrown
  // error is shown in the page rather than lost.
  rat.start = function (fn) {
    const run = () => Promise.resolve().then(fn).catch((err) => {
      if (err && err.message === "signed out") return;
      const main = document.getElementById("main");
      main.prepend(rat.errorBox(err));
    });
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
    else run();
  };
})();
