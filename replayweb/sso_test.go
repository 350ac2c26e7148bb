package replayweb

import (
	"context"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/oidctest"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

const (
	ssoRedirect = "http://jumpcast.test/login/oidc/callback"
	ssoPassword = "verysecure"
)

// ssoUsers are the provider's people: ann (an auditor by her group), ada
// (an admin and an auditor: the stronger role wins), carol (an engineer,
// so role user, who connects through the bastion as carol) and mallory
// (in no group jumpcast knows).
var ssoUsers = []oidctest.User{
	{ID: "u1", Username: "ann", Password: ssoPassword, Groups: []string{"staff", "sec-auditors"}},
	{ID: "u2", Username: "ada", Password: ssoPassword, Groups: []string{"sec-auditors", "jc-admins"}},
	{ID: "u3", Username: "carol", Password: ssoPassword, Groups: []string{"eng"}},
	{ID: "u4", Username: "mallory", Password: ssoPassword, Groups: []string{"marketing"}},
}

func ssoOptions(p *oidctest.Provider, redirect string) *OIDCOptions {
	return &OIDCOptions{
		Name: "Example SSO", Issuer: p.Issuer, ClientID: oidctest.ClientID, ClientSecret: oidctest.ClientSecret,
		RedirectURL: redirect, Scopes: []string{"profile", "email"},
		Roles: map[string]string{"sec-auditors": store.RoleAuditor, "jc-admins": store.RoleAdmin, "eng": store.RoleUser},
	}
}

// ssoEnv is a site with single sign-on through a real provider.
func ssoEnv(t *testing.T, mod func(*Options)) (*env, *oidctest.Provider) {
	t.Helper()
	p := oidctest.Start(t, ssoUsers, ssoRedirect)
	e := newEnv(t, func(o *Options) {
		o.OIDC = ssoOptions(p, ssoRedirect)
		if mod != nil {
			mod(o)
		}
	})
	return e, p
}

// idpBrowser is the browser's side at the provider: its own cookies, no
// automatic redirects.
func idpBrowser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// ssoStart clicks "Log in with" and returns where the site sends the
// browser (the provider's authorization URL).
func ssoStart(t *testing.T, c *client, next string) *url.URL {
	t.Helper()
	res, body := c.get("/login/oidc?next=" + url.QueryEscape(next))
	if res.StatusCode != http.StatusFound {
		t.Fatalf("start single sign-on: %d\n%.1000s", res.StatusCode, body)
	}
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// ssoLogin signs in at the provider as user and follows the provider's
// redirect back to the site; it returns the site's answer.
func ssoLogin(t *testing.T, c *client, p *oidctest.Provider, user, next string) (*http.Response, string) {
	t.Helper()
	cb, err := p.Login(idpBrowser(t), ssoStart(t, c, next).String(), user, ssoPassword)
	if err != nil {
		t.Fatal(err)
	}
	return c.get(cb.RequestURI())
}

// auditHas reports whether the store holds an event of kind and outcome
// about user with reason why ("" for any).
func auditHas(t *testing.T, e *env, kind audit.Kind, outcome audit.Outcome, user string, why audit.Reason) bool {
	t.Helper()
	evs, _, err := e.store.ListAudit(context.Background(), store.AuditFilter{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Kind == kind && ev.Outcome == outcome && ev.User == user && (why == "" || ev.Reason == why) {
			return true
		}
	}
	return false
}

// ssoRefused checks that the site refused a sign-in (res, body) with a
// page asking to sign in again, that c is still signed out, and that a
// web_login denied event with reason why was written.
func ssoRefused(t *testing.T, e *env, c *client, res *http.Response, body string, why audit.Reason) {
	t.Helper()
	if res.StatusCode < 400 || !strings.Contains(body, "Please sign in again") {
		t.Errorf("status %d, want a refusal:\n%.1000s", res.StatusCode, body)
	}
	if res, _ := c.get("/"); res.StatusCode != http.StatusFound {
		t.Errorf("refused browser reached the list: %d", res.StatusCode)
	}
	if !auditHas(t, e, audit.KindWebLogin, audit.OutcomeDenied, "", why) {
		t.Errorf("no web_login denied event with reason %q", why)
	}
}

// TestSSOMappedGroupsGetTheirRole: a person whose group maps to a role is
// signed in with that role through the provider's own login page, lands
// where they were going, and the login and the mapping are audited.
func TestSSOMappedGroupsGetTheirRole(t *testing.T) {
	e, p := ssoEnv(t, nil)
	for _, tc := range []struct{ user, role, page string }{
		{"ann", store.RoleAuditor, "/audit"},
		{"ada", store.RoleAdmin, "/admin"},
	} {
		t.Run(tc.user, func(t *testing.T) {
			c := e.client()
			c.t = t
			_, login := c.get("/login")
			if !strings.Contains(login, "Log in with Example SSO") {
				t.Fatalf("login page has no SSO button:\n%.1500s", login)
			}
			res, body := ssoLogin(t, c, p, tc.user, tc.page)
			if res.StatusCode != http.StatusOK || !strings.Contains(body, `content="0;url=`+tc.page+`"`) {
				t.Fatalf("callback: %d\n%.1500s", res.StatusCode, body)
			}
			res, body = c.get(tc.page)
			if res.StatusCode != http.StatusOK || !strings.Contains(body, tc.user+" · "+tc.role) {
				t.Fatalf("%s after SSO: %d\n%.1500s", tc.page, res.StatusCode, body)
			}
			if !auditHas(t, e, audit.KindWebLogin, audit.OutcomeOK, tc.user, "") ||
				!auditHas(t, e, audit.KindSSOMapping, audit.OutcomeAllowed, tc.user, audit.ReasonSSOGroupMapped) {
				t.Error("SSO login or its mapping not audited")
			}
		})
	}
}

// TestSSOUnmappedIsRefused: a person none of whose groups maps to a role
// gets a page saying so, no login, and two audit events.
func TestSSOUnmappedIsRefused(t *testing.T) {
	e, p := ssoEnv(t, nil)
	c := e.client()
	res, body := ssoLogin(t, c, p, "mallory", "/")
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "none of your groups gives access to jumpcast") {
		t.Fatalf("unmapped login: %d\n%.1500s", res.StatusCode, body)
	}
	if res, _ := c.get("/"); res.StatusCode != http.StatusFound {
		t.Errorf("refused person reached the list: %d", res.StatusCode)
	}
	if !auditHas(t, e, audit.KindSSOMapping, audit.OutcomeDenied, "mallory", audit.ReasonSSONoRole) ||
		!auditHas(t, e, audit.KindWebLogin, audit.OutcomeDenied, "mallory", audit.ReasonSSONoRole) {
		t.Error("refusal not audited")
	}
}

// TestSSOTamperedFlowIsRefused: a wrong state, a nonce changed on the way
// to the provider, a replayed code, and a callback in a browser that did
// not start the sign-in are refused, audited, and log nobody in.
func TestSSOTamperedFlowIsRefused(t *testing.T) {
	e, p := ssoEnv(t, nil)
	refused := func(t *testing.T, c *client, res *http.Response, body string, why audit.Reason) {
		t.Helper()
		ssoRefused(t, e, c, res, body, why)
	}
	t.Run("state", func(t *testing.T) {
		c := e.client()
		cb, err := p.Login(idpBrowser(t), ssoStart(t, c, "/").String(), "ann", ssoPassword)
		if err != nil {
			t.Fatal(err)
		}
		q := cb.Query()
		q.Set("state", q.Get("state")+"x")
		cb.RawQuery = q.Encode()
		res, body := c.get(cb.RequestURI())
		refused(t, c, res, body, audit.ReasonSSOBadState)
	})
	t.Run("nonce", func(t *testing.T) {
		c := e.client()
		auth := ssoStart(t, c, "/")
		q := auth.Query()
		q.Set("nonce", "attacker-chosen-nonce")
		auth.RawQuery = q.Encode()
		cb, err := p.Login(idpBrowser(t), auth.String(), "ann", ssoPassword)
		if err != nil {
			t.Fatal(err)
		}
		res, body := c.get(cb.RequestURI())
		refused(t, c, res, body, audit.ReasonSSOBadNonce)
	})
	t.Run("replayed code", func(t *testing.T) {
		c := e.client()
		cb, err := p.Login(idpBrowser(t), ssoStart(t, c, "/").String(), "ann", ssoPassword)
		if err != nil {
			t.Fatal(err)
		}
		if res, body := c.get(cb.RequestURI()); res.StatusCode != http.StatusOK {
			t.Fatalf("first use of the code: %d\n%.1000s", res.StatusCode, body)
		}
		// Another browser starts a sign-in and is handed the used code.
		c2 := e.client()
		q := ssoStart(t, c2, "/").Query()
		replay := cb.Query()
		replay.Set("state", q.Get("state"))
		res, body := c2.get("/login/oidc/callback?" + replay.Encode())
		refused(t, c2, res, body, audit.ReasonSSOCodeRejected)
	})
	t.Run("expired ID token", func(t *testing.T) {
		late := newEnv(t, func(o *Options) {
			o.OIDC = ssoOptions(p, ssoRedirect)
			o.OIDC.TokenClock = func() time.Time { return time.Now().Add(2 * time.Hour) } // the token is read two hours late
		})
		c := late.client()
		cb, err := p.Login(idpBrowser(t), ssoStart(t, c, "/").String(), "ann", ssoPassword)
		if err != nil {
			t.Fatal(err)
		}
		res, body := c.get(cb.RequestURI())
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "could not be verified") {
			t.Errorf("expired token: %d\n%.800s", res.StatusCode, body)
		}
		if !auditHas(t, late, audit.KindWebLogin, audit.OutcomeDenied, "", audit.ReasonSSOBadToken) {
			t.Error("expired token not audited")
		}
	})
	t.Run("other browser", func(t *testing.T) {
		c := e.client()
		cb, err := p.Login(idpBrowser(t), ssoStart(t, c, "/").String(), "ann", ssoPassword)
		if err != nil {
			t.Fatal(err)
		}
		victim := e.client() // login CSRF: the attacker's callback in the victim's browser
		res, body := victim.get(cb.RequestURI())
		refused(t, victim, res, body, audit.ReasonSSOBadState)
	})
}

// TestSSOOtherApplicationIsRefused: what the same provider issued to
// another application (client "other") does not sign anyone in here: its
// authorization code is refused at the exchange, and its ID token fails
// the audience check, even for a person whose groups map to admin.
func TestSSOOtherApplicationIsRefused(t *testing.T) {
	e, p := ssoEnv(t, nil)
	refused := func(t *testing.T, c *client, res *http.Response, body string, why audit.Reason) {
		t.Helper()
		ssoRefused(t, e, c, res, body, why)
	}
	t.Run("code issued to another client", func(t *testing.T) {
		// The browser is sent to the provider as another application of
		// the same provider; jumpcast gets that application's code.
		c := e.client()
		auth := ssoStart(t, c, "/")
		q := auth.Query()
		q.Set("client_id", "other")
		auth.RawQuery = q.Encode()
		cb, err := p.Login(idpBrowser(t), auth.String(), "ada", ssoPassword)
		if err != nil {
			t.Fatal(err)
		}
		res, body := c.get(cb.RequestURI())
		refused(t, c, res, body, audit.ReasonSSOCodeRejected)
	})
	t.Run("ID token for another audience", func(t *testing.T) {
		// A real ID token the provider issued to the other application,
		// for a person whose groups map to admin here.
		ctx := context.Background()
		prov, err := e.srv.sso.discover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		other := &oauth2.Config{ClientID: "other", ClientSecret: oidctest.ClientSecret, RedirectURL: ssoRedirect,
			Endpoint: prov.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile"}}
		cb, err := p.Login(idpBrowser(t), other.AuthCodeURL("st", oidc.Nonce("n")), "ada", ssoPassword)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := other.Exchange(ctx, cb.Query().Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		if _, err := e.srv.sso.verify(ctx, prov, raw); err == nil || !strings.Contains(err.Error(), "audience") {
			t.Errorf("an ID token issued to another client: %v, want an audience refusal", err)
		}
	})
}

// TestSSOUserSeesOwnRecordings: a user-role sign-in is the bastion user
// its user claim names, and sees that user's recordings only.
func TestSSOUserSeesOwnRecordings(t *testing.T) {
	e, p := ssoEnv(t, nil)
	var carols []string
	for i := range 6 {
		r := e.addRecording(recording.Meta{User: []string{"carol", "bob"}[i%2]}, sampleCast)
		if r.User == "carol" {
			carols = append(carols, r.ID)
		}
	}
	c := e.client()
	if res, body := ssoLogin(t, c, p, "carol", "/"); res.StatusCode != http.StatusOK {
		t.Fatalf("carol: %d\n%.1000s", res.StatusCode, body)
	}
	_, body := c.get("/")
	if got := sorted(rowIDs(body)); strings.Join(got, " ") != strings.Join(sorted(carols), " ") {
		t.Errorf("carol sees %v, want her own %v", got, carols)
	}
	if res, _ := c.get("/audit"); res.StatusCode != http.StatusOK {
		t.Errorf("carol's audit page: %d", res.StatusCode)
	}
	if res, _ := c.get("/admin"); res.StatusCode != http.StatusForbidden {
		t.Errorf("carol reached the admin page: %d", res.StatusCode)
	}
}

// TestSSOLogout: logging out ends the login here and sends the browser to
// the provider's end-session endpoint, which ends the provider's session.
func TestSSOLogout(t *testing.T) {
	e, p := ssoEnv(t, nil)
	c := e.client()
	if res, body := ssoLogin(t, c, p, "ann", "/"); res.StatusCode != http.StatusOK {
		t.Fatalf("ann: %d\n%.1000s", res.StatusCode, body)
	}
	res, body := c.do(http.MethodPost, "/logout", url.Values{"_csrf": {c.csrf()}})
	m := regexp.MustCompile(`content="0;url=([^"]+)"`).FindStringSubmatch(body)
	if res.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("logout: %d\n%.1000s", res.StatusCode, body)
	}
	loc := html.UnescapeString(m[1])
	if !strings.HasPrefix(loc, p.Issuer+"/") || !strings.Contains(loc, "id_token_hint=") || strings.Contains(body, "ann · auditor") {
		t.Fatalf("logout sends the browser to %q, want the provider's end-session endpoint", loc)
	}
	if res, _ := c.get("/"); res.StatusCode != http.StatusFound {
		t.Errorf("after logout the list answers %d", res.StatusCode)
	}
	idp := idpBrowser(t)
	for range 5 {
		r, err := idp.Get(loc)
		if err != nil {
			t.Fatal(err)
		}
		_ = r.Body.Close()
		if r.StatusCode != http.StatusFound {
			if r.StatusCode != http.StatusOK {
				t.Errorf("provider's end session: %d", r.StatusCode)
			}
			return
		}
		next, err := r.Location()
		if err != nil {
			t.Fatal(err)
		}
		loc = next.String()
	}
	t.Error("provider's end session: too many redirects")
}

// TestPasswordLoginSwitchedOff: with password sign-in off, the login page
// offers single sign-on only, a correct password is refused (and audited)
// but for a break-glass account, which still gets in.
func TestPasswordLoginSwitchedOff(t *testing.T) {
	e, _ := ssoEnv(t, func(o *Options) {
		o.DisablePasswordLogin = true
		o.BreakGlass = []string{"root"}
	})
	c := e.client()
	if _, page := c.get("/login"); strings.Contains(page, `name="password"`) || !strings.Contains(page, "Log in with Example SSO") {
		t.Errorf("login page with passwords off:\n%.1500s", page)
	}
	_, page := c.get("/login?local=1")
	res, body := c.do(http.MethodPost, "/login", url.Values{"_csrf": {csrfFrom(t, page)}, "name": {"alice"}, "password": {testPassword}})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "switched off") {
		t.Errorf("alice with a password: %d\n%.1000s", res.StatusCode, body)
	}
	if !auditHas(t, e, audit.KindWebLogin, audit.OutcomeDenied, "alice", audit.ReasonPasswordLoginOff) {
		t.Error("refusal not audited")
	}
	if res, _ := c.get("/"); res.StatusCode != http.StatusFound {
		t.Errorf("refused alice reached the list: %d", res.StatusCode)
	}
	_, page = c.get("/login?local=1")
	res, body = c.do(http.MethodPost, "/login", url.Values{"_csrf": {csrfFrom(t, page)}, "name": {"root"}, "password": {testPassword}})
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("break-glass root: %d\n%.1000s", res.StatusCode, body)
	}
}
