// jumpcast recording page: creates the asciinema player from the data-*
// attributes the server put on #player. Loaded as a file (no inline script)
// so that the CSP can forbid inline code.
(function () {
  "use strict";
  var box = document.getElementById("player");
  if (!box || !window.AsciinemaPlayer) return;

  var speedSel = document.getElementById("speed");
  var idleSel = document.getElementById("idle");
  var state = { player: null, speed: 1, idle: Number(box.dataset.idle || 2) };
  // ?t=SECONDS (a link from "jumpcast recordings grep") opens the player at
  // that moment of the recording; the idle limit is off so that the
  // player's time is the recording's.
  var startAt = Number(box.dataset.start || 0);
  if (startAt > 0) {
    state.idle = 0;
    if (idleSel) idleSel.value = "0";
  }

  function setState(s) { box.dataset.state = s; }

  // The cast is fetched once per page view (one playback audit event) and
  // kept, so changing speed or idle limit does not fetch it again.
  var cast = null;
  function loadCast() {
    if (!cast) {
      cast = fetch(box.dataset.src, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Error("recording: HTTP " + r.status);
        return r.text();
      });
      cast.catch(function () { cast = null; });
    }
    return cast;
  }

  function source() {
    if (box.dataset.live) {
      return { driver: "eventsource", url: box.dataset.live };
    }
    return { data: loadCast };
  }

  function create(startAt, autoPlay) {
    var opts = {
      cols: Number(box.dataset.cols) || undefined,
      rows: Number(box.dataset.rows) || undefined,
      fit: "width",
      controls: true,
      preload: true,
      autoPlay: !!autoPlay,
      speed: state.speed,
      terminalFontFamily: "\"DejaVu Sans Mono\", ui-monospace, monospace"
    };
    if (!box.dataset.live) {
      if (state.idle > 0) opts.idleTimeLimit = state.idle;
      if (startAt) opts.startAt = startAt;
    }
    var p = window.AsciinemaPlayer.create(source(), box, opts);
    ["ready", "play", "playing", "pause", "ended", "offline", "error", "seeked"].forEach(function (ev) {
      p.addEventListener(ev, function () { setState(ev); });
    });
    if (box.dataset.live) {
      p.addEventListener("ended", function () {
        var note = document.getElementById("live-note");
        var done = document.getElementById("live-ended");
        if (note) note.hidden = true;
        if (done) done.hidden = false;
      });
    }
    state.player = p;
    window.jumpcastPlayer = p; // for the browser test and the curious
    return p;
  }

  function recreate() {
    var p = state.player;
    var at = 0;
    if (p && p.getCurrentTime) {
      var t = p.getCurrentTime();
      at = typeof t === "number" ? t : 0;
    }
    if (p) p.dispose();
    box.textContent = "";
    create(at, true);
  }

  if (speedSel) {
    speedSel.addEventListener("change", function () {
      state.speed = Number(speedSel.value) || 1;
      recreate();
    });
  }
  if (idleSel) {
    idleSel.addEventListener("change", function () {
      state.idle = Number(idleSel.value);
      recreate();
    });
  }
  setState("loading");
  var first = create(0, !!box.dataset.live);
  if (startAt > 0 && !box.dataset.live) {
    // startAt alone waits for a play; seeking shows the moment paused.
    Promise.resolve(first.seek(startAt)).catch(function () {});
  }
})();
