// Progressive help only: every page works without this file.
// - Ages ("12 min") keep counting while the page is open.
// - Pages marked data-refresh reload themselves, unless someone is typing into a form.
(function () {
  "use strict";
  function span(ms) {
    var min = Math.max(0, Math.floor(ms / 60000));
    var d = Math.floor(min / 1440), h = Math.floor(min / 60) % 24, m = min % 60;
    if (d > 0) return d + " d " + h + " h";
    if (h > 0) return h + " h " + m + " min";
    return m === 0 ? "under a minute" : m + " min";
  }
  function ages() {
    var now = Date.now();
    document.querySelectorAll("time[data-age]").forEach(function (t) {
      var at = Date.parse(t.getAttribute("datetime"));
      if (!isNaN(at)) t.textContent = span(now - at);
    });
  }
  function typing() {
    var a = document.activeElement;
    if (a && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName)) return true;
    return Array.prototype.some.call(document.querySelectorAll("textarea, input:not([type=hidden])"),
      function (f) { return f.value !== "" && f.defaultValue !== f.value; });
  }
  document.addEventListener("DOMContentLoaded", function () {
    setInterval(ages, 30000);
    var every = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
    if (every > 0) {
      setInterval(function () { if (!typing() && !document.hidden) location.reload(); }, every * 1000);
    }
  });
})();
