package replayweb

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/jumpcast/jumpcast/internal/audit"
)

var (
	totpSecretRE = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
	recoveryRE   = regexp.MustCompile(`<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>`)
)

// codeAt is what an authenticator app shows for secret at t.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totpOpts)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// enrolTOTP sets up an authenticator app from the account page of a
// logged-in client and returns its secret and the recovery codes shown.
func enrolTOTP(t *testing.T, e *env, c *client) (string, []string) {
	t.Helper()
	_, page := c.get("/account")
	res, page := c.do(http.MethodPost, "/account/totp", url.Values{"_csrf": {csrfFrom(t, page)}})
	m := totpSecretRE.FindStringSubmatch(page)
	if res.StatusCode != http.StatusOK || m == nil || !strings.Contains(page, `src="data:image/png;base64,`) || !strings.Contains(page, "otpauth://totp/") {
		t.Fatalf("offer: %d\n%.2000s", res.StatusCode, page)
	}
	res, page = c.do(http.MethodPost, "/account/totp/confirm", url.Values{"_csrf": {csrfFrom(t, page)}, "code": {codeAt(t, m[1], e.clock.Now())}})
	codes := recoveryRE.FindAllStringSubmatch(page, -1)
	if res.StatusCode != http.StatusOK || len(codes) != recoveryCodes {
		t.Fatalf("confirm: %d, %d codes\n%.2000s", res.StatusCode, len(codes), page)
	}
	var out []string
	for _, c := range codes {
		out = append(out, c[1])
	}
	return m[1], out
}

// password signs in with the password only and returns the answer.
func password(t *testing.T, c *client, name string) *http.Response {
	t.Helper()
	_, page := c.get("/login")
	res, _ := c.do(http.MethodPost, "/login", url.Values{"_csrf": {csrfFrom(t, page)}, "name": {name}, "password": {testPassword}})
	return res
}

// second sends code at the second-factor form.
func second(t *testing.T, c *client, code string) (*http.Response, string) {
	t.Helper()
	_, page := c.get("/login/2fa")
	return c.do(http.MethodPost, "/login/2fa", url.Values{"_csrf": {csrfFrom(t, page)}, "code": {code}})
}

// TestTOTPEnrolAndSignIn: alice sets up an authenticator app; her next
// sign-in asks for its code after the password, reaches nothing before
// it, accepts the right code once and never again, and audits each step.
func TestTOTPEnrolAndSignIn(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client()
	c.login("alice", testPassword)
	secret, _ := enrolTOTP(t, e, c)
	if !auditHas(t, e, audit.KindWebAdmin, audit.OutcomeOK, "alice", "") {
		t.Error("enrolment not audited")
	}
	if _, page := c.get("/account"); !strings.Contains(page, "Set up: sign-ins ask for its code") || !strings.Contains(page, "10 unused") {
		t.Errorf("account page after enrolment:\n%.2000s", page)
	}

	b := e.client()
	res := password(t, b, "alice")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login/2fa" {
		t.Fatalf("password: %d to %q, want the second factor", res.StatusCode, res.Header.Get("Location"))
	}
	for _, p := range []string{"/", "/audit", "/account", "/api/recordings"} {
		if res, _ := b.get(p); res.StatusCode < 300 {
			t.Errorf("before the second factor %s answers %d", p, res.StatusCode)
		}
	}
	e.clock.Add(31 * time.Second) // the enrolment used this step's code
	code := codeAt(t, secret, e.clock.Now())
	if res, body := second(t, b, "000000"); res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "not right") {
		t.Errorf("wrong code: %d", res.StatusCode)
	}
	if res, body := second(t, b, code); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("right code: %d\n%.1000s", res.StatusCode, body)
	}
	if res, _ := b.get("/"); res.StatusCode != http.StatusOK {
		t.Errorf("after the second factor the list answers %d", res.StatusCode)
	}
	if !auditHas(t, e, audit.KindWebLogin, audit.OutcomeDenied, "alice", audit.ReasonWrongSecondFactor) {
		t.Error("wrong code not audited")
	}

	// The same code again, in another browser, within its 30 seconds.
	r := e.client()
	r.ip = "198.51.100.9"
	password(t, r, "alice")
	if res, body := second(t, r, code); res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "used already") {
		t.Errorf("replayed code: %d\n%.800s", res.StatusCode, body)
	}
	if !auditHas(t, e, audit.KindWebLogin, audit.OutcomeDenied, "alice", audit.ReasonCodeReplayed) {
		t.Error("replay not audited")
	}
	e.clock.Add(30 * time.Second)
	if res, _ := second(t, r, codeAt(t, secret, e.clock.Now())); res.StatusCode != http.StatusSeeOther {
		t.Errorf("next step's code: %d", res.StatusCode)
	}
}

// TestTOTPTriesAndRecoveryCodes: five wrong codes send the person back to
// the password; a recovery code signs in once, and only once.
func TestTOTPTriesAndRecoveryCodes(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client()
	c.login("alice", testPassword)
	_, codes := enrolTOTP(t, e, c)

	b := e.client()
	password(t, b, "alice")
	for i := range maxFactorTries {
		e.clock.Add(13 * time.Second) // below the per-address rate limit
		res, body := second(t, b, "123456")
		if i == maxFactorTries-1 && !strings.Contains(body, "Too many wrong codes") {
			t.Errorf("try %d: %d\n%.600s", i+1, res.StatusCode, body)
		}
	}
	if res, _ := b.get("/login/2fa"); res.StatusCode != http.StatusFound {
		t.Errorf("after too many tries the form answers %d, want back to the password", res.StatusCode)
	}
	if !auditHas(t, e, audit.KindWebLogin, audit.OutcomeDenied, "alice", audit.ReasonTooManyFactorTries) {
		t.Error("too many tries not audited")
	}

	e.clock.Add(time.Minute) // the rate limit refills
	r := e.client()
	r.ip = "198.51.100.10"
	password(t, r, "alice")
	if res, body := second(t, r, strings.ToUpper(strings.Replace(codes[3], "-", " ", 1))); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("recovery code: %d\n%.800s", res.StatusCode, body)
	}
	r2 := e.client()
	r2.ip = "198.51.100.11"
	password(t, r2, "alice")
	if res, _ := second(t, r2, codes[3]); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a used recovery code: %d", res.StatusCode)
	}
	if _, page := r.get("/account"); !strings.Contains(page, "9 unused") {
		t.Errorf("account page after a recovery code:\n%.1500s", page)
	}
}

// TestSecondFactorRequired: with a second factor required, an account
// without one signs in only to its account page: every other page
// redirects there and every other request is refused, until it enrols.
func TestSecondFactorRequired(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RequireSecondFactor = true })
	c := e.client()
	res := password(t, c, "root")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account" {
		t.Fatalf("password: %d to %q, want /account", res.StatusCode, res.Header.Get("Location"))
	}
	_, page := c.get("/account")
	if !strings.Contains(page, `id="must-enroll"`) {
		t.Errorf("account page does not say a second factor is required:\n%.1500s", page)
	}
	tok := csrfFrom(t, page)
	for _, p := range []string{"/", "/audit", "/admin", "/recordings/x"} {
		if res, _ := c.get(p); res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/account" {
			t.Errorf("GET %s: %d to %q, want /account", p, res.StatusCode, res.Header.Get("Location"))
		}
	}
	if res, _ := c.get("/api/recordings"); res.StatusCode != http.StatusForbidden {
		t.Errorf("API before enrolment: %d", res.StatusCode)
	}
	if res, _ := c.do(http.MethodPost, "/admin/auditors", url.Values{"_csrf": {tok}, "name": {"eve"}, "password": {testPassword}, "role": {"admin"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("admin action before enrolment: %d", res.StatusCode)
	}
	enrolTOTP(t, e, c)
	if res, _ := c.get("/admin"); res.StatusCode != http.StatusOK {
		t.Errorf("after enrolment /admin answers %d", res.StatusCode)
	}
}

// TestSecondFactorForm: the second-factor form needs its own token, and
// a password alone never opens a page.
func TestSecondFactorForm(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.PublicURL = "http://localhost:8080" })
	c := e.client()
	c.login("alice", testPassword)
	secret, _ := enrolTOTP(t, e, c)
	e.clock.Add(31 * time.Second)
	b := e.client()
	password(t, b, "alice")
	res, _ := b.do(http.MethodPost, "/login/2fa", url.Values{"_csrf": {"forged"}, "code": {codeAt(t, secret, e.clock.Now())}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("forged token: %d", res.StatusCode)
	}
	if res, _ := e.client().do(http.MethodPost, "/login/2fa", url.Values{"code": {"123456"}}); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("no pending sign-in: %d", res.StatusCode)
	}
	// The passkey calls: a pending sign-in and its form token, or nothing.
	for _, path := range []string{"/login/2fa/passkey/begin", "/login/2fa/passkey/finish"} {
		if res, _ := e.client().do(http.MethodPost, path, url.Values{}); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without a pending sign-in: %d", path, res.StatusCode)
		}
		b.hdr.Set("X-CSRF-Token", "forged")
		if res, _ := b.do(http.MethodPost, path, url.Values{}); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s with a forged token: %d", path, res.StatusCode)
		}
		b.hdr.Del("X-CSRF-Token")
	}
}
