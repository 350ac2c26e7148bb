package replayweb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/store"
)

// A local account with a second factor signs in in two steps: the password
// (login.go) makes a pendingLogin, held server-side under a random
// SameSite=Strict cookie for pendingTTL; the second factor (this file)
// turns it into a web login. A pending login opens nothing: no route but
// /login/2fa reads its cookie. With Options.RequireSecondFactor, an
// account without one gets a login that may only enrol (mustEnroll): every
// other page sends it to /account, every other request is refused.
const (
	pendingCookie       = "jc_2fa"
	securePendingCookie = "__Host-jc_2fa"
	pendingTTL          = 5 * time.Minute
	// maxFactorTries is how many wrong codes one pending login may send
	// before it is dropped (the password must be typed again); the
	// per-address login rate limit applies too.
	maxFactorTries = 5
	maxPending     = 10000
)

// pendingLogin is a password that was right, waiting for its second factor.
type pendingLogin struct {
	id, user, next string
	version        uint64 // the account's CredentialVersion at the password
	expires        time.Time
	tries          int // wrong codes so far; guarded by pendingLogins.mu
}

type pendingLogins struct {
	now func() time.Time

	mu sync.Mutex               // guards m and each entry's tries
	m  map[string]*pendingLogin // by cookie value
}

func (p *pendingLogins) create(a *store.Account, next string) *pendingLogin {
	now := p.now()
	l := &pendingLogin{id: randomToken(), user: a.Name, next: next, version: a.CredentialVersion, expires: now.Add(pendingTTL)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]*pendingLogin{}
	}
	for k, v := range p.m {
		if len(p.m) < maxPending {
			break
		}
		if !now.Before(v.expires) || len(p.m) >= maxPending {
			delete(p.m, k)
		}
	}
	p.m[l.id] = l
	return l
}

func (p *pendingLogins) get(id string) *pendingLogin {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.m[id]
	if l != nil && !p.now().Before(l.expires) {
		delete(p.m, id)
		return nil
	}
	return l
}

// failed counts a wrong code; true when the pending login is used up
// (and removed).
func (p *pendingLogins) failed(l *pendingLogin) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	l.tries++
	if l.tries >= maxFactorTries {
		delete(p.m, l.id)
		return true
	}
	return false
}

func (p *pendingLogins) remove(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, id)
}

func (s *Server) pendingCookieName() string {
	if s.o.Secure {
		return securePendingCookie
	}
	return pendingCookie
}

// secondFactorOf returns account's enrolled second factor, or nil.
func (s *Server) secondFactorOf(ctx context.Context, account string) (*store.SecondFactor, error) {
	f, err := s.store.GetSecondFactor(ctx, account)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("second factor of %q: %w", account, err)
	}
	return f, nil
}

// afterPassword continues a sign-in whose password was right: to the
// second factor when a is enrolled, else a login (one that must enrol
// first when a second factor is required).
func (s *Server) afterPassword(c echo.Context, a *store.Account, next string) error {
	f, err := s.secondFactorOf(c.Request().Context(), a.Name)
	if err != nil {
		return err
	}
	if f.Enrolled() {
		p := s.pending.create(a, next)
		s.setCookie(c, s.pendingCookieName(), p.id, int(pendingTTL/time.Second))
		s.log.Info("web login: password accepted, second factor next", "user", a.Name, "remote_addr", c.RealIP())
		return c.Redirect(http.StatusSeeOther, "/login/2fa")
	}
	s.startLogin(c, a, s.o.RequireSecondFactor, false)
	_ = s.audit(c, audit.WebLoginOK(a.Name))
	s.log.Info("web login", "user", a.Name, "role", a.Role, "remote_addr", c.RealIP())
	if s.o.RequireSecondFactor {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// startLogin makes a fresh login for a (strong: with a second factor)
// and sets its cookie. A login
// always gets a fresh id: an id planted in the browser before login is
// dropped, never promoted (session fixation).
func (s *Server) startLogin(c echo.Context, a *store.Account, mustEnroll, strong bool) *webLogin {
	if ck, err := c.Cookie(s.webLoginCookieName()); err == nil {
		s.logins.remove(ck.Value)
	}
	l := s.logins.create(a, mustEnroll, strong)
	s.setCookie(c, s.webLoginCookieName(), l.id, int(s.o.LoginTTL/time.Second))
	s.setCookie(c, s.loginNonceCookieName(), "", -1)
	return l
}

type secondBody struct {
	Error    string
	Passkeys bool // offer "Use a passkey"
}

func (s *Server) pendingFrom(c echo.Context) *pendingLogin {
	ck, err := c.Cookie(s.pendingCookieName())
	if err != nil {
		return nil
	}
	return s.pending.get(ck.Value)
}

// secondPage is GET /login/2fa.
func (s *Server) secondPage(c echo.Context) error {
	p := s.pendingFrom(c)
	if p == nil {
		return c.Redirect(http.StatusFound, "/login")
	}
	return s.renderSecond(c, http.StatusOK, p, secondBody{})
}

func (s *Server) renderSecond(c echo.Context, status int, p *pendingLogin, b secondBody) error {
	f, err := s.secondFactorOf(c.Request().Context(), p.user)
	if err != nil {
		return err
	}
	b.Passkeys = f != nil && len(f.Passkeys) > 0 && s.passkeys != nil
	return s.render(c, status, "second", pageData{Title: "Second factor", CSRF: s.loginCSRF.token("2fa\x00" + p.id), Body: b})
}

// secondSubmit is POST /login/2fa: a TOTP code or a recovery code.
func (s *Server) secondSubmit(c echo.Context) error {
	p := s.pendingFrom(c)
	if p == nil {
		return s.renderLogin(c, http.StatusUnauthorized, loginBody{Error: "The sign-in expired. Please enter your password again."})
	}
	if !s.loginCSRF.valid("2fa\x00"+p.id, c.FormValue("_csrf")) {
		return s.renderSecond(c, http.StatusForbidden, p, secondBody{Error: "The form expired. Please try again."})
	}
	if ok, retry := s.limit.allow(c.RealIP()); !ok {
		c.Response().Header().Set(echo.HeaderRetryAfter, fmt.Sprint(int(retry.Seconds()+0.999)))
		return s.renderSecond(c, http.StatusTooManyRequests, p, secondBody{Error: "Too many attempts from your address. Wait a little and try again."})
	}
	ctx := c.Request().Context()
	f, err := s.secondFactorOf(ctx, p.user)
	if err != nil {
		return err
	}
	code := strings.TrimSpace(c.FormValue("code"))
	method, why := audit.FactorTOTP, audit.ReasonWrongSecondFactor
	ok := false
	if step, match := totpStep(factorSecret(f), code, s.now()); match {
		switch err := s.store.UseTOTPStep(ctx, p.user, step); {
		case err == nil:
			ok = true
		case errors.Is(err, store.ErrCodeUsed):
			why = audit.ReasonCodeReplayed
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	} else if len(code) > 6 {
		method = audit.FactorRecovery
		switch _, err := s.store.UseRecoveryCode(ctx, p.user, recoveryHash(code)); {
		case err == nil:
			ok = true
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	if !ok {
		return s.factorRefused(c, p, method, why)
	}
	return s.finishSecond(c, p, method)
}

// factorSecret is f's TOTP secret, "" without one.
func factorSecret(f *store.SecondFactor) string {
	if f == nil {
		return ""
	}
	return f.TOTPSecret
}

// factorRefused audits a wrong second factor and shows the form again,
// or, after maxFactorTries, sends the person back to the password.
func (s *Server) factorRefused(c echo.Context, p *pendingLogin, method string, why audit.Reason) error {
	usedUp := s.pending.failed(p)
	if usedUp {
		why = audit.ReasonTooManyFactorTries
	}
	_ = s.audit(c, audit.SecondFactorDenied(p.user, method, why))
	s.log.Info("web login refused at the second factor", "user", p.user, "reason", string(why), "remote_addr", c.RealIP())
	if usedUp {
		s.setCookie(c, s.pendingCookieName(), "", -1)
		return s.renderLogin(c, http.StatusUnauthorized, loginBody{Error: "Too many wrong codes. Please sign in again."})
	}
	msg := "That code is not right. Try the current code of your app, or a recovery code."
	if why == audit.ReasonCodeReplayed {
		msg = "That code was used already. Wait for your app to show the next one."
	}
	return s.renderSecond(c, http.StatusUnauthorized, p, secondBody{Error: msg})
}

// finishSecond turns a pending login whose second factor was right into a
// web login, if its account has not changed since the password.
func (s *Server) finishSecond(c echo.Context, p *pendingLogin, method string) error {
	next, refusal, err := s.completeSecond(c, p, method)
	if err != nil {
		return err
	}
	if refusal != "" {
		return s.renderLogin(c, http.StatusUnauthorized, loginBody{Error: refusal})
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// completeSecond ends pending sign-in p, whose second factor (method) was
// right, with a web login; it returns where to go next, or the line to
// show when the account changed since the password.
func (s *Server) completeSecond(c echo.Context, p *pendingLogin, method string) (next, refusal string, err error) {
	s.pending.remove(p.id)
	s.setCookie(c, s.pendingCookieName(), "", -1)
	a, err := s.store.GetAccount(c.Request().Context(), p.user)
	if errors.Is(err, store.ErrNotFound) || err == nil && a.CredentialVersion != p.version {
		return "", "The account changed meanwhile. Please sign in again.", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("look up account %q: %w", p.user, err)
	}
	s.startLogin(c, a, false, true)
	_ = s.audit(c, audit.WebLoginWithFactor(a.Name, method))
	s.log.Info("web login", "user", a.Name, "role", a.Role, "second_factor", method, "remote_addr", c.RealIP())
	return p.next, "", nil
}

// enrolPaths are what a login that must enrol a second factor may reach.
var enrolPaths = map[string]bool{"/account": true, "/account/totp": true, "/account/totp/confirm": true,
	"/account/passkeys/begin": true, "/account/passkeys/finish": true, "/logout": true}

// mustEnrollBlocked reports whether p's login must enrol a second factor
// before it may reach path.
func mustEnrollBlocked(p *principal, path string) bool {
	return p != nil && p.login != nil && p.login.mustEnroll && !enrolPaths[path]
}
