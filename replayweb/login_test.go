package replayweb

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recfiles"
	"github.com/jumpcast/jumpcast/store"
)

func TestLoginLogout(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client()
	res, _ := c.get("/recordings/20261124T090000.000000Z-00000000?x=1")
	if loc := res.Header.Get("Location"); loc != "/login?next="+url.QueryEscape("/recordings/20261124T090000.000000Z-00000000?x=1") {
		t.Fatalf("redirect to %q", loc)
	}
	_, page := c.get(res.Header.Get("Location"))
	res, _ = c.do(http.MethodPost, "/login", url.Values{
		"_csrf": {csrfFrom(t, page)}, "name": {"alice"}, "password": {testPassword},
		"next": {"/recordings/20261124T090000.000000Z-00000000?x=1"},
	})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/recordings/20261124T090000.000000Z-00000000?x=1" {
		t.Fatalf("login: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := c.get("/"); res.StatusCode != 200 {
		t.Fatalf("list after login: %d", res.StatusCode)
	}
	tok := c.csrf()
	res, _ = c.do(http.MethodPost, "/logout", url.Values{"_csrf": {tok}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	if res, _ := c.get("/"); res.StatusCode != http.StatusFound {
		t.Fatalf("after logout: %d, want 302 to login", res.StatusCode)
	}
}

func TestLoginWrongPassword(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client()
	for _, cred := range [][2]string{{"alice", "wrong password"}, {"nobody", testPassword}, {"", ""}} {
		_, page := c.get("/login")
		res, body := c.do(http.MethodPost, "/login", url.Values{"_csrf": {csrfFrom(t, page)}, "name": {cred[0]}, "password": {cred[1]}})
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong name or password") {
			t.Errorf("%q: %d", cred[0], res.StatusCode)
		}
		if _, ok := c.jar[webLoginCookie]; ok {
			t.Errorf("%q: got a login cookie", cred[0])
		}
	}
}

func TestCookieFlags(t *testing.T) {
	for _, secure := range []bool{false, true} {
		e := newEnv(t, func(o *Options) { o.Secure = secure })
		c := e.client()
		_, page := c.get("/login")
		res, _ := c.do(http.MethodPost, "/login", url.Values{"_csrf": {csrfFrom(t, page)}, "name": {"alice"}, "password": {testPassword}})
		want := webLoginCookie
		if secure {
			want = secureWebLoginCookie
		}
		var found *http.Cookie
		for _, ck := range res.Cookies() {
			if ck.Name == want {
				found = ck
			}
		}
		if found == nil {
			t.Fatalf("secure=%v: no %s cookie in %v", secure, want, res.Header["Set-Cookie"])
		}
		if !found.HttpOnly || found.SameSite != http.SameSiteStrictMode || found.Secure != secure || found.Path != "/" || found.Domain != "" {
			t.Errorf("secure=%v: cookie %+v", secure, found)
		}
		if secure && res.Header.Get("Strict-Transport-Security") == "" {
			t.Error("no HSTS under TLS")
		}
	}
}

func TestLoginFixation(t *testing.T) {
	e := newEnv(t, nil)
	// An attacker plants a login id they know in the victim's browser.
	attacker := e.client()
	attacker.login("alice", testPassword)
	planted := attacker.jar[webLoginCookie].Value

	victim := e.client()
	victim.ip = "198.51.100.9"
	_, page := victim.get("/login")
	victim.jar[webLoginCookie] = &http.Cookie{Name: webLoginCookie, Value: planted}
	res, _ := victim.do(http.MethodPost, "/login", url.Values{"_csrf": {csrfFrom(t, page)}, "name": {"root"}, "password": {testPassword}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("victim login: %d", res.StatusCode)
	}
	got := victim.jar[webLoginCookie].Value
	if got == planted {
		t.Fatal("login kept the planted login id")
	}
	// The planted id is gone, and it never became root's.
	if res, _ := attacker.get("/admin"); res.StatusCode != http.StatusFound {
		t.Errorf("the planted id after the victim's login: %d, want 302 to login", res.StatusCode)
	}
	// A made-up id is not accepted either.
	forger := e.client()
	forger.jar[webLoginCookie] = &http.Cookie{Name: webLoginCookie, Value: "chosen-by-attacker"}
	if res, _ := forger.get("/"); res.StatusCode != http.StatusFound {
		t.Errorf("made-up login id: %d", res.StatusCode)
	}
}

func TestLoginExpires(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.LoginTTL = time.Hour })
	c := e.client()
	c.login("alice", testPassword)
	e.clock.Add(59 * time.Minute)
	if res, _ := c.get("/"); res.StatusCode != 200 {
		t.Fatalf("before expiry: %d", res.StatusCode)
	}
	e.clock.Add(2 * time.Minute)
	if res, _ := c.get("/"); res.StatusCode != http.StatusFound {
		t.Fatalf("after expiry: %d", res.StatusCode)
	}
}

// TestPasswordChangeOutsideTheSiteEndsWebLogins: a new password written to
// the store directly — what `jumpcast auditor add NAME` does through the
// admin socket or the data folder, without reaching the site's login
// table — ends the account's web logins at their next request, page and
// API alike; other accounts' logins and a write that changes neither
// password nor role are left alone; the old password no longer signs in.
func TestPasswordChangeOutsideTheSiteEndsWebLogins(t *testing.T) {
	e := newEnv(t, nil)
	alice, laptop, root := e.client(), e.client(), e.client()
	laptop.ip = "198.51.100.8"
	root.ip = "198.51.100.9"
	alice.login("alice", testPassword)
	laptop.login("alice", testPassword)
	root.login("root", testPassword)
	setAccount := func(a store.Account) {
		t.Helper()
		if _, err := e.store.PutAccount(t.Context(), a); err != nil {
			t.Fatal(err)
		}
	}
	old, err := e.store.GetAccount(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	setAccount(*old) // nothing changes: the logins go on
	if res, _ := alice.get("/"); res.StatusCode != 200 {
		t.Fatalf("after a write that changed nothing: %d, want 200", res.StatusCode)
	}

	const newPW = "a brand new passphrase"
	h, err := HashPassword(newPW)
	if err != nil {
		t.Fatal(err)
	}
	setAccount(store.Account{Name: "alice", PasswordHash: h, Role: store.RoleAuditor})
	if res, _ := alice.get("/"); res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("a page after the password change: %d to %q, want 302 to /login", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := laptop.get("/api/recordings"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("the API with the other login after the password change: %d, want 401", res.StatusCode)
	}
	if res, _ := root.get("/"); res.StatusCode != 200 {
		t.Errorf("another account's login: %d, want 200", res.StatusCode)
	}
	_, page := alice.get("/login")
	if res, _ := alice.do(http.MethodPost, "/login", url.Values{"_csrf": {csrfFrom(t, page)}, "name": {"alice"}, "password": {testPassword}}); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old password: %d, want 401", res.StatusCode)
	}
	alice.login("alice", newPW)
	if res, _ := alice.get("/"); res.StatusCode != 200 {
		t.Errorf("logged in with the new password: %d", res.StatusCode)
	}
}

func TestOpenRedirect(t *testing.T) {
	e := newEnv(t, nil)
	n := 0
	for next, want := range map[string]string{
		"//evil.example/x":          "/",
		"https://evil.example/":     "/",
		"/\\evil.example":           "/",
		"\\\\evil.example":          "/",
		"/\t/evil.example":          "/",
		"javascript:alert(1)":       "/",
		"http:/evil.example":        "/",
		"/login?next=//evil":        "/",
		"/%2F%2Fevil.example":       "/%2F%2Fevil.example", // a path on this site
		"/recordings/abc?q=1&x=%20": "/recordings/abc?q=1&x=%20",
		"/admin":                    "/admin",
		"%2F%2Fevil.example":        "/", // the brief's encoded form, as a literal value
		"%2f%2fevil.example/x":      "/",
		"///evil.example":           "/",
		"/%5Cevil.example":          "/%5Cevil.example", // an escaped backslash stays a path
		" //evil.example":           "/",
		"https:evil.example":        "/",
		"/\x00//evil.example":       "/",
		"/\u3000/evil.example":      "/%E3%80%80/evil.example",
	} {
		c := e.client()
		n++
		c.ip = fmt.Sprintf("203.0.113.%d", n) // one address each: stay under the login rate limit
		_, page := c.get("/login?next=" + url.QueryEscape(next))
		res, _ := c.do(http.MethodPost, "/login", url.Values{"_csrf": {csrfFrom(t, page)}, "name": {"alice"}, "password": {testPassword}, "next": {next}})
		loc := res.Header.Get("Location")
		if loc != want {
			t.Errorf("next=%q: redirected to %q, want %q", next, loc, want)
		}
		if u, err := url.Parse(loc); err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.ContainsAny(loc, "\\\t\r\n") {
			t.Errorf("next=%q: Location %q could leave the site", next, loc)
		}
		// Already logged in: GET /login?next= redirects at once, just as safely.
		res, _ = c.get("/login?next=" + url.QueryEscape(next))
		if loc := res.Header.Get("Location"); loc != want {
			t.Errorf("logged in, next=%q: redirected to %q, want %q", next, loc, want)
		}
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, nil)
	admin := e.client()
	admin.login("root", testPassword)
	tok := admin.csrf()
	form := func(csrf string) url.Values {
		v := url.Values{"name": {"carol"}, "password": {testPassword}, "role": {"auditor"}}
		if csrf != "" {
			v.Set("_csrf", csrf)
		}
		return v
	}
	for name, v := range map[string]url.Values{"missing": form(""), "wrong": form("AAAA" + tok[4:]), "other login's": form(func() string {
		o := e.client()
		o.login("root", testPassword)
		return o.csrf()
	}())} {
		res, _ := admin.do(http.MethodPost, "/admin/auditors", v)
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s token: %d, want 403", name, res.StatusCode)
		}
	}
	if _, err := e.store.GetAccount(t.Context(), "carol"); err == nil {
		t.Fatal("a POST without a valid token created an account")
	}
	res, body := admin.do(http.MethodPost, "/admin/auditors", form(tok))
	if res.StatusCode != 200 || !strings.Contains(body, "Account carol added") {
		t.Fatalf("with the token: %d", res.StatusCode)
	}
	// Logout is a form too.
	if res, _ := admin.do(http.MethodPost, "/logout", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Errorf("logout without token: %d", res.StatusCode)
	}
	// The login form has its own token.
	c := e.client()
	c.get("/login")
	if res, _ := c.do(http.MethodPost, "/login", url.Values{"name": {"alice"}, "password": {testPassword}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("login without token: %d", res.StatusCode)
	}
	// A token from another browser's login page does not work with this one's nonce.
	other := e.client()
	_, page := other.get("/login")
	if res, _ := c.do(http.MethodPost, "/login", url.Values{"_csrf": {csrfFrom(t, page)}, "name": {"alice"}, "password": {testPassword}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("login with another browser's token: %d", res.StatusCode)
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client()
	try := func(c *client, pw string) int {
		_, page := c.get("/login")
		res, _ := c.do(http.MethodPost, "/login", url.Values{"_csrf": {csrfFrom(t, page)}, "name": {"alice"}, "password": {pw}})
		return res.StatusCode
	}
	for i := range loginBurst {
		if got := try(c, "guess"); got != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, got)
		}
	}
	if got := try(c, testPassword); got != http.StatusTooManyRequests {
		t.Fatalf("attempt %d (right password): %d, want 429", loginBurst+1, got)
	}
	if c.last.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// X-Forwarded-For is not believed from an untrusted peer.
	c.hdr.Set("X-Forwarded-For", "203.0.113.99")
	if got := try(c, testPassword); got != http.StatusTooManyRequests {
		t.Errorf("spoofed X-Forwarded-For escaped the limit: %d", got)
	}
	c.hdr.Del("X-Forwarded-For")
	// Another address is not affected.
	other := e.client()
	other.ip = "198.51.100.8"
	if got := try(other, "guess"); got != http.StatusUnauthorized {
		t.Errorf("another address: %d", got)
	}
	// The bucket refills.
	e.clock.Add(loginRefill)
	if got := try(c, testPassword); got != http.StatusSeeOther {
		t.Errorf("after %s: %d, want a login", loginRefill, got)
	}
}

func TestTrustedProxy(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.TrustedProxies = []string{"198.51.100.7"} })
	try := func(xff string) int {
		c := e.client() // every request from the proxy's address
		c.hdr.Set("X-Forwarded-For", xff)
		_, page := c.get("/login")
		res, _ := c.do(http.MethodPost, "/login", url.Values{"_csrf": {csrfFrom(t, page)}, "name": {"alice"}, "password": {"guess"}})
		return res.StatusCode
	}
	for range loginBurst {
		try("203.0.113.1")
	}
	if got := try("203.0.113.1"); got != http.StatusTooManyRequests {
		t.Errorf("client behind the proxy: %d, want 429", got)
	}
	if got := try("203.0.113.2"); got != http.StatusUnauthorized {
		t.Errorf("another client behind the proxy: %d, want 401", got)
	}
	if _, err := New(Options{Store: e.store, Recordings: &recfiles.Files{Dir: e.casts}, TrustedProxies: []string{"not-an-ip"}}); err == nil {
		t.Error("a bad trusted proxy was accepted")
	}
}

// TestSharedListLinkSurvivesLogin: a filtered list link opened without a
// session comes back, filters and all, after the login; the bare list
// goes to the plain login page.
func TestSharedListLinkSurvivesLogin(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client()
	if res, _ := c.get("/"); res.Header.Get("Location") != "/login" {
		t.Errorf("bare list: redirect to %q, want /login", res.Header.Get("Location"))
	}
	shared := "/?user=carol&since=2026-11-01&screen=drop+table"
	res, _ := c.get(shared)
	if loc := res.Header.Get("Location"); loc != "/login?next="+url.QueryEscape(shared) {
		t.Fatalf("filtered list: redirect to %q", loc)
	}
	_, page := c.get(res.Header.Get("Location"))
	res, _ = c.do(http.MethodPost, "/login", url.Values{
		"_csrf": {csrfFrom(t, page)}, "name": {"alice"}, "password": {testPassword}, "next": {nextFrom(t, page)},
	})
	if loc := res.Header.Get("Location"); loc != shared {
		t.Errorf("after login: to %q, want %q", loc, shared)
	}
}

// nextFrom reads the login form's hidden next field.
func nextFrom(t *testing.T, page string) string {
	t.Helper()
	const field = `name="next" value="`
	i := strings.Index(page, field)
	if i < 0 {
		t.Fatal("no next field on the login page")
	}
	v, _, _ := strings.Cut(page[i+len(field):], `"`)
	return html.UnescapeString(v)
}
