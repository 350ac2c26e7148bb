package replayweb

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jumpcast/jumpcast/internal/browsertest"
	"github.com/jumpcast/jumpcast/internal/oidctest"
	"github.com/jumpcast/jumpcast/internal/recording"
)

// TestBrowserSingleSignOn: in a real Chromium, an auditor clicks "Log in
// with", signs in on the provider's own login page, lands on the recordings
// list with the role her group gives, and logs out through the provider.
func TestBrowserSingleSignOn(t *testing.T) {
	ts, serve := lateServer(t)
	p := oidctest.Start(t, ssoUsers, ts.URL+"/login/oidc/callback")
	e := newEnv(t, func(o *Options) { o.OIDC = ssoOptions(p, ts.URL+"/login/oidc/callback") })
	serve(e.srv.Handler())
	e.addRecording(recording.Meta{User: "bob", Title: "bob on db1"}, sampleCast)

	b := browsertest.New(t, 55*time.Second, "")
	b.Load(t, "open the site", chromedp.Navigate(ts.URL+"/"))
	b.Load(t, "click the SSO button", chromedp.Click(chromedp.ID("sso")))
	b.Do(t, "the provider's login page",
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "ann"),
		chromedp.SendKeys(chromedp.ID("password"), ssoPassword),
	)
	b.Do(t, "submit at the provider", chromedp.Submit(chromedp.ID("password")))
	b.Do(t, "land on the list", chromedp.WaitVisible(chromedp.ID("recordings")))
	if who := b.Eval(t, `document.querySelector(".who span").textContent`); who != "ann · auditor" {
		t.Errorf("signed in as %q, want ann · auditor", who)
	}
	if rows := b.Eval(t, `String(document.querySelectorAll("#recordings tbody tr").length)`); rows != "1" {
		t.Errorf("auditor sees %s recordings, want 1", rows)
	}
	// The provider's own pages may report problems (it has no favicon);
	// jumpcast's may not.
	if csp := b.Eval(t, `JSON.stringify(window.__csp || [])`); csp != "[]" {
		t.Errorf("CSP violations on the list: %s", csp)
	}
	if pr := b.ProblemsSoFar(); strings.Contains(pr, ts.URL) {
		t.Errorf("problems on jumpcast's pages: %s", pr)
	}

	b.Do(t, "log out", chromedp.Click(chromedp.CSS(`.who button`)))
	// Two navigations follow (the page's refresh, the provider's
	// redirect): poll across them.
	var text string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		text, _ = chromedp.Run(b.Ctx(), chromedp.Evaluate[string](`location.href + " " + (document.body ? document.body.textContent : "")`))
		if strings.Contains(text, "signed out successfully") {
			break
		}
	}
	if !strings.Contains(text, "signed out successfully") {
		t.Fatalf("the provider did not sign out: %q", text)
	}
	if loc := b.Eval(t, `location.href`); !strings.HasPrefix(loc, p.Issuer+"/") {
		t.Errorf("after logout the browser is at %q, want the provider", loc)
	}
	b.Load(t, "back to the site", chromedp.Navigate(ts.URL+"/"))
	if loc := b.Eval(t, `location.pathname`); loc != "/login" {
		t.Errorf("after logout the site shows %q, want /login", loc)
	}
}

// lateServer is a loopback server for a site that needs the server's
// address before it can be built (a redirect URL, a passkey origin):
// serve hands it the site.
func lateServer(t *testing.T) (ts *httptest.Server, serve func(http.Handler)) {
	var mu sync.Mutex
	site := http.NotFoundHandler()
	ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := site
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts, func(h http.Handler) { mu.Lock(); site = h; mu.Unlock() }
}
