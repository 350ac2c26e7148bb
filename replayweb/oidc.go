package replayweb

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/store"
)

// OIDCOptions configure single sign-on through an OpenID provider: the
// authorization code flow with PKCE (S256), state and nonce checked, the
// ID token verified by go-oidc (signature from the provider's JWKS,
// issuer, audience, expiry). Issuer, ClientID, ClientSecret, RedirectURL
// and Roles are required.
type OIDCOptions struct {
	// Name is what the login button says after "Log in with".
	Name string
	// Issuer is the provider's issuer URL (discovery is read from it the
	// first time someone signs in, and again after a failure).
	Issuer   string
	ClientID string
	// ClientSecret is the client's secret; it is sent to the token
	// endpoint only, and never logged.
	ClientSecret string
	// RedirectURL is this site's /login/oidc/callback as registered at
	// the provider.
	RedirectURL string
	// Scopes asked for besides "openid".
	Scopes []string
	// RoleClaim is the claim holding the person's groups (a list of
	// strings or one string); it is read from the ID token, or from the
	// userinfo endpoint when the ID token lacks it.
	RoleClaim string
	// Roles maps a group to store.RoleAdmin, RoleAuditor or RoleUser;
	// the most privileged match wins, no match refuses the sign-in.
	Roles map[string]string
	// UserClaim names the person; for RoleUser it is their bastion user
	// name, so they see the recordings of their own sessions.
	UserClaim string
	// PostLogoutRedirectURL, when set, is sent to the provider's
	// end-session endpoint as post_logout_redirect_uri.
	PostLogoutRedirectURL string
	// HTTPClient makes the calls to the provider; nil means a client with
	// a 15-second timeout.
	HTTPClient *http.Client
	// TokenClock is the time ID tokens' expiry is checked against; nil
	// means time.Now (the provider's clock, not the site's test clock).
	TokenClock func() time.Time
}

// Cookies of a sign-in in progress at the provider. They are
// SameSite=Lax, unlike the others: the provider sends the browser back
// with a cross-site top-level GET, on which Strict cookies are withheld.
const (
	oidcFlowCookie       = "jc_oidc"
	secureOIDCFlowCookie = "__Host-jc_oidc"
	// oidcFlowTTL is how long a person may take at the provider's login page.
	oidcFlowTTL = 10 * time.Minute
)

// oidcFlow is one sign-in sent to the provider, kept server-side under
// the random value of the browser's flow cookie; it is used once.
type oidcFlow struct {
	state, nonce, verifier, next string
}

// ssoClient is the site's side of single sign-on. The provider's
// discovery document is fetched lazily, so the site starts while the
// provider is down.
type ssoClient struct {
	o OIDCOptions

	mu       sync.Mutex // guards provider and endSession
	provider *oidc.Provider
	// endSession is the provider's end_session_endpoint, "" when it has none.
	endSession string
	flows      *onceMap[*oidcFlow] // by flow cookie value
}

func newSSOClient(o OIDCOptions, now func() time.Time) (*ssoClient, error) {
	if o.Issuer == "" || o.ClientID == "" || o.ClientSecret == "" || o.RedirectURL == "" || len(o.Roles) == 0 {
		return nil, errors.New("replayweb: OIDC needs Issuer, ClientID, ClientSecret, RedirectURL and Roles")
	}
	for g, r := range o.Roles {
		if !store.ValidRole(r) {
			return nil, fmt.Errorf("replayweb: OIDC group %q maps to unknown role %q", g, r)
		}
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if o.RoleClaim == "" {
		o.RoleClaim = "groups"
	}
	if o.UserClaim == "" {
		o.UserClaim = "preferred_username"
	}
	return &ssoClient{o: o, flows: newOnceMap[*oidcFlow](oidcFlowTTL, now)}, nil
}

func (c *ssoClient) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, c.o.HTTPClient)
}

// discover returns the provider, reading its discovery document once.
func (c *ssoClient) discover(ctx context.Context) (*oidc.Provider, error) {
	c.mu.Lock()
	p := c.provider
	c.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := oidc.NewProvider(c.ctx(ctx), c.o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", c.o.Issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = p.Claims(&meta) // a document without it has no end-session endpoint
	c.mu.Lock()
	defer c.mu.Unlock()
	c.provider, c.endSession = p, meta.EndSession
	return p, nil
}

func (c *ssoClient) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID: c.o.ClientID, ClientSecret: c.o.ClientSecret, RedirectURL: c.o.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: append([]string{oidc.ScopeOpenID}, c.o.Scopes...),
	}
}

// verify checks an ID token's signature (the provider's keys), issuer,
// expiry and audience: it must be issued to this site's client id, so a
// token the same provider issued to another application is refused.
func (c *ssoClient) verify(ctx context.Context, p *oidc.Provider, raw string) (*oidc.IDToken, error) {
	return p.Verifier(&oidc.Config{ClientID: c.o.ClientID, Now: c.o.TokenClock}).Verify(ctx, raw)
}

// begin stores a new flow under a fresh cookie value and returns both.
func (c *ssoClient) begin(next string) (string, *oidcFlow) {
	f := &oidcFlow{state: randomToken(), nonce: randomToken(), verifier: oauth2.GenerateVerifier(), next: next}
	id := randomToken()
	c.flows.put(id, f)
	return id, f
}

// role maps groups to the most privileged role any of them gives, and
// the group that gave it; "" when none maps.
func (c *ssoClient) role(groups []string) (role, group string) {
	rank := map[string]int{store.RoleUser: 1, store.RoleAuditor: 2, store.RoleAdmin: 3}
	for _, g := range groups {
		if r, ok := c.o.Roles[g]; ok && rank[r] > rank[role] {
			role, group = r, g
		}
	}
	return role, group
}

func (s *Server) oidcFlowCookieName() string {
	if s.o.Secure {
		return secureOIDCFlowCookie
	}
	return oidcFlowCookie
}

// oidcStart sends the browser to the provider (GET /login/oidc).
func (s *Server) oidcStart(c echo.Context) error {
	next := safeNext(c.QueryParam("next"))
	if ok, retry := s.limit.allow(c.RealIP()); !ok {
		c.Response().Header().Set(echo.HeaderRetryAfter, fmt.Sprint(int(retry.Seconds()+0.999)))
		return s.renderLogin(c, http.StatusTooManyRequests, loginBody{Next: next, Error: "Too many sign-in attempts from your address. Try again shortly."})
	}
	p, err := s.sso.discover(c.Request().Context())
	if err != nil {
		s.log.Warn("single sign-on: provider unreachable", "err", err, "remote_addr", c.RealIP())
		_ = s.audit(c, audit.SSOLoginDenied("", "", audit.ReasonSSOUnreachable, err.Error()))
		return s.renderLogin(c, http.StatusBadGateway, loginBody{Next: next, Error: "The identity provider cannot be reached. Try again later."})
	}
	id, f := s.sso.begin(next)
	c.SetCookie(&http.Cookie{Name: s.oidcFlowCookieName(), Value: id, Path: "/", MaxAge: int(oidcFlowTTL / time.Second),
		HttpOnly: true, Secure: s.o.Secure, SameSite: http.SameSiteLaxMode})
	u := s.sso.oauth(p).AuthCodeURL(f.state, oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier))
	return c.Redirect(http.StatusFound, u)
}

// ssoRefusal is a refused SSO sign-in: what is audited and logged, and
// the one line the person is shown.
type ssoRefusal struct {
	name, subject string
	why           audit.Reason
	detail        string // for the operator (audit, log); never a token
	status        int
	message       string
}

// oidcCallback is where the provider sends the browser back (GET
// /login/oidc/callback): it checks the flow, exchanges the code, verifies
// the ID token, maps the groups to a role and logs the browser in.
func (s *Server) oidcCallback(c echo.Context) error {
	ck, _ := c.Cookie(s.oidcFlowCookieName())
	c.SetCookie(&http.Cookie{Name: s.oidcFlowCookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.o.Secure, SameSite: http.SameSiteLaxMode})
	var f *oidcFlow
	if ck != nil {
		f, _ = s.sso.flows.take(ck.Value)
	}
	l, ref := s.oidcFinish(c, f)
	if ref != nil {
		_ = s.audit(c, audit.SSOLoginDenied(ref.name, ref.subject, ref.why, ref.detail))
		s.log.Info("single sign-on refused", "user", ref.name, "reason", string(ref.why), "detail", ref.detail, "remote_addr", c.RealIP())
		return s.renderLogin(c, ref.status, loginBody{Error: ref.message, SSOFailed: true})
	}
	if old, err := c.Cookie(s.webLoginCookieName()); err == nil {
		s.logins.remove(old.Value)
	}
	s.setCookie(c, s.webLoginCookieName(), l.id, int(s.o.LoginTTL/time.Second))
	_ = s.audit(c, audit.SSOLoginOK(l.user, l.role, l.subject))
	s.log.Info("web login", "user", l.user, "role", l.role, "via", audit.ViaOIDC, "remote_addr", c.RealIP())
	// The login cookie is SameSite=Strict, and this response ends a
	// navigation that began at the provider: a redirect from here would
	// still be cross-site and go without it. A page that moves on by itself
	// (meta refresh, no script) starts a same-site navigation.
	return s.render(c, http.StatusOK, "continue", pageData{Title: "Signed in", User: &principal{Name: l.user, Role: l.role, login: l},
		Body: continueBody{URL: f.next, Message: "You are signed in as " + l.user + " (" + l.role + ")."}})
}

// continueBody is the page that moves the browser on by itself (meta
// refresh): after single sign-on, to where the person was going; after
// logout, to the provider's end-session endpoint (a redirect answering the
// logout form would be blocked by the CSP's form-action 'self').
type continueBody struct{ URL, Message string }

// oidcFinish runs the checks of the callback, in order; it returns the new
// login, or why there is none.
func (s *Server) oidcFinish(c echo.Context, f *oidcFlow) (*webLogin, *ssoRefusal) {
	q := c.QueryParams()
	expired := &ssoRefusal{why: audit.ReasonSSOBadState, status: http.StatusBadRequest,
		message: "The sign-in expired or did not start in this browser. Please sign in again."}
	if f == nil {
		expired.detail = "no sign-in in progress for this browser"
		return nil, expired
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.state)) != 1 {
		expired.detail = "state does not match"
		return nil, expired
	}
	if e := q.Get("error"); e != "" {
		return nil, &ssoRefusal{why: audit.ReasonSSOProvider, detail: cut(e+": "+q.Get("error_description"), 200),
			status: http.StatusUnauthorized, message: "The identity provider did not sign you in."}
	}
	ctx := s.sso.ctx(c.Request().Context())
	p, err := s.sso.discover(ctx)
	if err != nil {
		return nil, &ssoRefusal{why: audit.ReasonSSOUnreachable, detail: err.Error(), status: http.StatusBadGateway,
			message: "The identity provider cannot be reached. Try again later."}
	}
	tok, err := s.sso.oauth(p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		return nil, &ssoRefusal{why: audit.ReasonSSOCodeRejected, detail: cut(err.Error(), 300), status: http.StatusUnauthorized,
			message: "The identity provider refused to complete the sign-in. Please sign in again."}
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := s.sso.verify(ctx, p, raw)
	if err != nil {
		return nil, &ssoRefusal{why: audit.ReasonSSOBadToken, detail: cut(err.Error(), 300), status: http.StatusUnauthorized,
			message: "The identity provider's answer could not be verified. Please sign in again."}
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.nonce)) != 1 {
		return nil, &ssoRefusal{subject: idt.Subject, why: audit.ReasonSSOBadNonce, detail: "nonce does not match",
			status: http.StatusUnauthorized, message: "The identity provider's answer could not be verified. Please sign in again."}
	}
	claims, err := s.ssoClaims(ctx, p, idt, tok)
	if err != nil {
		return nil, &ssoRefusal{subject: idt.Subject, why: audit.ReasonSSOBadToken, detail: cut(err.Error(), 300),
			status: http.StatusUnauthorized, message: "The identity provider's answer could not be read. Please sign in again."}
	}
	name := claimName(claims[s.sso.o.UserClaim])
	if name == "" {
		return nil, &ssoRefusal{subject: idt.Subject, why: audit.ReasonSSONoUserClaim,
			detail: "claim " + s.sso.o.UserClaim + " missing or unusable", status: http.StatusForbidden,
			message: "Your identity provider account has no usable " + s.sso.o.UserClaim + "; ask your administrator."}
	}
	groups := claimStrings(claims[s.sso.o.RoleClaim])
	role, group := s.sso.role(groups)
	_ = s.audit(c, audit.SSORoleMapped(name, idt.Subject, groups, group, role))
	if role == "" {
		return nil, &ssoRefusal{name: name, subject: idt.Subject, why: audit.ReasonSSONoRole, status: http.StatusForbidden,
			message: "You signed in at the identity provider as " + name + ", but none of your groups gives access to jumpcast. Ask your administrator to add you to a group that does."}
	}
	now := s.now()
	l := s.logins.add(&webLogin{id: randomToken(), user: name, role: role, sso: true, subject: idt.Subject, idToken: raw,
		csrf: randomToken(), created: now, expires: now.Add(s.o.LoginTTL), strong: true})
	return l, nil
}

// ssoClaims returns the ID token's claims, and, when they lack the role
// or the user claim, the userinfo endpoint's besides (whose subject must
// be the token's; the ID token's claims win).
func (s *Server) ssoClaims(ctx context.Context, p *oidc.Provider, idt *oidc.IDToken, tok *oauth2.Token) (map[string]any, error) {
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, err
	}
	_, hasRole := claims[s.sso.o.RoleClaim]
	_, hasUser := claims[s.sso.o.UserClaim]
	if hasRole && hasUser || p.UserInfoEndpoint() == "" {
		return claims, nil
	}
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, fmt.Errorf("userinfo: %w", err)
	}
	if ui.Subject != idt.Subject {
		return nil, errors.New("userinfo: subject differs from the ID token's")
	}
	var more map[string]any
	if err := ui.Claims(&more); err != nil {
		return nil, err
	}
	for k, v := range more {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return claims, nil
}

// claimName returns a claim usable as a name: a string of 1 to 256 bytes
// with no control character; "" otherwise.
func claimName(v any) string {
	s, _ := v.(string)
	if s == "" || len(s) > 256 {
		return ""
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return ""
		}
	}
	return s
}

// claimStrings reads a claim holding a list of strings or one string.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// endSessionURL is where a logging-out SSO browser goes next: the
// provider's end-session endpoint with the ID token as hint, or "" when
// the provider offers none.
func (s *Server) endSessionURL(l *webLogin) string {
	if s.sso == nil || !l.sso {
		return ""
	}
	s.sso.mu.Lock()
	end := s.sso.endSession
	s.sso.mu.Unlock()
	u, err := url.Parse(end)
	if end == "" || err != nil {
		return ""
	}
	q := u.Query()
	q.Set("id_token_hint", l.idToken)
	q.Set("client_id", s.sso.o.ClientID)
	if s.sso.o.PostLogoutRedirectURL != "" {
		q.Set("post_logout_redirect_uri", s.sso.o.PostLogoutRedirectURL)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
