// plumb's dashboard: keeps the live region (#view) current without a
// reload, from server-sent events, or by polling its fragment when the
// stream cannot be opened or stays silent (a proxy that buffers it);
// shows times as "N s ago". Reads only; changes nothing.
(function () {
  "use strict";
  var view = document.getElementById("view");
  var badge = document.getElementById("live");

  function ago(text) {
    var then = Date.parse(text);
    if (isNaN(then)) return "";
    var s = Math.max(0, Math.round((Date.now() - then) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }
  function times() {
    var all = document.querySelectorAll("time[datetime]");
    for (var i = 0; i < all.length; i++) {
      var t = all[i], when = ago(t.getAttribute("datetime"));
      if (when && t.textContent !== when) {
        t.title = t.getAttribute("datetime");
        t.textContent = when;
      }
    }
  }
  times();
  setInterval(times, 5000);
  if (!view || !view.dataset.events || !badge) return;

  function mark(state, text) {
    badge.className = "live " + state;
    badge.textContent = text;
  }
  function show(html) {
    // Messages the reader opened stay open.
    var opened = {}, i, summaries = view.querySelectorAll("details[open] > summary");
    for (i = 0; i < summaries.length; i++) opened[summaries[i].textContent] = true;
    // The server escaped every value in it.
    view.innerHTML = html;
    summaries = view.querySelectorAll("details > summary");
    for (i = 0; i < summaries.length; i++) {
      if (opened[summaries[i].textContent]) summaries[i].parentNode.open = true;
    }
    times();
  }
  var polling = false;
  function poll() {
    if (polling) return;
    polling = true;
    var tick = function () {
      fetch(view.dataset.fragment, { cache: "no-store", credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (html) { show(html); mark("polling", "polling every 2 s"); })
        .catch(function () { mark("offline", "agent unreachable"); })
        .then(function () { setTimeout(tick, 2000); });
    };
    tick();
  }
  if (!window.EventSource) { poll(); return; }
  var source = new EventSource(view.dataset.events);
  var heard = false;
  // The first event is sent at once: silence means a buffering proxy.
  var silent = setTimeout(function () { if (!heard) { source.close(); poll(); } }, 4000);
  source.addEventListener("view", function (e) {
    heard = true;
    clearTimeout(silent);
    mark("on", "live");
    show(e.data);
  });
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED) { clearTimeout(silent); poll(); }
    else mark("polling", "reconnecting");
  };
})();
