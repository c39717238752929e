// Keeps the dashboard current: polls the metrics snapshot and updates every
// element that names a metric, and reloads the tables every few seconds.
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
      document.querySelectorAll("[data-metric]").forEach(function (element) {
        var name = element.getAttribute("data-metric");
        if (name in metrics) {
          element.textContent = format(metrics[name], element.getAttribute("data-format"));
        }
      });
    }).catch(function () {});
  }
  function refreshTables() {
    fetch(window.location.pathname).then(function (r) { return r.text(); }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html");
      ["frameworks", "slaves", "tasks", "resources", "completed"].forEach(function (id) {
        var mine = document.getElementById(id), theirs = fresh.getElementById(id);
        if (mine && theirs) { mine.innerHTML = theirs.innerHTML; }
      });
    }).catch(function () {});
  }
  setInterval(refreshMetrics, 2000);
  setInterval(refreshTables, 5000);
}());
