// jumpcast list page: a small preview of each recording's most active
// moment (the screen at the end of its busiest chunk, the moment the
// recording page's poster shows). The rows ask GET /previews for their
// screens as they scroll into view, in batches; each recording previewed
// is an audit event on the server. Hovering or focusing a thumbnail shows
// it at a readable size; clicking opens the player at that moment.
(function () {
  "use strict";
  var thumbs = document.querySelectorAll("a.thumb[data-preview]");
  if (!thumbs.length || !window.fetch || !window.IntersectionObserver) return;
  var byID = {};
  thumbs.forEach(function (a) { byID[a.dataset.preview] = a; });

  // show fills a thumbnail: the text scaled to the box's width.
  function show(pv) {
    var a = byID[pv.id];
    if (!a) return;
    var pre = a.querySelector("pre");
    pre.textContent = pv.lines.join("\n");
    a.href = "/recordings/" + encodeURIComponent(pv.id) + "?t=" + pv.at;
    a.title = "The screen at +" + pv.clock + ", the recording's most active moment";
    a.dataset.cols = pv.cols;
    a.dataset.clock = pv.clock;
    a.hidden = false;
    // One character cell is about 0.6em wide at the thumbnail's font size.
    var scale = Math.min(1, a.clientWidth / (pv.cols * 0.6 * 10));
    pre.style.transform = "scale(" + scale.toFixed(3) + ")";
    a.classList.add("ready");
  }

  var queue = [], timer = 0, asked = {};
  function ask(ids) {
    var url = "/previews?ids=" + ids.map(encodeURIComponent).join(",");
    fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (ans) {
      (ans.previews || []).forEach(show);
      if (ans.later && ans.later.length) ask(ans.later);
    }).catch(function () { /* no previews: the list works without them */ });
  }
  function flush() {
    timer = 0;
    while (queue.length) ask(queue.splice(0, 10));
  }
  var seen = new IntersectionObserver(function (entries) {
    entries.forEach(function (e) {
      var id = e.target.dataset.preview;
      if (!e.isIntersecting || asked[id]) return;
      asked[id] = true;
      seen.unobserve(e.target);
      queue.push(id);
    });
    if (queue.length && !timer) timer = setTimeout(flush, 150);
  }, { rootMargin: "200px 0px" });
  thumbs.forEach(function (a) { seen.observe(a.parentNode); a.parentNode.dataset.preview = a.dataset.preview; });

  // The enlarged view, one for the page, beside the thumbnail under the
  // pointer or focus.
  var big = document.createElement("div");
  big.className = "shot-big";
  big.hidden = true;
  var bigPre = document.createElement("pre");
  var bigNote = document.createElement("div");
  bigNote.className = "sub";
  big.appendChild(bigPre);
  big.appendChild(bigNote);
  document.body.appendChild(big);
  function enlarge(a) {
    if (!a.classList.contains("ready")) return;
    bigPre.textContent = a.querySelector("pre").textContent;
    bigNote.textContent = "+" + a.dataset.clock + " · most active moment · click to play from here";
    big.hidden = false;
    var r = a.getBoundingClientRect();
    var left = r.right + 12, top = Math.max(8, r.top - 40);
    if (left + big.offsetWidth > window.innerWidth - 8) left = Math.max(8, r.left - big.offsetWidth - 12);
    if (top + big.offsetHeight > window.innerHeight - 8) top = Math.max(8, window.innerHeight - big.offsetHeight - 8);
    big.style.left = left + "px";
    big.style.top = top + "px";
  }
  function shrink() { big.hidden = true; }
  thumbs.forEach(function (a) {
    a.addEventListener("mouseenter", function () { enlarge(a); });
    a.addEventListener("focus", function () { enlarge(a); });
    a.addEventListener("mouseleave", shrink);
    a.addEventListener("blur", shrink);
  });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") shrink(); });
})();
