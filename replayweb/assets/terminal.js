// jumpcast terminal page: an xterm.js terminal wired to the site's
// WebSocket (/terminal/socket). Binary messages carry the terminal both
// ways; text messages are JSON control messages (resize, a target's
// prompt and its answers, ready, exit); see terminal_socket.go. Loaded as
// a file (no inline script) so that the CSP can forbid inline code.
(function () {
  "use strict";
  var box = document.getElementById("term");
  if (!box || !window.Terminal) return;

  // stylenonce.js, loaded first, lets xterm.js's <style> elements pass the CSP.

  var $ = function (id) { return document.getElementById(id); };
  var state = $("term-state");
  var FONT = 14;
  var term = new window.Terminal({
    fontFamily: "\"DejaVu Sans Mono\", ui-monospace, monospace", fontSize: FONT,
    cursorBlink: true, scrollback: 5000, theme: { background: "#121314" },
    // Links a session prints (OSC 8) open nothing.
    linkHandler: { activate: function () {}, allowNonHttpProtocols: false }
  });
  term.open(box);

  // fitSize is the columns and rows that fill the box at the font's cell
  // size (measured once from a hidden span in the terminal's font).
  var cell = (function () {
    var s = document.createElement("span");
    s.textContent = "WWWWWWWWWW";
    s.style.cssText = "position:absolute;visibility:hidden;white-space:pre;font-size:" + FONT + "px;font-family:" + term.options.fontFamily;
    document.body.appendChild(s);
    var r = { w: s.getBoundingClientRect().width / 10, h: s.getBoundingClientRect().height };
    document.body.removeChild(s);
    return r;
  })();
  function fitSize() {
    var w = box.clientWidth, h = box.clientHeight;
    return {
      cols: Math.max(20, Math.min(500, Math.floor(w / cell.w) - 1)),
      rows: Math.max(5, Math.min(300, Math.floor(h / (cell.h * 1.05))))
    };
  }
  var size = fitSize();
  term.resize(size.cols, size.rows);

  var proto = location.protocol === "https:" ? "wss:" : "ws:";
  var ws = new WebSocket(proto + "//" + location.host + "/terminal/socket?ticket=" +
    encodeURIComponent(box.dataset.ticket) + "&cols=" + term.cols + "&rows=" + term.rows);
  ws.binaryType = "arraybuffer";
  var enc = new TextEncoder();
  var ended = false;

  function control(m) { if (ws.readyState === 1) ws.send(JSON.stringify(m)); }

  term.onData(function (d) { if (ws.readyState === 1 && !ended) ws.send(enc.encode(d)); });
  term.onBinary(function (d) {
    var b = new Uint8Array(d.length);
    for (var i = 0; i < d.length; i++) b[i] = d.charCodeAt(i) & 255;
    if (ws.readyState === 1 && !ended) ws.send(b);
  });
  term.onResize(function (s) { control({ t: "resize", cols: s.cols, rows: s.rows }); });
  var timer = 0;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var s = fitSize();
      if (s.cols !== term.cols || s.rows !== term.rows) term.resize(s.cols, s.rows);
    }, 100);
  });

  // Copy and paste: Ctrl+Shift+C copies the selection, Ctrl+Shift+V (and
  // the browser's own paste) pastes; Ctrl+C stays the terminal's.
  term.attachCustomKeyEventHandler(function (e) {
    if (e.type !== "keydown" || !e.ctrlKey || !e.shiftKey) return true;
    var k = e.key.toLowerCase();
    if (k === "c" && term.hasSelection()) {
      if (navigator.clipboard) navigator.clipboard.writeText(term.getSelection());
      e.preventDefault();
      return false;
    }
    if (k === "v" && navigator.clipboard && navigator.clipboard.readText) {
      navigator.clipboard.readText().then(function (t) { term.paste(t); });
      e.preventDefault();
      return false;
    }
    return true;
  });

  // A target's prompt (its password) is asked in a field above the
  // terminal, never typed into the session.
  var ask = $("term-ask"), answer = $("term-answer"), pending = null, answers = [];
  function nextPrompt() {
    if (!pending || answers.length >= pending.prompts.length) return;
    var p = pending.prompts[answers.length];
    $("term-ask-text").textContent = (pending.instruction ? pending.instruction + " " : "") + p.text;
    answer.type = p.echo ? "text" : "password";
    answer.value = "";
    ask.hidden = false;
    answer.focus();
  }
  answer.addEventListener("keydown", function (e) {
    if (e.key === "Enter") { e.preventDefault(); send(); }
  });
  $("term-send").addEventListener("click", send);
  function send() {
    if (!pending) return;
    answers.push(answer.value);
    answer.value = "";
    if (answers.length < pending.prompts.length) { nextPrompt(); return; }
    control({ t: "answers", answers: answers });
    pending = null;
    answers = [];
    ask.hidden = true;
    term.focus();
  }

  function finish(text) {
    if (ended) return;
    ended = true;
    state.textContent = "ended";
    state.className = "badge b-finished";
    $("term-ended-text").textContent = text;
    $("term-ended").hidden = false;
    ask.hidden = true;
    term.options.cursorBlink = false;
  }

  ws.onmessage = function (ev) {
    if (typeof ev.data !== "string") { term.write(new Uint8Array(ev.data)); return; }
    var m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    if (m.t === "prompt") { pending = m; answers = []; nextPrompt(); return; }
    if (m.t === "ready") { state.textContent = "connected"; term.focus(); return; }
    if (m.t === "exit") {
      var text = "The session ended";
      if (typeof m.status === "number") text += " with exit status " + m.status;
      if (m.signal) text += " (signal " + m.signal + ")";
      text += ".";
      if (m.message) text += " " + m.message.charAt(0).toUpperCase() + m.message.slice(1) + ".";
      box.dataset.exit = typeof m.status === "number" ? String(m.status) : "";
      finish(text);
    }
  };
  ws.onclose = function () { finish("The connection to the bastion closed."); };
  ws.onerror = function () { finish("The terminal could not be opened (its ticket is used once; open it again)."); };
})();
