// The live tail of a sandbox file, as Mesos's "pailer": starts near the end
// of the file and keeps reading from where it stopped, through the master's
// /ui/slaves/<id>/files/read (Mesos's {data, offset}; offset=-1 gives the size).
(function () {
  "use strict";
  var log = document.getElementById("log"), status = document.getElementById("pailer-status");
  if (!log) { return; }
  var url = log.getAttribute("data-read"), path = log.getAttribute("data-path");
  var TAIL = 50000, CHUNK = 65536, offset = null;
  function read(from, length) {
    var query = "?path=" + encodeURIComponent(path) + "&offset=" + from +
        (length === undefined ? "" : "&length=" + length);
    return fetch(url + query).then(function (r) {
      if (!r.ok) { return r.text().then(function (text) { throw new Error(text); }); }
      return r.json();
    });
  }
  function poll() {
    var start = offset === null ? read(-1).then(function (answer) {
      offset = Math.max(0, answer.offset - TAIL);
    }) : Promise.resolve();
    start.then(function () { return read(offset, CHUNK); }).then(function (answer) {
      var follow = window.innerHeight + window.scrollY >= document.body.scrollHeight - 8;
      var bytes = new TextEncoder().encode(answer.data).length;
      if (bytes) {
        log.appendChild(document.createTextNode(answer.data));
        offset = answer.offset + bytes;
        if (follow) { window.scrollTo(0, document.body.scrollHeight); }
      }
      status.textContent = "following, " + offset + " bytes";
      setTimeout(poll, bytes >= CHUNK - 3 ? 0 : 1000);
    }).catch(function (error) {
      status.textContent = "stopped: " + error.message;
      setTimeout(poll, 5000);
    });
  }
  poll();
}());
