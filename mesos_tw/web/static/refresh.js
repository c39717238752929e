// Keeps a page current: polls the metrics snapshot and updates every element
// that names a metric, and every few seconds fetches the page again and
// swaps in each element marked data-refresh (tables, the chart).  When this
// master stops leading, the page reloads: a standby sends it to the leader.
(function () {
  "use strict";
  function format(value, kind) {
    if (kind === "duration") {
      var s = Math.floor(value), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
      return (h ? h + "h " : "") + (m ? m + "m " : "") + (s % 60) + "s";
    }
    return Math.round(value * 100) / 100;
  }
  function refreshMetrics() {
    fetch("/metrics/snapshot").then(function (r) { return r.json(); }).then(function (metrics) {
      if (metrics["master/elected"] === 0) { window.location.reload(); return; }
      document.querySelectorAll("[data-metric]").forEach(function (element) {
        var name = element.getAttribute("data-metric");
        if (name in metrics) {
          element.textContent = format(metrics[name], element.getAttribute("data-format"));
        }
      });
    }).catch(function () {});
  }
  function refreshSections() {
    fetch(window.location.pathname + window.location.search).then(function (r) {
      if (r.redirected) { window.location.href = r.url; }
      return r.text();
    }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html");
      document.querySelectorAll("[data-refresh]").forEach(function (mine) {
        var theirs = fresh.getElementById(mine.id);
        if (theirs) { mine.innerHTML = theirs.innerHTML; }
      });
    }).catch(function () {});
  }
  setInterval(refreshMetrics, 2000);
  if (document.querySelector("[data-refresh]")) { setInterval(refreshSections, 5000); }
}());
