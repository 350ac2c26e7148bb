// Passkeys (WebAuthn) for jumpcast's sign-in: registering one on the
// account page (#passkey-register) and using one as the second factor
// (#passkey-login). The server keeps the challenges; this file only carries
// the options to the browser's WebAuthn API and the answer back, as JSON
// (PublicKeyCredential.parse*OptionsFromJSON and toJSON).
(function () {
  "use strict";

  function show(msg) {
    var el = document.getElementById("passkey-error");
    if (el) { el.textContent = msg; el.hidden = false; }
  }

  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: body === undefined ? "{}" : JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) { throw new Error(j.error || j.message || ("HTTP " + r.status)); }
        return j;
      });
    });
  }

  function ceremony(button, begin, finish, run) {
    var csrf = button.getAttribute("data-csrf");
    button.disabled = true;
    post(begin, csrf).then(function (opts) {
      return run(opts.publicKey);
    }).then(function (cred) {
      return post(finish, csrf, cred.toJSON());
    }).then(function (res) {
      window.location.assign(res.next || "/");
    }).catch(function (e) {
      button.disabled = false;
      show("The passkey did not work: " + (e && e.message ? e.message : e));
    });
  }

  var reg = document.getElementById("passkey-register");
  if (reg) {
    reg.addEventListener("click", function () {
      var name = document.getElementById("passkey-name");
      var q = name && name.value ? "?name=" + encodeURIComponent(name.value) : "";
      ceremony(reg, "/account/passkeys/begin", "/account/passkeys/finish" + q, function (pk) {
        return navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(pk) });
      });
    });
  }

  var login = document.getElementById("passkey-login");
  if (login) {
    login.addEventListener("click", function () {
      ceremony(login, "/login/2fa/passkey/begin", "/login/2fa/passkey/finish", function (pk) {
        return navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(pk) });
      });
    });
  }
})();
