// Settings: the effective configuration (secrets redacted by the server),
// the profile and the triggers.
"use strict";
(function () {
  const { h, fill, api } = rat;
  rat.start(async () => {
    const [cfg, tr] = await Promise.all([api("config").catch((e) => ({ error: e })), api("triggers").catch((e) => ({ error: e }))]);
    if (cfg.error) fill("#config", rat.errorBox(cfg.error));
    else {
      const prof = cfg.settings.find((x) => x.key === "profile" || x.key === "resources.profile");
      fill("#profile", prof ? prof.value + " (" + prof.source + ")" : "");
      fill("#config", rat.table([
        { title: "Key", get: (x) => h("code", null, x.key) },
        { title: "Value", get: (x) => h("code", null, x.value) },
        { title: "Source", get: (x) => x.source },
      ], cfg.settings, { label: "Effective configuration" }));
    }
    if (tr.error) fill("#triggers", rat.errorBox(tr.error));
    else fill("#triggers", rat.table([
      { title: "Pipeline", get: (t) => h("a", { href: "/pipelines/" + encodeURIComponent(t.pipeline) }, t.pipeline) },
      { title: "Trigger", get: (t) => h("span", null, h("strong", null, t.name), " ", t.type, " ", h("code", { class: "small" }, JSON.stringify(t.config))) },
      { title: "State", get: (t) => h("span", { class: "badge " + (t.enabled ? "ok" : "skipped") }, t.enabled ? "enabled" : "disabled") },
      { title: "", get: (t) => (rat.can("admin") ? h("button", { type: "button", "aria-label": (t.enabled ? "Disable" : "Enable") + " trigger " + t.id, onclick: async () => {
        try { await api("triggers/" + encodeURIComponent(t.id) + (t.enabled ? "/disable" : "/enable"), { method: "POST" }); location.reload(); } catch (err) { rat.toast(err.message, true); }
      } }, t.enabled ? "Disable" : "Enable") : "") },
    ], tr.triggers || [], { empty: "No pipeline declares a trigger.", label: "Triggers" }));
  });
})();
