// jumpcast: xterm.js styles its rows with <style> elements it creates;
// the CSP of the pages that run it (the player, the terminal) admits those
// only with the response's nonce (style-src-elem), which the server put
// on this script's tag. It is stamped on every <style> created from now
// on, before insertion (a nonce set later is ignored). Load it before
// xterm.js.
(function (nonce) {
  "use strict";
  if (!nonce) return;
  var create = Document.prototype.createElement;
  Document.prototype.createElement = function (name) {
    var el = create.apply(this, arguments);
    if (String(name).toLowerCase() === "style") el.setAttribute("nonce", nonce);
    return el;
  };
})(document.currentScript && document.currentScript.nonce);
