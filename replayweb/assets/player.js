// jumpcast player engine: plays a recording from the server's chunk API
// (GET /recordings/ID/index, GET /recordings/ID/chunks/N) into an xterm.js
// Terminal, or follows a running session over Server-Sent Events. It holds
// at most a few chunks at a time, so the page's memory does not grow with
// the recording's length. app.js builds the page's controls on top of it.
//
// A chunk is {n, keyframe: {at, cols, rows, paint}, events: [[t, code,
// data], ...]}: paint, written to a freshly reset terminal of cols×rows,
// draws the screen as it was at the chunk's start; the events follow.
// Loaded as a file (no inline script, no eval): the CSP forbids both.
(function () {
  "use strict";

  // KEEP_BEHIND and KEEP_AHEAD bound the chunks kept around the one that
  // plays: the one before (a seek back a few seconds) and two after (the
  // prefetched next one, and the one after it while it loads).
  var KEEP_BEHIND = 1, KEEP_AHEAD = 2;
  // MAX_PENDING is how many characters may wait in the terminal's write
  // queue while playing; past it, playback time waits for the terminal
  // (xterm.js throws data away past 50 MB).
  var MAX_PENDING = 2 << 20;

  // Screen serializes everything done to the terminal: writes are queued
  // by xterm.js, so a reset or resize must wait for the writes before it.
  function Screen(term) {
    this.term = term;
    this.pending = 0; // characters written whose parse has not finished
  }
  Screen.prototype.write = function (s) {
    if (!s) return;
    var self = this;
    self.pending += s.length;
    self.term.write(s, function () { self.pending -= s.length; });
  };
  // after runs fn once everything written before has been parsed.
  Screen.prototype.after = function (fn) { this.term.write("", fn); };
  // settled resolves once everything written so far has been parsed.
  Screen.prototype.settled = function () {
    var self = this;
    return new Promise(function (resolve) { self.after(resolve); });
  };
  Screen.prototype.resize = function (cols, rows) {
    var term = this.term;
    this.after(function () {
      if (cols > 0 && rows > 0 && (term.cols !== cols || term.rows !== rows)) term.resize(cols, rows);
    });
  };
  // paint resets the terminal to cols×rows and writes a keyframe.
  Screen.prototype.paint = function (kf) {
    var term = this.term;
    this.after(function () { term.reset(); });
    this.resize(kf.cols, kf.rows);
    this.write(kf.paint);
  };
  // text is what the terminal shows now, one line per row, trailing blanks
  // (written or not) trimmed.
  Screen.prototype.text = function () {
    var b = this.term.buffer.active, out = [];
    for (var y = 0; y < this.term.rows; y++) {
      var line = b.getLine(b.viewportY + y);
      out.push(line ? line.translateToString(true).replace(/ +$/, "") : "");
    }
    return out.join("\n");
  };

  // parseSize reads an "r" event's "COLSxROWS".
  function parseSize(s) {
    var m = /^(\d+)x(\d+)$/.exec(String(s));
    return m ? [Number(m[1]), Number(m[2])] : null;
  }

  // apply writes one event's effect; it returns the text still to write.
  function apply(screen, ev, buf) {
    if (ev[1] === "o") return buf + ev[2];
    if (ev[1] === "r") {
      var sz = parseSize(ev[2]);
      if (sz) {
        screen.write(buf);
        screen.resize(sz[0], sz[1]);
        return "";
      }
    }
    return buf;
  }

  // splitBytes splits s after its first n bytes of UTF-8.
  function splitBytes(s, n) {
    var b = new TextEncoder().encode(s), d = new TextDecoder();
    if (n >= b.length) return [s, ""];
    return [d.decode(b.subarray(0, n)), d.decode(b.subarray(n))];
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status + " for " + url);
      return r.json();
    });
  }

  // Player plays the recording at base ("/recordings/ID") whose index is
  // index. onChange(player) is called when the time or the state changes;
  // states: "loading", "paused", "playing", "buffering", "ended", "error".
  function Player(term, base, index, onChange) {
    this.screen = new Screen(term);
    this.base = base;
    this.index = index;
    this.chunks = index.chunks || [];
    this.duration = index.duration || 0;
    this.onChange = onChange || function () {};
    this.cache = {};     // n -> Promise of the chunk
    this.loaded = {};    // n -> the chunk, once loaded
    this.t = 0;          // recording time shown, seconds
    this.cur = -1;       // chunk whose events play next
    this.pos = 0;        // index of the next event in chunk cur
    this.lastEventT = 0; // time of the last event applied
    this.rest = "";      // the part of a cut event (seek's cut) still to write
    this.speed = 1;
    this.idle = 0;       // gaps between events longer than this are cut to it; 0: off
    this.state = "loading";
    this.seq = 0;        // bumped by every seek; a stale one gives up
    this.wall = 0;
    this.raf = 0;
  }

  Player.prototype.set = function (state) {
    this.state = state;
    this.onChange(this);
  };

  // chunkAt is the chunk that holds time t: the last one starting at or
  // before t.
  Player.prototype.chunkAt = function (t) {
    var lo = 0, hi = this.chunks.length - 1, ans = 0;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (this.chunks[mid].start <= t) { ans = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return ans;
  };

  // load fetches chunk n once; the promise is kept while n is near the
  // chunk that plays.
  Player.prototype.load = function (n) {
    var self = this;
    if (!self.cache[n]) {
      self.cache[n] = getJSON(self.base + "/chunks/" + n).then(function (ch) {
        if (self.cache[n]) self.loaded[n] = ch;
        return ch;
      });
      self.cache[n].catch(function () { delete self.cache[n]; });
    }
    return self.cache[n];
  };

  // prune drops the chunks far from cur, so memory stays flat.
  Player.prototype.prune = function () {
    for (var k in this.cache) {
      var n = Number(k);
      if (n < this.cur - KEEP_BEHIND || n > this.cur + KEEP_AHEAD) {
        delete this.cache[k];
        delete this.loaded[k];
      }
    }
  };

  Player.prototype.prefetch = function () {
    if (this.cur + 1 < this.chunks.length) this.load(this.cur + 1).catch(function () {});
  };

  // seek shows the screen at time t: the keyframe of t's chunk, then that
  // chunk's events up to t, written at once. With cut > 0, of the output
  // event at exactly t only its first cut bytes are written (a link to the
  // moment a line was complete: asciicast.Line.Cut); the rest comes first
  // when playback goes on. It resolves when the terminal shows it.
  // Playback goes on from there if it was playing.
  Player.prototype.seek = function (t, cut) {
    var self = this, seq = ++self.seq, wasPlaying = self.state === "playing" || self.state === "buffering";
    t = Math.max(0, Math.min(Number(t) || 0, self.duration));
    if (!self.chunks.length) return Promise.resolve();
    self.stopLoop();
    var n = self.chunkAt(t);
    return self.load(n).then(function (ch) {
      if (seq !== self.seq) return;
      self.screen.paint(ch.keyframe);
      var evs = ch.events, end = 0, at = -1, buf = "", i;
      while (end < evs.length && evs[end][0] <= t) end++;
      for (i = end - 1; cut > 0 && i >= 0 && evs[i][0] === t; i--) {
        if (evs[i][1] === "o") { at = i; break; }
      }
      for (i = 0; i < (at >= 0 ? at : end); i++) buf = apply(self.screen, evs[i], buf);
      self.rest = "";
      if (at >= 0) {
        var parts = splitBytes(evs[at][2], cut);
        buf += parts[0];
        self.rest = parts[1];
        end = at + 1;
      }
      self.screen.write(buf);
      self.cur = n;
      self.pos = end;
      self.t = t;
      self.lastEventT = end > 0 ? evs[end - 1][0] : ch.keyframe.at;
      self.prune();
      self.prefetch();
      return self.screen.settled().then(function () {
        if (seq !== self.seq) return;
        if (wasPlaying) self.play(); else self.set(t >= self.duration ? "ended" : "paused");
      });
    }).catch(function (err) {
      if (seq === self.seq) self.fail(err);
    });
  };

  Player.prototype.fail = function (err) {
    this.stopLoop();
    this.error = String(err && err.message || err);
    this.set("error");
  };

  Player.prototype.play = function () {
    var self = this;
    if (self.cur < 0 || self.t >= self.duration) {
      return self.seek(self.t >= self.duration ? 0 : self.t).then(function () { self.play(); });
    }
    self.stopLoop();
    self.wall = performance.now();
    self.set("playing");
    self.raf = requestAnimationFrame(function (now) { self.tick(now); });
    return Promise.resolve();
  };

  Player.prototype.pause = function () {
    this.stopLoop();
    if (this.state !== "ended") this.set("paused");
  };

  Player.prototype.toggle = function () {
    if (this.state === "playing" || this.state === "buffering") this.pause(); else this.play();
  };

  Player.prototype.stopLoop = function () {
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
  };

  // tick advances playback to the wall clock: every event up to the new
  // time is written in one go, idle gaps longer than idle are cut, and the
  // time waits when the next chunk is not loaded yet or the terminal is
  // behind.
  Player.prototype.tick = function (now) {
    var self = this;
    self.raf = requestAnimationFrame(function (n) { self.tick(n); });
    var dt = Math.max(0, (now - self.wall) / 1000);
    self.wall = now;
    if (self.screen.pending > MAX_PENDING) return;
    var target = self.t + dt * self.speed, buf = self.rest, state = "playing";
    self.rest = "";
    for (;;) {
      var ch = self.loaded[self.cur];
      if (!ch) {
        state = "buffering";
        target = self.t;
        self.load(self.cur).catch(function (err) { self.fail(err); });
        break;
      }
      if (self.pos >= ch.events.length) {
        if (self.cur + 1 >= self.chunks.length) {
          if (target >= self.duration) state = "ended";
          break;
        }
        self.cur++;
        self.pos = 0;
        self.prune();
        self.prefetch();
        continue;
      }
      var ev = ch.events[self.pos];
      if (self.idle > 0 && ev[0] > target && target >= self.lastEventT + self.idle) target = ev[0];
      if (ev[0] > target) break;
      buf = apply(self.screen, ev, buf);
      self.lastEventT = ev[0];
      self.t = ev[0];
      self.pos++;
    }
    self.screen.write(buf);
    self.t = Math.min(Math.max(self.t, target), self.duration);
    if (state === "ended") {
      self.t = self.duration;
      self.stopLoop();
    }
    if (state !== self.state) self.set(state); else self.onChange(self);
  };

  // step shows the next event while paused (the "." key).
  Player.prototype.step = function () {
    var ch = this.loaded[this.cur];
    if (!ch || this.state === "playing") return;
    if (this.rest) {
      this.screen.write(this.rest);
      this.rest = "";
      return;
    }
    if (this.pos >= ch.events.length) {
      if (this.cur + 1 < this.chunks.length) this.seek(this.chunks[this.cur + 1].start);
      return;
    }
    var ev = ch.events[this.pos++];
    this.screen.write(apply(this.screen, ev, ""));
    this.t = this.lastEventT = ev[0];
    this.onChange(this);
  };

  // stepBack shows the event before the last one shown (the "," key).
  Player.prototype.stepBack = function () {
    var ch = this.loaded[this.cur];
    if (!ch || this.state === "playing") return;
    var i = this.pos - 2;
    if (i >= 0) return this.seek(ch.events[i][0]);
    if (this.cur > 0) return this.seek(Math.max(0, this.chunks[this.cur].start - 1e-6));
  };

  // Live follows a running session: the SSE stream at url sends the
  // asciicast header, every event so far, then live events, and "done"
  // when the session ends (onEnded is called). A reconnect starts again
  // from a fresh header.
  function Live(term, url, onChange, onEnded) {
    var screen = new Screen(term), self = this;
    self.screen = screen;
    self.state = "loading";
    self.t = 0;
    var es = new EventSource(url);
    self.source = es;
    es.onmessage = function (e) {
      var v;
      try { v = JSON.parse(e.data); } catch (err) { return; }
      if (Array.isArray(v)) {
        self.t = Number(v[0]) || self.t;
        screen.write(apply(screen, v, ""));
      } else if (v && typeof v === "object") {
        screen.paint({ cols: v.width, rows: v.height, paint: "" });
        self.state = "playing";
      }
      onChange(self);
    };
    es.addEventListener("done", function () {
      es.close();
      screen.settled().then(function () {
        self.state = "ended";
        onChange(self);
        if (onEnded) onEnded();
      });
    });
  }

  window.JumpcastEngine = { Player: Player, Live: Live, Screen: Screen, getJSON: getJSON };
})();
