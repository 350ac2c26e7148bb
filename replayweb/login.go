package replayweb

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/store"
)

type loginBody struct {
	Next  string
	Name  string
	Error string
	// SSO is the single sign-on button's name, "" without single sign-on;
	// Password shows the password form; SSOFailed marks a refused single
	// sign-on (the page then offers to try again).
	SSO       string
	Password  bool
	SSOFailed bool
}

func (s *Server) loginNonceCookieName() string {
	if s.o.Secure {
		return secureLoginNonceCookie
	}
	return loginNonceCookie
}

// setCookie sets an HttpOnly, SameSite=Strict, path-/ cookie; maxAge < 0
// deletes it, 0 makes it last for the browser session.
func (s *Server) setCookie(c echo.Context, name, value string, maxAge int) {
	ck := &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.o.Secure, SameSite: http.SameSiteStrictMode,
	}
	if maxAge > 0 {
		ck.Expires = s.now().Add(time.Duration(maxAge) * time.Second)
	}
	c.SetCookie(ck)
}

// loginNonce returns the browser's login-form nonce, setting a new one when
// it has none.
func (s *Server) loginNonce(c echo.Context) string {
	if ck, err := c.Cookie(s.loginNonceCookieName()); err == nil && len(ck.Value) >= 32 {
		return ck.Value
	}
	n := randomToken()
	s.setCookie(c, s.loginNonceCookieName(), n, 0)
	return n
}

func (s *Server) loginPage(c echo.Context) error {
	next := safeNext(c.QueryParam("next"))
	if p, err := s.loginPrincipal(c); err != nil {
		return err
	} else if p != nil {
		return c.Redirect(http.StatusFound, next)
	}
	return s.renderLogin(c, http.StatusOK, loginBody{Next: next})
}

func (s *Server) renderLogin(c echo.Context, status int, b loginBody) error {
	tok := s.loginCSRF.token(s.loginNonce(c))
	if s.sso != nil {
		b.SSO = s.sso.o.Name
	}
	b.Password = !s.o.DisablePasswordLogin || c.QueryParam("local") == "1" || c.Request().Method == http.MethodPost || s.sso == nil
	return s.render(c, status, "login", pageData{Title: "Sign in", CSRF: tok, Body: b})
}

func (s *Server) loginSubmit(c echo.Context) error {
	ip := c.RealIP()
	name := strings.TrimSpace(c.FormValue("name"))
	b := loginBody{Next: safeNext(c.FormValue("next")), Name: name}
	if ok, retry := s.limit.allow(ip); !ok {
		secs := int(retry.Seconds() + 0.999)
		s.log.Warn("web login rate-limited", "remote_addr", ip, "user", name)
		c.Response().Header().Set(echo.HeaderRetryAfter, fmt.Sprint(secs))
		b.Error = fmt.Sprintf("Too many sign-in attempts from your address. Try again in %d seconds.", secs)
		return s.renderLogin(c, http.StatusTooManyRequests, b)
	}
	var nonce string
	if ck, err := c.Cookie(s.loginNonceCookieName()); err == nil {
		nonce = ck.Value
	}
	if !s.loginCSRF.valid(nonce, c.FormValue("_csrf")) {
		b.Error = "The sign-in form expired. Please try again."
		return s.renderLogin(c, http.StatusForbidden, b)
	}
	a, err := s.authenticate(c, name, c.FormValue("password"))
	if err != nil {
		return err
	}
	if a == nil {
		_ = s.audit(c, audit.WebLoginDenied(name))
		s.log.Info("web login refused", "user", name, "remote_addr", ip)
		b.Error = "Wrong name or password."
		return s.renderLogin(c, http.StatusUnauthorized, b)
	}
	if !s.passwordLoginAllowed(a.Name) {
		_ = s.audit(c, audit.PasswordLoginOff(a.Name))
		s.log.Info("web login refused: password sign-in is switched off", "user", name, "remote_addr", ip)
		b.Error = "Sign-in with a password is switched off for this account; use single sign-on."
		return s.renderLogin(c, http.StatusForbidden, b)
	}
	return s.afterPassword(c, a, b.Next)
}

// authenticate returns the account when name and password match, nil when
// they do not. An unknown name costs the same hash check as a wrong
// password.
func (s *Server) authenticate(c echo.Context, name, pw string) (*store.Account, error) {
	if name == "" || pw == "" {
		CheckPassword(s.dummyHash, pw)
		return nil, nil
	}
	a, err := s.store.GetAccount(c.Request().Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		CheckPassword(s.dummyHash, pw)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up account %q: %w", name, err)
	}
	if !CheckPassword(a.PasswordHash, pw) {
		return nil, nil
	}
	return a, nil
}

// passwordLoginAllowed reports whether account name may sign in with its
// password: always, unless Options.DisablePasswordLogin, and then only the
// break-glass accounts.
func (s *Server) passwordLoginAllowed(name string) bool {
	if !s.o.DisablePasswordLogin {
		return true
	}
	for _, n := range s.o.BreakGlass {
		if n == name {
			return true
		}
	}
	return false
}

// logout ends the login here, then sends a single sign-on's browser on to
// the provider's end-session endpoint when it has one.
func (s *Server) logout(c echo.Context) error {
	end := ""
	if p := principalOf(c); p != nil && p.login != nil {
		s.logins.remove(p.login.id)
		s.log.Info("web logout", "user", p.Name, "remote_addr", c.RealIP())
		end = s.endSessionURL(p.login)
	}
	s.setCookie(c, s.webLoginCookieName(), "", -1)
	if end != "" {
		c.Set(principalKey, (*principal)(nil)) // the page is for nobody now
		return s.render(c, http.StatusOK, "continue", pageData{Title: "Signed out",
			Body: continueBody{URL: end, Message: "You are signed out of jumpcast; now signing you out at your identity provider."}})
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

// safeNext returns next when it is a path on this site, else "/". It
// refuses absolute URLs, scheme-relative "//host" and "/\host" (which
// browsers treat as "//host"), and control characters, so the login page
// cannot be used as an open redirect.
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' {
		return "/"
	}
	if strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	if strings.HasPrefix(u.Path, "/login") {
		return "/"
	}
	return u.RequestURI()
}
