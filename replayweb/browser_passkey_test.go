package replayweb

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/browsertest"
)

// TestBrowserPasskey: in a real Chromium with a virtual authenticator
// (DevTools' WebAuthn domain), alice registers a passkey on her account
// page, and her next sign-in takes the password and then the passkey; the
// page's CSP stays strict (the script is a static file).
func TestBrowserPasskey(t *testing.T) {
	ts, serve := lateServer(t)
	// WebAuthn wants a domain: "localhost" is one, and a secure context
	// over plain HTTP.
	origin := strings.Replace(ts.URL, "127.0.0.1", "localhost", 1)
	e := newEnv(t, func(o *Options) { o.PublicURL = origin })
	serve(e.srv.Handler())

	b := browsertest.New(t, 55*time.Second, "")
	if _, err := chromedp.Call(b.Ctx(), webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b.Ctx(), webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true},
	}); err != nil {
		t.Fatal(err)
	}
	b.LogIn(t, origin+"/account", "alice", testPassword)
	b.Do(t, "name the passkey", chromedp.WaitVisible(chromedp.ID("passkey-register")), chromedp.SendKeys(chromedp.ID("passkey-name"), "laptop"))
	b.Load(t, "register it", chromedp.Click(chromedp.ID("passkey-register")))
	b.Do(t, "see it listed", chromedp.WaitVisible(chromedp.ID("passkey-list")))
	if got := b.Eval(t, `document.getElementById("passkey-list").textContent`); !strings.Contains(got, "laptop") {
		t.Errorf("passkeys listed: %q", got)
	}
	if n := b.Eval(t, `String(document.querySelectorAll("#recovery-codes li").length)`); n != "10" {
		t.Errorf("%s recovery codes shown after the first passkey, want 10", n)
	}
	b.CheckClean(t, "registering a passkey")

	b.Load(t, "log out", chromedp.Click(chromedp.CSS(`.who button`)))
	b.LogIn(t, origin+"/", "alice", testPassword)
	if loc := b.Eval(t, `location.pathname`); loc != "/login/2fa" {
		t.Fatalf("after the password the browser is at %s, want /login/2fa", loc)
	}
	b.Do(t, "use the passkey", chromedp.Click(chromedp.ID("passkey-login")))
	var where string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		where, _ = chromedp.Run(b.Ctx(), chromedp.Evaluate[string](`location.pathname + " " + ((document.getElementById("passkey-error") || {}).textContent || "")`))
		if strings.HasPrefix(where, "/ ") {
			break
		}
	}
	if !strings.HasPrefix(where, "/ ") {
		t.Fatalf("after the passkey: %q", where)
	}
	b.CheckClean(t, "signing in with a passkey")
	if !auditHas(t, e, audit.KindWebLogin, audit.OutcomeOK, "alice", "") {
		t.Error("passkey sign-in not audited")
	}
	f, err := e.store.GetSecondFactor(t.Context(), "alice")
	if err != nil || len(f.Passkeys) != 1 || f.Passkeys[0].Name != "laptop" {
		t.Errorf("stored: %+v, %v", f, err)
	}
}
