// Loaded before the page paints (no defer), so a chosen theme shows from
// the first frame; core.js runs the theme button.
"use strict";
(function () {
  const t = localStorage.getItem("rat-theme");
  if (t === "light" || t === "dark") document.documentElement.setAttribute("data-theme", t);
})();
