// jumpcast recording page: an xterm.js terminal driven by player.js, with
// the page's controls: play/pause, a seek bar that shows where the output
// is and previews the screen under the pointer, markers, speed, idle
// skipping, keyboard shortcuts and full screen; or, for a running
// session, the live view. Loaded as a file (no inline script) so that the
// CSP can forbid inline code.
(function () {
  "use strict";
  var box = document.getElementById("player");
  var E = window.JumpcastEngine;
  if (!box || !window.Terminal || !E) return;

  // stylenonce.js, loaded first, lets xterm.js's <style> elements pass the CSP.

  var FONT = "\"DejaVu Sans Mono\", ui-monospace, monospace";
  var base = box.dataset.base;
  var $ = function (id) { return document.getElementById(id); };

  // newTerminal makes a terminal that only draws: no input, no scrollback
  // (the screen is all a recording shows), and links a recording embeds
  // (OSC 8) are inert, so a hostile session cannot send the auditor's
  // browser anywhere.
  function newTerminal(el, cols, rows, fontSize) {
    var term = new window.Terminal({
      cols: cols || 80, rows: rows || 24, scrollback: 0, disableStdin: true, cursorBlink: false,
      fontFamily: FONT, fontSize: fontSize, theme: { background: "#121314" },
      linkHandler: { activate: function () {}, allowNonHttpProtocols: false }
    });
    term.open(el);
    return term;
  }

  var term = newTerminal(box, Number(box.dataset.cols), Number(box.dataset.rows), 14);
  // fit sizes the font so that the recording's columns fill the box (or,
  // full screen, the screen).
  function fit() {
    var full = document.fullscreenElement === $("player-box");
    var w = box.clientWidth || 800;
    var fs = Math.floor(w / (term.cols * 0.6));
    if (full) fs = Math.min(fs, Math.floor((window.innerHeight - 60) / (term.rows * 1.2)));
    fs = Math.max(6, Math.min(full ? 40 : 18, fs));
    if (term.options.fontSize !== fs) term.options.fontSize = fs;
  }
  term.onResize(fit);
  window.addEventListener("resize", fit);
  document.addEventListener("fullscreenchange", fit);
  fit();

  function setState(s) { box.dataset.state = s; }
  function clock(t) {
    t = Math.max(0, Math.floor(t));
    var h = Math.floor(t / 3600), m = Math.floor(t / 60) % 60, s = t % 60;
    return (h ? h + ":" + (m < 10 ? "0" : "") : "") + m + ":" + (s < 10 ? "0" : "") + s;
  }

  if (box.dataset.live) {
    var live = new E.Live(term, box.dataset.live, function (l) {
      setState(l.state);
      if ($("clock")) $("clock").textContent = clock(l.t);
    }, function () {
      if ($("live-note")) $("live-note").hidden = true;
      if ($("live-ended")) $("live-ended").hidden = false;
    });
    window.jumpcastPlayer = {
      getDuration: function () { return live.t; },
      getCurrentTime: function () { return live.t; },
      screenText: function () { return live.screen.text(); }
    };
    return;
  }

  setState("loading");
  var startAt = Number(box.dataset.start || 0);
  var idleSel = $("idle"), speedSel = $("speed");
  if (startAt > 0 && idleSel) idleSel.value = "0"; // ?t=: times are the file's
  var player = null;

  E.getJSON(base + "/index").then(function (index) {
    player = new E.Player(term, base, index, update);
    player.idle = idleSel ? Number(idleSel.value) : Number(box.dataset.idle || 0);
    player.speed = speedSel ? Number(speedSel.value) || 1 : 1;
    expose(player);
    bar(player, index);
    if (startAt > 0) return player.seek(startAt, Number(box.dataset.cut || 0));
    return poster(player, index);
  }).catch(function (err) {
    setState("error");
    var el = $("player-error");
    if (el) { el.textContent = "The recording could not be loaded: " + (err && err.message || err); el.hidden = false; }
  });

  // poster shows, before play, the screen at the end of the chunk with the
  // most output; play starts from the beginning.
  function poster(p, index) {
    var best = -1, bytes = -1;
    (index.chunks || []).forEach(function (c, i) { if (c.bytes > bytes) { best = i; bytes = c.bytes; } });
    if (best < 0) { p.set("paused"); return; }
    var at = index.chunks[best].end;
    return p.seek(at).then(function () {
      if (p.t !== at) return; // the auditor moved meanwhile
      p.cur = -1;
      p.t = 0;
      p.posterAt = at;
      p.set("paused");
    });
  }

  function update(p) {
    setState(p.state === "paused" && p.posterAt !== undefined && p.cur < 0 ? "ready" : p.state);
    if (p.cur >= 0) p.posterAt = undefined;
    var pct = p.duration > 0 ? (100 * p.t / p.duration) : 0;
    $("progress").style.width = pct + "%";
    $("clock").textContent = clock(p.t) + " / " + clock(p.duration);
    var playing = p.state === "playing" || p.state === "buffering";
    var btn = $("play");
    btn.textContent = playing ? "❚❚" : "▶";
    btn.setAttribute("aria-label", playing ? "Pause" : "Play");
    if (p.state === "error") {
      var el = $("player-error");
      el.textContent = "Playback failed: " + p.error;
      el.hidden = false;
    }
  }

  function expose(p) {
    window.jumpcastPlayer = {
      getDuration: function () { return p.duration; },
      getCurrentTime: function () { return p.t; },
      seek: function (t) { return p.seek(t); },
      play: function () { return p.play(); },
      pause: function () { p.pause(); },
      screenText: function () { return p.screen.text(); },
      state: function () { return p.state; },
      // For tests and benchmarks: the terminal has drawn everything
      // written; the poster's time; the recording's chunks; those held.
      settled: function () { return p.screen.settled(); },
      posterAt: function () { return p.posterAt === undefined ? -1 : p.posterAt; },
      chunkCount: function () { return p.chunks.length; },
      chunksHeld: function () { return Object.keys(p.cache).length; }
    };
  }

  function markerJump(p, dir) {
    var ms = (p.index.markers || []).map(function (m) { return m.at; });
    var t = p.t, next = null;
    ms.forEach(function (at) {
      if (dir > 0 && at > t + 0.01 && (next === null || at < next)) next = at;
      if (dir < 0 && at < t - 0.5 && (next === null || at > next)) next = at;
    });
    if (next !== null) p.seek(next);
  }

  function fullscreen() {
    var el = $("player-box");
    if (document.fullscreenElement) document.exitFullscreen(); else if (el.requestFullscreen) el.requestFullscreen();
  }

  // bar wires the controls: the seek bar with its activity graph, markers
  // and preview, the buttons, the selects and the keyboard.
  function bar(p, index) {
    var el = $("bar");
    drawActivity($("activity"), index);
    window.addEventListener("resize", function () { drawActivity($("activity"), index); });
    var marks = $("markers");
    (index.markers || []).forEach(function (m) {
      var d = document.createElement("div");
      d.className = "marker";
      d.title = m.label;
      d.dataset.at = m.at;
      d.style.left = (p.duration > 0 ? 100 * m.at / p.duration : 0) + "%";
      marks.appendChild(d);
    });
    var timeAt = function (e) {
      var r = el.getBoundingClientRect();
      return Math.max(0, Math.min(1, (e.clientX - r.left) / r.width)) * p.duration;
    };
    var dragging = false;
    el.addEventListener("pointerdown", function (e) {
      dragging = true;
      if (el.setPointerCapture) el.setPointerCapture(e.pointerId);
      p.seek(timeAt(e));
    });
    el.addEventListener("pointermove", function (e) {
      if (dragging) p.seek(timeAt(e));
      preview.show(timeAt(e), e);
    });
    el.addEventListener("pointerup", function () { dragging = false; });
    el.addEventListener("pointerleave", function () { preview.hide(); });
    var preview = newPreview(p, index);

    $("play").addEventListener("click", function () { p.toggle(); });
    $("fullscreen").addEventListener("click", fullscreen);
    if ($("speed")) $("speed").addEventListener("change", function () { p.speed = Number(this.value) || 1; });
    if ($("idle")) $("idle").addEventListener("change", function () { p.idle = Number(this.value) || 0; });

    document.addEventListener("keydown", function (e) {
      var tag = e.target && e.target.tagName;
      if (e.ctrlKey || e.metaKey || e.altKey || tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
      var k = e.key;
      if (tag === "BUTTON" && (k === " " || k === "Enter")) return; // the button's own click
      if (k === " " || k === "k") p.toggle();
      else if (k === "ArrowLeft") p.seek(p.t - (e.shiftKey ? p.duration / 10 : 5));
      else if (k === "ArrowRight") p.seek(p.t + (e.shiftKey ? p.duration / 10 : 5));
      else if (k.length === 1 && k >= "0" && k <= "9") p.seek(p.duration * Number(k) / 10);
      else if (k === "f") fullscreen();
      else if (k === "[") markerJump(p, -1);
      else if (k === "]") markerJump(p, 1);
      else if (k === ".") p.step();
      else if (k === ",") p.stepBack();
      else if (k === "?") { var h = $("shortcuts"); if (h) h.hidden = !h.hidden; }
      else return;
      e.preventDefault();
    });
  }

  // drawActivity paints the output per time slice under the seek bar:
  // each chunk's output bytes spread over its time range, on a log scale.
  function drawActivity(canvas, index) {
    var dpr = window.devicePixelRatio || 1;
    var w = Math.max(1, Math.round(canvas.clientWidth * dpr)), h = Math.max(1, Math.round(canvas.clientHeight * dpr));
    canvas.width = w;
    canvas.height = h;
    var dur = index.duration || 0, cols = new Float64Array(w), max = 0;
    if (dur <= 0) return;
    (index.chunks || []).forEach(function (c) {
      var x0 = Math.floor(c.start / dur * w), x1 = Math.max(x0, Math.min(w - 1, Math.floor(c.end / dur * w)));
      var per = c.bytes / (x1 - x0 + 1);
      for (var x = x0; x <= x1 && x < w; x++) cols[x] += per;
    });
    for (var i = 0; i < w; i++) max = Math.max(max, cols[i]);
    var ctx = canvas.getContext("2d");
    ctx.fillStyle = "rgba(120, 170, 255, 0.55)";
    for (var x = 0; x < w; x++) {
      if (!cols[x]) continue;
      var bh = Math.max(1, Math.round(h * Math.log1p(cols[x]) / Math.log1p(max)));
      ctx.fillRect(x, h - bh, 1, bh);
    }
  }

  // newPreview is the small terminal above the seek bar that shows the
  // keyframe of the chunk under the pointer (fetched alone, ?only=keyframe,
  // the last few kept).
  function newPreview(p, index) {
    var pop = $("preview"), label = $("preview-time"), pterm = null, shown = -1, keyframes = new Map();
    function keyframe(n) {
      if (!keyframes.has(n)) {
        var kp = E.getJSON(base + "/chunks/" + n + "?only=keyframe");
        kp.catch(function () { keyframes.delete(n); });
        keyframes.set(n, kp);
        if (keyframes.size > 16) keyframes.delete(keyframes.keys().next().value);
      }
      return keyframes.get(n);
    }
    return {
      show: function (t, e) {
        if (!index.chunks || !index.chunks.length) return;
        pop.hidden = false;
        label.textContent = clock(t);
        var r = $("bar").getBoundingClientRect();
        pop.style.left = Math.max(0, Math.min(r.width - pop.offsetWidth, e.clientX - r.left - pop.offsetWidth / 2)) + "px";
        var n = p.chunkAt(t);
        if (n === shown) return;
        shown = n;
        keyframe(n).then(function (ch) {
          if (shown !== n) return;
          var kf = ch.keyframe;
          if (!pterm) pterm = newTerminal($("preview-term"), kf.cols, kf.rows, Math.max(5, Math.min(8, Math.floor(420 / (kf.cols * 0.6)))));
          pterm.write("", function () { pterm.reset(); pterm.resize(kf.cols, kf.rows); pterm.write(kf.paint); });
        }).catch(function () {});
      },
      hide: function () { pop.hidden = true; }
    };
  }
})();
