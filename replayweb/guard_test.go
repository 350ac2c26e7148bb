package replayweb

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
	gossh "golang.org/x/crypto/ssh"
)

// public routes: no data behind them. The single sign-on routes
// (/login/oidc...) start and finish a sign-in (sso_test.go checks them);
// /login/2fa (and its passkey calls) takes the second factor of a
// password that was right (secondfactor_test.go, browser_passkey_test.go).
func isPublic(path string) bool {
	return path == "/healthz" || path == "/login" || strings.HasPrefix(path, "/login/2fa") || strings.HasPrefix(path, "/login/oidc") || strings.HasPrefix(path, "/static")
}

// concretePath fills a route's parameters with values that exist.
func concretePath(path, id string) string {
	r := strings.NewReplacer(":id", id, ":name", "alice", ":n", "0", "*", "app.css")
	return r.Replace(path)
}

// TestEveryRouteIsGuarded enumerates the router's routes, so a route added
// later without a guard fails here.
func TestEveryRouteIsGuarded(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Metrics = http.NotFoundHandler()
		o.PublicURL = "http://localhost:8080" // passkey routes too
		o.OIDC = &OIDCOptions{Issuer: "http://127.0.0.1:1", ClientID: "c", ClientSecret: "s",
			RedirectURL: "http://jumpcast.test/login/oidc/callback", Roles: map[string]string{"g": store.RoleAuditor}}
		o.Terminal = noTerminals() // the terminal's routes too
	})
	rec := e.addRecording(recording.Meta{}, sampleCast)
	routes := e.srv.e.Routes()
	if len(routes) < 15 {
		t.Fatalf("only %d routes: the enumeration is not seeing the router", len(routes))
	}
	auditor := e.client()
	auditor.login("alice", testPassword)
	token := auditor.csrf()
	e.addAccount("dan", store.RoleUser)
	user := e.client()
	user.ip = "198.51.100.8"
	user.login("dan", testPassword)
	userToken := user.csrf()
	checked := 0
	for _, r := range routes {
		method := r.Method
		if method == "echo_route_not_found" {
			method = http.MethodGet // group catch-alls: unknown paths under a guard
		}
		if method != http.MethodGet && method != http.MethodPost {
			continue
		}
		path := concretePath(r.Path, rec.ID)
		if isPublic(r.Path) {
			continue
		}
		checked++
		t.Run(method+" "+r.Path, func(t *testing.T) {
			anon := e.client()
			res, body := anon.do(method, path, url.Values{})
			switch {
			case strings.HasPrefix(r.Path, "/api") || r.Path == "/metrics":
				if res.StatusCode != http.StatusUnauthorized {
					t.Errorf("anonymous %s %s: %d, want 401", method, path, res.StatusCode)
				}
			default:
				if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
					t.Errorf("anonymous %s %s: %d %q, want 302 to /login", method, path, res.StatusCode, res.Header.Get("Location"))
				}
			}
			if strings.Contains(body, rec.ID) && r.Path != "/login" {
				t.Errorf("anonymous %s %s: the body names the recording", method, path)
			}
			if strings.HasPrefix(r.Path, "/admin") {
				for who, c := range map[string]*client{"auditor": auditor, "user": user} {
					tok := token
					if who == "user" {
						tok = userToken
					}
					res, _ := c.do(method, path, url.Values{"_csrf": {tok}, "name": {"mallory"}, "password": {"a long enough password"}, "role": {"admin"}})
					if res.StatusCode != http.StatusForbidden {
						t.Errorf("%s %s %s: %d, want 403", who, method, path, res.StatusCode)
					}
				}
			}
		})
	}
	if checked < 12 {
		t.Errorf("checked only %d routes", checked)
	}
	// Neither the auditor's nor the user's attempt created an admin.
	if _, err := e.store.GetAccount(t.Context(), "mallory"); err == nil {
		t.Error("an auditor or a user created an account")
	}
}

// noTerminals turns the terminal's routes on with nothing to open: for
// the tests that enumerate every route (the terminal's own behaviour is
// tested end to end, cmd/jumpcast/terminal_e2e_test.go).
func noTerminals() *TerminalOptions {
	return &TerminalOptions{
		Grants: func(string) []TerminalGrant { return nil },
		Open: func(string, string, net.Addr, gossh.PublicKey) (net.Conn, error) {
			return nil, errors.New("no bastion in this test")
		},
	}
}

// TestEveryRouteIsScopedForUsers enumerates the router's routes as a user
// account (role user: alice, a bastion user) by browser and by an API token
// of hers. Every route that takes a recording id must answer for bob's
// recording exactly what it answers for an unknown id, and no answer (with
// ?user=bob&q=bob on every route) may name or contain bob's recording. A
// route added later that reaches recordings without recordingFor or
// listFilter fails here.
func TestEveryRouteIsScopedForUsers(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Metrics = http.NotFoundHandler(); o.Terminal = noTerminals() })
	e.addAccount("alice", store.RoleUser)
	mine := e.addRecording(recording.Meta{User: "alice", Title: "alice works"}, sampleCast)
	theirs := e.addRecording(recording.Meta{User: "bob", Title: "bob-secret title"}, strings.ReplaceAll(sampleCast, "hello", "bob-secret"))
	unknown := recording.NewID(e.clock.Now())
	secret, tok := NewAPIToken()
	tok.Owner, tok.Name = "alice", "alice's script" // as `jumpcast token create --owner alice` makes it
	if err := e.store.PutToken(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	browser := e.client()
	browser.login("alice", testPassword)
	bearer := e.client()
	bearer.hdr.Set("Authorization", "Bearer "+secret)
	checked := 0
	for _, r := range e.srv.e.Routes() {
		method := r.Method
		if method == "echo_route_not_found" {
			method = http.MethodGet
		}
		if method != http.MethodGet && method != http.MethodPost || isPublic(r.Path) {
			continue
		}
		checked++
		t.Run(method+" "+r.Path, func(t *testing.T) {
			for who, c := range map[string]*client{"browser": browser, "token": bearer} {
				do := func(id string) (*http.Response, string) {
					form := url.Values{"name": {"mallory"}, "password": {"a long enough password"}, "role": {"admin"}}
					if c == browser {
						form.Set("_csrf", browser.csrf())
					}
					target := concretePath(r.Path, id)
					if method == http.MethodGet {
						target += "?user=bob&q=bob&remote_user=x"
						form = nil
					}
					res, body := c.do(method, target, form)
					if r.Path == "/logout" && c == browser {
						browser.login("alice", testPassword)
					}
					return res, body
				}
				res, body := do(theirs.ID)
				if strings.Contains(body, theirs.ID) || strings.Contains(body, "bob-secret") {
					t.Errorf("%s: %d: the answer names or contains bob's recording:\n%.600s", who, res.StatusCode, body)
				}
				if (strings.HasPrefix(r.Path, "/admin") || r.Path == "/metrics") && res.StatusCode != http.StatusForbidden && (who == "browser" || r.Path == "/metrics") {
					t.Errorf("%s: %d, want 403", who, res.StatusCode)
				}
				if !strings.Contains(r.Path, ":id") {
					return
				}
				uRes, uBody := do(unknown)
				uBody = strings.ReplaceAll(uBody, unknown, theirs.ID)
				if res.StatusCode != uRes.StatusCode || body != uBody || res.Header.Get("Content-Type") != uRes.Header.Get("Content-Type") {
					t.Errorf("%s: bob's recording answers %d %q, an unknown id %d %q: an existence oracle", who, res.StatusCode, body, uRes.StatusCode, uBody)
				}
				ownRoute := who == "browser" && strings.HasPrefix(r.Path, "/recordings/") || who == "token" && strings.HasPrefix(r.Path, "/api/recordings/")
				if ownRoute && res.StatusCode != http.StatusNotFound {
					t.Errorf("%s: bob's recording: %d, want 404", who, res.StatusCode)
				}
				if ownRoute && method == http.MethodGet {
					if res, _ := do(mine.ID); res.StatusCode != http.StatusOK {
						t.Errorf("%s: her own recording: %d, want 200", who, res.StatusCode)
					}
				}
			}
		})
	}
	if checked < 12 {
		t.Errorf("checked only %d routes", checked)
	}
	if ev := auditOf(t, e, theirs.ID); len(ev) != 0 {
		t.Errorf("audit events about bob's recording: %v", ev)
	}
	if a, err := e.store.GetAccount(t.Context(), "alice"); err != nil || a.Role != store.RoleUser {
		t.Errorf("alice after the run: %+v, %v", a, err)
	}
	if _, err := e.store.GetAccount(t.Context(), "mallory"); err == nil {
		t.Error("a user created an account")
	}
}

func TestCastRouteRefusesTraversal(t *testing.T) {
	e := newEnv(t, nil)
	rec := e.addRecording(recording.Meta{}, sampleCast)
	// A row whose stored path leaves the folder must not be served either.
	evil := e.addRecording(recording.Meta{Path: "../index.db"}, "")
	c := e.client()
	c.login("alice", testPassword)
	for _, target := range []string{
		"/recordings/..%2F..%2Findex.db/cast",
		"/recordings/..%2findex.db/cast",
		"/recordings/%2e%2e%2f%2e%2e%2findex.db/cast",
		"/recordings/" + rec.ID + "%2F..%2F..%2Findex.db/cast",
		"/recordings/" + url.PathEscape("../../index.db") + "/cast",
		"/recordings/..;/cast",
		"/api/recordings/..%2F..%2Findex.db/cast",
		"/api/recordings/" + strings.ToLower(rec.ID) + "/cast", // always differs: T and Z
		"/recordings/20261124T090000.000000Z-00000000/cast",    // valid form, unknown
		"/recordings/" + evil.ID + "/cast",
		"/recordings/" + rec.ID + "/../../index.db",
		"/static/../index.db",
		"/static/..%2F..%2Findex.db",
		"/static/%2e%2e/%2e%2e/index.db",
	} {
		res, body := c.get(target)
		if res.StatusCode == http.StatusOK {
			t.Errorf("GET %s: 200, want a refusal", target)
		}
		if strings.Contains(body, "bolt") || strings.Contains(body, "\x00\x00") {
			t.Errorf("GET %s: body looks like the index file", target)
		}
	}
	if res, body := c.get("/recordings/" + rec.ID + "/cast"); res.StatusCode != 200 || body != sampleCast {
		t.Errorf("the real cast: %d %q", res.StatusCode, body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client()
	for _, target := range []string{"/login", "/", "/healthz", "/nope", "/static/app.css"} {
		res, _ := c.get(target)
		h := res.Header
		if got := h.Get("Content-Security-Policy"); got != csp || strings.Contains(got, "eval") || strings.Contains(got, "unsafe") || !strings.Contains(got, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", target, got)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: nosniff %q, referrer %q", target, h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
		}
	}
	res, body := c.get("/healthz")
	if res.StatusCode != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", res.StatusCode, body)
	}
}
