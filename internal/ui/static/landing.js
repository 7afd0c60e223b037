// Landing: zones, their files (consumed by which run, or waiting) and
// uploads by file picker or drag and drop.
"use strict";
(function () {
  const { h, fill, api } = rat;

  async function load() {
    const data = await api("landing");
    fill("#zones", data.zones.map((z) => h("option", { value: z.zone })));
    if (!rat.$("#u-zone").value && data.zones.length) rat.$("#u-zone").value = data.zones[0].zone;
    fill("#zones-list", data.zones.length ? data.zones.map((z) => h("section", { class: "panel", "aria-label": "Zone " + z.zone },
      h("div", { class: "row spread" }, h("h2", null, "landing/" + z.zone),
        h("span", { class: "muted small" }, z.consumers.length ? ["read by ", z.consumers.map((c, i) => [i ? ", " : "", h("a", { href: "/pipelines/" + encodeURIComponent(c) }, c)])] : "no pipeline reads this zone")),
      rat.table([
        { title: "File", get: (f) => h("code", null, f.name) },
        { title: "Format", get: (f) => f.format },
        { title: "Size", num: true, get: (f) => rat.bytes(f.size) },
        { title: "Modified", get: (f) => rat.time(f.modified) },
        { title: "Status", get: (f) => h("span", { class: "badge " + (f.status === "consumed" ? "success" : f.status === "waiting" ? "queued" : "unknown") }, f.status) },
        { title: "Consumed by", get: (f) => f.consumed.map((c, i) => [i ? ", " : "", c.pipeline, " in ", h("a", { href: "/runs/" + encodeURIComponent(c.run) }, c.run)]) },
      ], z.files, { empty: "No files yet.", label: "Files of " + z.zone }))) : h("div", { class: "panel empty" }, "No landing zones: a pipeline reads one with {{ landing('zone') }}."));
  }

  async function upload(files) {
    const zone = rat.$("#u-zone").value.trim();
    if (!zone) { rat.toast("Name the zone first.", true); rat.$("#u-zone").focus(); return; }
    if (!files.length) { rat.toast("Pick or drop at least one file.", true); return; }
    const fd = new FormData();
    for (const f of files) fd.append("file", f, f.name);
    fill("#up-out", h("div", { class: "note" }, "Uploading " + files.length + " file(s) to " + zone + "…"));
    try {
      const res = await api("landing/" + encodeURIComponent(zone), { method: "POST", body: fd });
      fill("#up-out", h("div", { class: "note", role: "status" }, "Uploaded " + res.files.map((f) => f.name + " (" + rat.bytes(f.size) + ")").join(", ") + " to " + zone + ". Pipelines with a landing trigger on this zone start within seconds; others read the files on their next run."));
      await load();
    } catch (err) {
      fill("#up-out", rat.errorBox(err));
    }
  }

  rat.start(async () => {
    const canUpload = rat.can("run");
    rat.$("#upload").addEventListener("submit", (e) => { e.preventDefault(); upload(rat.$("#u-file").files); });
    const drop = rat.$("#drop");
    ["dragenter", "dragover"].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); }));
    ["dragleave", "drop"].forEach((ev) => drop.addEventListener(ev, () => drop.classList.remove("over")));
    drop.addEventListener("drop", (e) => { e.preventDefault(); if (canUpload) upload(e.dataTransfer.files); });
    drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); rat.$("#u-file").click(); } });
    if (!canUpload) {
      rat.$("#upload").querySelectorAll("input, button").forEach((x) => (x.disabled = true));
      rat.fill(drop, "Uploading needs a token with the run role.");
    }
    await load();
    setInterval(() => load().catch(() => {}), 5000);
  });
})();
