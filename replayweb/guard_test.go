package replayweb

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/store"
)

// public routes: no data behind them.
func isPublic(path string) bool {
	return path == "/healthz" || path == "/login" || strings.HasPrefix(path, "/static")
}

// concretePath fills a route's parameters with values that exist.
func concretePath(path, id string) string {
	r := strings.NewReplacer(":id", id, ":name", "alice", "*", "app.css")
	return r.Replace(path)
}

// TestEveryRouteIsGuarded enumerates the router's routes, so a route added
// later without a guard fails here.
func TestEveryRouteIsGuarded(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Metrics = http.NotFoundHandler() })
	rec := e.addRecording(store.Recording{}, sampleCast)
	routes := e.srv.e.Routes()
	if len(routes) < 15 {
		t.Fatalf("only %d routes: the enumeration is not seeing the router", len(routes))
	}
	auditor := e.client()
	auditor.login("alice", testPassword)
	token := auditor.csrf()
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
				res, _ := auditor.do(method, path, url.Values{"_csrf": {token}, "name": {"mallory"}, "password": {"12345678901"}, "role": {"admin"}})
				if res.StatusCode != http.StatusForbidden {
					t.Errorf("auditor %s %s: %d, want 403", method, path, res.StatusCode)
				}
			}
		})
	}
	if checked < 12 {
		t.Errorf("checked only %d routes", checked)
	}
	// The auditor's attempt did not create an admin.
	if _, err := e.store.GetAuditor(t.Context(), "mallory"); err == nil {
		t.Error("an auditor created an account")
	}
}

func TestCastRouteRefusesTraversal(t *testing.T) {
	e := newEnv(t, nil)
	rec := e.addRecording(store.Recording{}, sampleCast)
	// A row whose stored path leaves the folder must not be served either.
	evil := e.addRecording(store.Recording{Path: "../index.db"}, "")
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
		if got := h.Get("Content-Security-Policy"); got != csp || !strings.Contains(got, "'wasm-unsafe-eval'") || !strings.Contains(got, "frame-ancestors 'none'") {
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
