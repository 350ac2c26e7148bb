package replayweb

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

// Hostile-input tests of the web site (issue 7 item 9) that the route
// guard, login and page tests do not already cover.

// TestEveryPostNeedsCSRF enumerates the router's POST routes: a logged-in
// admin's browser that posts without the login's token (a forged
// cross-site form) changes nothing, whatever the route.
func TestEveryPostNeedsCSRF(t *testing.T) {
	e := newEnv(t, nil)
	e.addAccount("victim", store.RoleAuditor)
	secret, tok := NewAPIToken()
	tok.Owner, tok.Name = "root", "kept"
	if err := e.store.PutToken(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	admin := e.client()
	admin.login("root", testPassword)
	other := e.client()
	other.ip = "198.51.100.20"
	other.login("root", testPassword)
	otherTok := other.csrf()

	posts := 0
	for _, r := range e.srv.e.Routes() {
		if r.Method != http.MethodPost || r.Path == "/login" || r.Path == "/login/2fa" {
			continue // the login forms' own tokens are tested in TestCSRF and TestSecondFactorForm
		}
		posts++
		path := strings.NewReplacer(":name", "victim", ":id", tok.ID).Replace(r.Path)
		form := url.Values{"name": {"mallory"}, "password": {"a long enough password"}, "role": {"admin"}}
		for what, set := range map[string]func(url.Values, *client){
			"no token":              func(url.Values, *client) {},
			"empty token":           func(v url.Values, _ *client) { v.Set("_csrf", "") },
			"another login's":       func(v url.Values, _ *client) { v.Set("_csrf", otherTok) },
			"another's in a header": func(_ url.Values, c *client) { c.hdr.Set("X-CSRF-Token", otherTok) },
			"login form token":      func(v url.Values, _ *client) { v.Set("_csrf", e.srv.loginCSRF.token("nonce")) },
		} {
			v := url.Values{}
			for k, vs := range form {
				v[k] = vs
			}
			set(v, admin)
			res, _ := admin.do(http.MethodPost, path, v)
			admin.hdr.Del("X-CSRF-Token")
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with %s: %d, want 403", path, what, res.StatusCode)
			}
		}
	}
	if posts < 5 {
		t.Fatalf("only %d POST routes enumerated", posts)
	}
	// Nothing changed: no account made or removed, the token works, the
	// admin is still logged in.
	if _, err := e.store.GetAccount(t.Context(), "mallory"); err == nil {
		t.Error("a forged POST created an account")
	}
	if _, err := e.store.GetAccount(t.Context(), "victim"); err != nil {
		t.Error("a forged POST deleted an account")
	}
	api := e.client()
	api.hdr.Set("Authorization", "Bearer "+secret)
	if res, _ := api.get("/api/recordings"); res.StatusCode != 200 {
		t.Errorf("a forged POST revoked a token: %d", res.StatusCode)
	}
	if res, _ := admin.get("/admin"); res.StatusCode != 200 {
		t.Errorf("a forged POST logged the admin out: %d", res.StatusCode)
	}
	// State never changes on GET.
	for _, p := range []string{"/logout", "/admin/auditors/victim/delete", "/admin/tokens/" + tok.ID + "/delete"} {
		if res, _ := admin.get(p); res.StatusCode == 200 || res.StatusCode == http.StatusSeeOther {
			t.Errorf("GET %s: %d", p, res.StatusCode)
		}
	}
	if _, err := e.store.GetAccount(t.Context(), "victim"); err != nil {
		t.Error("a GET deleted an account")
	}
}

// TestWrongRoleAndStaleLogins: an API token (even an admin's) is no key to
// the pages or the admin forms; a demoted or deleted account loses its
// rights at once, including an admin who demotes themselves.
func TestWrongRoleAndStaleLogins(t *testing.T) {
	e := newEnv(t, nil)
	e.addAccount("ops", store.RoleAdmin)
	secret, tok := NewAPIToken()
	tok.Owner, tok.Name = "root", "admin's token"
	if err := e.store.PutToken(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	bearer := e.client()
	bearer.hdr.Set("Authorization", "Bearer "+secret)
	for _, r := range e.srv.e.Routes() {
		if strings.HasPrefix(r.Path, "/api") || r.Path == "/metrics" || isPublic(r.Path) || (r.Method != http.MethodGet && r.Method != http.MethodPost) {
			continue
		}
		path := strings.NewReplacer(":name", "ops", ":id", tok.ID).Replace(r.Path)
		res, _ := bearer.do(r.Method, path, url.Values{"name": {"mallory"}, "password": {"a long enough password"}, "role": {"admin"}})
		if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
			t.Errorf("admin's API token on %s %s: %d, want 302 to /login", r.Method, path, res.StatusCode)
		}
	}
	if _, err := e.store.GetAccount(t.Context(), "mallory"); err == nil {
		t.Error("an API token created an account")
	}

	// ops is demoted by root: ops's open login is admin no more.
	ops := e.client()
	ops.ip = "198.51.100.30"
	ops.login("ops", testPassword)
	root := e.client()
	root.login("root", testPassword)
	root.do(http.MethodPost, "/admin/auditors", url.Values{"_csrf": {root.csrf()}, "name": {"ops"}, "password": {"a long enough password"}, "role": {"auditor"}})
	if res, _ := ops.get("/admin"); res.StatusCode == 200 {
		t.Error("a demoted admin's open login still reaches /admin")
	}

	// root resets its own password: its other browser is logged out, this
	// one goes on.
	laptop := e.client()
	laptop.ip = "198.51.100.33"
	laptop.login("root", testPassword)
	before := *root.jar[webLoginCookie]
	if res, body := root.do(http.MethodPost, "/admin/auditors", url.Values{"_csrf": {root.csrf()}, "name": {"root"}, "password": {testPassword}, "role": {"admin"}}); res.StatusCode != 200 || !strings.Contains(body, "your other web logins were ended") {
		t.Fatalf("own password reset: %d", res.StatusCode)
	}
	if res, _ := laptop.get("/"); res.StatusCode != http.StatusFound {
		t.Errorf("root's other login after its password reset: %d, want 302", res.StatusCode)
	}
	if res, _ := root.get("/admin"); res.StatusCode != 200 {
		t.Errorf("the login that reset its own password: %d, want 200", res.StatusCode)
	}
	if root.jar[webLoginCookie].Value == before.Value {
		t.Error("the login that reset its own password kept its id")
	}
	copied := e.client() // a copy of that browser's cookie from before the reset
	copied.jar[webLoginCookie] = &before
	if res, _ := copied.get("/"); res.StatusCode != http.StatusFound {
		t.Errorf("the login id from before the reset: %d, want 302", res.StatusCode)
	}

	// root demotes itself: the login that did it is not an admin's any more.
	res, _ := root.do(http.MethodPost, "/admin/auditors", url.Values{"_csrf": {root.csrf()}, "name": {"root"}, "password": {testPassword}, "role": {"auditor"}})
	if res.StatusCode >= 400 {
		t.Fatalf("self-demotion: %d", res.StatusCode)
	}
	if res, _ := root.get("/admin"); res.StatusCode == 200 {
		t.Error("an admin who demoted themselves still reaches /admin")
	}

	// A deleted account's login ends.
	e.addAccount("gone", store.RoleAuditor)
	gone := e.client()
	gone.ip = "198.51.100.31"
	gone.login("gone", testPassword)
	boss := e.client()
	boss.ip = "198.51.100.32"
	e.addAccount("boss", store.RoleAdmin)
	boss.login("boss", testPassword)
	boss.do(http.MethodPost, "/admin/auditors/gone/delete", url.Values{"_csrf": {boss.csrf()}})
	if res, _ := gone.get("/"); res.StatusCode != http.StatusFound {
		t.Errorf("a deleted account's login: %d, want 302 to login", res.StatusCode)
	}
}

// TestLoginIDs: every login gets a new id, the pre-login cookie is never a
// login and is dropped at login, and a logged-out id cannot be replayed.
func TestLoginIDs(t *testing.T) {
	for _, secure := range []bool{false, true} {
		e := newEnv(t, func(o *Options) { o.Secure = secure })
		cookieName, nonceName := webLoginCookie, loginNonceCookie
		if secure {
			cookieName, nonceName = secureWebLoginCookie, secureLoginNonceCookie
		}
		c := e.client()
		res, page := c.get("/login")
		pre := findCookie(res, nonceName)
		if pre == nil {
			t.Fatalf("secure=%v: the login page set no %s cookie", secure, nonceName)
		}
		checkFlags(t, pre, secure)
		// The pre-login cookie's value does not work as a login.
		forger := e.client()
		forger.jar[cookieName] = &http.Cookie{Name: cookieName, Value: pre.Value}
		if res, _ := forger.get("/"); res.StatusCode != http.StatusFound {
			t.Errorf("secure=%v: the pre-login cookie as a login: %d", secure, res.StatusCode)
		}
		res, _ = c.do(http.MethodPost, "/login", url.Values{"_csrf": {csrfFrom(t, page)}, "name": {"alice"}, "password": {testPassword}})
		first := findCookie(res, cookieName)
		if first == nil || first.Value == pre.Value {
			t.Fatalf("secure=%v: login set %v", secure, res.Header["Set-Cookie"])
		}
		if gone := findCookie(res, nonceName); gone == nil || gone.MaxAge >= 0 {
			t.Errorf("secure=%v: login did not delete the pre-login cookie", secure)
		}
		for _, ck := range res.Cookies() {
			checkFlags(t, ck, secure)
		}
		// Logout ends the id on the server: replaying the cookie fails.
		res, _ = c.do(http.MethodPost, "/logout", url.Values{"_csrf": {c.csrf()}})
		if del := findCookie(res, cookieName); del == nil || del.MaxAge >= 0 {
			t.Errorf("secure=%v: logout did not delete the cookie", secure)
		} else {
			checkFlags(t, del, secure)
		}
		replay := e.client()
		replay.jar[cookieName] = first
		if res, _ := replay.get("/"); res.StatusCode != http.StatusFound {
			t.Errorf("secure=%v: a logged-out id replayed: %d", secure, res.StatusCode)
		}
		// A second login gets another id.
		res = c.login("alice", testPassword)
		if second := findCookie(res, cookieName); second == nil || second.Value == first.Value {
			t.Errorf("secure=%v: a second login reused the id", secure)
		}
		// Without TLS the __Host- cookie is not read, and the reverse.
		other := webLoginCookie
		if !secure {
			other = secureWebLoginCookie
		}
		swapped := e.client()
		swapped.jar[other] = &http.Cookie{Name: other, Value: c.jar[cookieName].Value}
		if res, _ := swapped.get("/"); res.StatusCode != http.StatusFound {
			t.Errorf("secure=%v: the login under the name %s: %d", secure, other, res.StatusCode)
		}
	}
}

func findCookie(res *http.Response, name string) *http.Cookie {
	for _, ck := range res.Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

func checkFlags(t *testing.T, ck *http.Cookie, secure bool) {
	t.Helper()
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure != secure || ck.Path != "/" || ck.Domain != "" {
		t.Errorf("cookie %s (secure=%v): HttpOnly=%v SameSite=%v Secure=%v Path=%q Domain=%q",
			ck.Name, secure, ck.HttpOnly, ck.SameSite, ck.Secure, ck.Path, ck.Domain)
	}
	if secure != strings.HasPrefix(ck.Name, "__Host-") {
		t.Errorf("cookie %s (secure=%v): the __Host- prefix goes with TLS", ck.Name, secure)
	}
}

// TestStreamedBodyOverLimit: bodies over the limit are refused with 413 also
// when they are streamed (chunked, no Content-Length) or multipart, on the
// login form and on the forms behind a session, over a real HTTP server.
func TestStreamedBodyOverLimit(t *testing.T) {
	e := newEnv(t, nil)
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	admin := e.client()
	admin.login("root", testPassword)
	ck := admin.jar[webLoginCookie]
	tok := admin.csrf()

	big := "_csrf=" + tok + "&name=" + strings.Repeat("a", maxBody+1)
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("_csrf", tok)
	_ = mw.WriteField("name", strings.Repeat("b", maxBody+1))
	_ = mw.Close()
	for _, tc := range []struct {
		name, path, ctype string
		body              []byte
	}{
		{"chunked login form", "/login", "application/x-www-form-urlencoded", []byte(big)},
		{"chunked admin form", "/admin/tokens", "application/x-www-form-urlencoded", []byte(big)},
		{"chunked multipart admin form", "/admin/auditors", mw.FormDataContentType(), mp.Bytes()},
		{"chunked logout", "/logout", "application/x-www-form-urlencoded", []byte(big)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A reader of unknown length makes net/http send it chunked.
			req, err := http.NewRequest(http.MethodPost, ts.URL+tc.path, io.MultiReader(bytes.NewReader(tc.body)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tc.ctype)
			req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
			res, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			if req.ContentLength != 0 {
				t.Fatalf("the request has a length, so it is not streamed")
			}
			if res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("%s: %d, want 413", tc.path, res.StatusCode)
			}
		})
	}
	// The limit leaves room for real forms: a token with a long name is made.
	if res, body := admin.do(http.MethodPost, "/admin/tokens", url.Values{"_csrf": {tok}, "name": {strings.Repeat("n", 100)}}); res.StatusCode != 200 || !strings.Contains(body, "new-secret") {
		t.Errorf("a normal form: %d", res.StatusCode)
	}
	if res, _ := admin.get("/"); res.StatusCode != 200 {
		t.Errorf("the admin was logged out by the refused posts: %d", res.StatusCode)
	}
}

// evilFields puts a distinct HTML payload in every text field of a
// recording that comes from an admin's ssh client or from a target.
func evilFields() recording.Meta {
	p := func(f string) string { return `<x-evil-` + f + ` onmouseover="alert(1)">"'&` }
	return recording.Meta{
		User: p("user"), KeyFingerprint: p("key"), RemoteUser: p("remote"), TargetAlias: p("alias"),
		TargetAddr: p("addr"), ClientAddr: p("client"), Kind: p("kind"), Command: p("command"), Title: p("title"),
		Term: p("term"), ExitSignal: p("signal"), Error: p("error"), Status: recording.StatusFailed,
	}
}

var rawEvil = regexp.MustCompile(`<x-evil|<script>alert`)

// TestHostileFieldsEscapedEverywhere renders every field that an admin or
// a target controls on the list, the recording page, the admin page, error
// pages and the JSON API: no payload appears as markup anywhere.
func TestHostileFieldsEscapedEverywhere(t *testing.T) {
	e := newEnv(t, nil)
	rec := e.addRecording(evilFields(), sampleCast)
	// Account and token names are validated by the forms, but the store may
	// hold others (an older version, a restore): they are escaped too.
	if _, err := e.store.PutAccount(t.Context(), store.Account{Name: `<x-evil-account>`, Role: store.RoleAuditor, PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	_, tok := NewAPIToken()
	tok.Owner, tok.Name = "root", `<x-evil-token>`
	if err := e.store.PutToken(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.login("root", testPassword)
	mustEscape := map[string][]string{
		"/":                     {"user", "remote", "alias", "client", "kind", "command", "title", "signal"},
		"/recordings/" + rec.ID: {"user", "key", "remote", "alias", "addr", "client", "kind", "command", "title", "term", "error"},
		"/?q=" + url.QueryEscape(`<script>alert(1)</script>`) + "&user=" + url.QueryEscape(`<x-evil-filter>`): nil,
		"/?status=" + url.QueryEscape(`<script>alert(1)</script>`):                                            nil,
		"/?since=" + url.QueryEscape(`<script>alert(1)</script>`):                                             nil,
		"/recordings/" + url.PathEscape(`<script>alert(1)</script>`):                                          nil,
		"/admin": nil,
	}
	for target, fields := range mustEscape {
		res, body := c.get(target)
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: Content-Type %q", target, ct)
		}
		if m := rawEvil.FindString(body); m != "" {
			t.Errorf("%s (%d): raw %q in the page", target, res.StatusCode, m)
		}
		for _, f := range fields {
			if !strings.Contains(body, "&lt;x-evil-"+f+" onmouseover=&#34;alert(1)&#34;&gt;&#34;&#39;&amp;") {
				t.Errorf("%s: the escaped %s field is missing", target, f)
			}
		}
	}
	if _, body := c.get("/admin"); !strings.Contains(body, "&lt;x-evil-account&gt;") || !strings.Contains(body, "&lt;x-evil-token&gt;") {
		t.Error("/admin: the escaped account or token name is missing")
	}
	for _, target := range []string{"/api/recordings", "/api/recordings/" + rec.ID, "/api/recordings?status=" + url.QueryEscape("<x-evil-q>"), "/api/recordings/" + url.PathEscape("<x-evil-id>")} {
		res, body := c.get(target)
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: Content-Type %q, nosniff %q", target, ct, res.Header.Get("X-Content-Type-Options"))
		}
		if strings.ContainsAny(body, "<>") {
			t.Errorf("%s: '<' or '>' unescaped in JSON: %.300s", target, body)
		}
		if !json.Valid([]byte(body)) {
			t.Errorf("%s: invalid JSON", target)
		}
	}
	var got recording.Meta
	if _, body := c.get("/api/recordings/" + rec.ID); json.Unmarshal([]byte(body), &got) != nil || got.Command != evilFields().Command {
		t.Errorf("the API does not round-trip the command: %q", got.Command)
	}
}

// TestPathTricksOnGuardedRoutes: spellings of guarded paths (case, double
// slashes, dot segments, encoded slashes, trailing slashes, other methods)
// never reach a guarded page without its guard: anonymously nothing is
// served, and an auditor never sees the admin page.
func TestPathTricksOnGuardedRoutes(t *testing.T) {
	e := newEnv(t, nil)
	rec := e.addRecording(recording.Meta{}, sampleCast)
	auditor := e.client()
	auditor.login("alice", testPassword)
	anon := e.client()
	adminTricks := []string{"/admin/", "/ADMIN", "/Admin", "//admin", "/./admin", "/api/../admin", "/admin%2F", "/%61dmin", "/admin;x", "/admin?x=/api", "/static/../admin", "/admin/.", "/admin/..%2Fadmin"}
	for _, p := range adminTricks {
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodOptions} {
			res, body := auditor.do(m, p, url.Values{})
			if res.StatusCode == 200 || strings.Contains(body, "API tokens") {
				t.Errorf("auditor %s %s: %d, the admin page?", m, p, res.StatusCode)
			}
		}
	}
	for _, p := range []string{
		"/recordings/" + rec.ID + "/", "//recordings/" + rec.ID + "/cast", "/RECORDINGS/" + rec.ID + "/cast",
		"/recordings/./" + rec.ID + "/cast", "/%72ecordings/" + rec.ID + "/cast", "/recordings%2F" + rec.ID + "%2Fcast",
		"/api/recordings/" + rec.ID + "/cast/", "/API/recordings", "/static/../recordings/" + rec.ID + "/cast",
	} {
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
			res, body := anon.do(m, p, nil)
			if res.StatusCode == 200 || strings.Contains(body, "hello") || strings.Contains(body, rec.ID) && !strings.HasPrefix(res.Header.Get("Location"), "/login") {
				t.Errorf("anonymous %s %s: %d %.80q", m, p, res.StatusCode, body)
			}
		}
	}
}
