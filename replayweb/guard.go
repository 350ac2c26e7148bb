package replayweb

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

// principal is who a request acts as: a logged-in account (login set) or
// an API token holder (tokenID set).
type principal struct {
	Name    string
	Role    string
	login   *webLogin // nil for API tokens
	tokenID string    // "" for web logins
}

// seesAll reports whether p may see every recording: auditors and admins.
// Everyone else (store.RoleUser, and any role this version does not know)
// sees only the recordings whose Meta.User is their account name; a
// nil principal sees nothing.
func (p *principal) seesAll() bool {
	return p != nil && (p.Role == store.RoleAuditor || p.Role == store.RoleAdmin)
}

// mayView reports whether p may see rec (its row, page, cast and live
// stream).
func (p *principal) mayView(rec *recording.Meta) bool {
	if p == nil {
		return false
	}
	return p.seesAll() || rec.User == p.Name
}

const principalKey = "jumpcast.principal"

func principalOf(c echo.Context) *principal {
	p, _ := c.Get(principalKey).(*principal)
	return p
}

func (s *Server) webLoginCookieName() string {
	if s.o.Secure {
		return secureWebLoginCookie
	}
	return webLoginCookie
}

// webLoginFrom returns the request's live login, or nil.
func (s *Server) webLoginFrom(c echo.Context) *webLogin {
	ck, err := c.Cookie(s.webLoginCookieName())
	if err != nil {
		return nil
	}
	return s.logins.get(ck.Value)
}

// loginPrincipal returns who the request's live login acts as, or nil
// when there is none. The account is read again on every request: a login
// whose account was deleted, or whose password or role changed since
// (store.Account.CredentialVersion), ends here. This is the one place
// logins end on account changes, whichever way the change came: the admin
// page, or the CLI through the admin socket or the data folder, which
// cannot reach the login table (a demotion to user must not keep an
// auditor's view; a password reset must end what the old password opened).
func (s *Server) loginPrincipal(c echo.Context) (*principal, error) {
	l := s.webLoginFrom(c)
	if l == nil {
		return nil, nil
	}
	if l.sso { // no local account: the provider vouched for it until expiry
		return &principal{Name: l.user, Role: l.role, login: l}, nil
	}
	a, err := s.store.GetAccount(c.Request().Context(), l.user)
	if errors.Is(err, store.ErrNotFound) || err == nil && (a.Role != l.role || a.CredentialVersion != l.version) {
		s.logins.remove(l.id)
		s.log.Info("web login ended: its account was deleted or its password or role changed", "user", l.user, "remote_addr", c.RealIP())
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up account %q: %w", l.user, err)
	}
	return &principal{Name: l.user, Role: l.role, login: l}, nil
}

// requireLogin admits requests with a live login cookie. Others are
// sent to the login page (302), with where they wanted to go as next.
func (s *Server) requireLogin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := s.loginPrincipal(c)
		if err != nil {
			return err
		}
		if p == nil {
			return c.Redirect(http.StatusFound, loginURL(c.Request()))
		}
		if mustEnrollBlocked(p, c.Path()) {
			if c.Request().Method == http.MethodGet {
				return c.Redirect(http.StatusFound, "/account")
			}
			return echo.NewHTTPError(http.StatusForbidden, "set up a second factor on your account page first")
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

// loginURL is the login page, with next when there is somewhere to come
// back to: any GET but the bare list. A shared link to a filtered list
// keeps its filters through the login.
func loginURL(r *http.Request) string {
	if r.Method != http.MethodGet || r.URL.Path == "/" && r.URL.RawQuery == "" {
		return "/login"
	}
	return "/login?next=" + url.QueryEscape(r.URL.RequestURI())
}

// requireAdmin admits admins only; it runs after requireLogin.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if p := principalOf(c); p == nil || p.Role != store.RoleAdmin {
			return echo.NewHTTPError(http.StatusForbidden, "this page is for administrators")
		}
		return next(c)
	}
}

// requireSeesAll admits auditors and admins, and refuses user accounts
// (and tokens acting for one) with 403; it runs after requireLogin or
// requireAPI. It guards what is about every session at once (/metrics).
func (s *Server) requireSeesAll(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !principalOf(c).seesAll() {
			return echo.NewHTTPError(http.StatusForbidden, "this page is for auditors")
		}
		return next(c)
	}
}

// checkCSRF refuses a state-changing request whose form field _csrf (or
// header X-CSRF-Token) is not the login's token. It runs after
// requireLogin.
func (s *Server) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		p := principalOf(c)
		tok := c.Request().Header.Get(echo.HeaderXCSRFToken)
		if tok == "" {
			tok = c.FormValue("_csrf")
		}
		if p == nil || p.login == nil || tok == "" ||
			subtle.ConstantTimeCompare([]byte(tok), []byte(p.login.csrf)) != 1 {
			return echo.NewHTTPError(http.StatusForbidden, "the form has expired or did not come from this site; reload the page and try again")
		}
		return next(c)
	}
}

// requireAPI admits a login cookie or "Authorization: Bearer <token>" of a
// token whose owner account still exists. Others get 401.
func (s *Server) requireAPI(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if auth := c.Request().Header.Get(echo.HeaderAuthorization); auth != "" {
			p, err := s.tokenPrincipal(c, auth)
			if err != nil {
				return err
			}
			c.Set(principalKey, p)
			return next(c)
		}
		p, err := s.loginPrincipal(c)
		if err != nil {
			return err
		}
		if mustEnrollBlocked(p, "") {
			return echo.NewHTTPError(http.StatusForbidden, "set up a second factor on your account page first")
		}
		if p != nil {
			c.Set(principalKey, p)
			return next(c)
		}
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="jumpcast"`)
		return echo.NewHTTPError(http.StatusUnauthorized, "log in or send Authorization: Bearer <token>")
	}
}

func (s *Server) tokenPrincipal(c echo.Context, auth string) (*principal, error) {
	unauthorized := echo.NewHTTPError(http.StatusUnauthorized, "invalid API token")
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="jumpcast", error="invalid_token"`)
	scheme, secret, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(secret, apiTokenPrefix) {
		return nil, unauthorized
	}
	ctx := c.Request().Context()
	tok, err := s.store.TokenByHash(ctx, TokenHash(strings.TrimSpace(secret)))
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthorized
	}
	if err != nil {
		return nil, err
	}
	// A token dies with its owner's account, and has its current scope.
	owner, err := s.store.GetAccount(ctx, tok.Owner)
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthorized
	}
	if err != nil {
		return nil, err
	}
	c.Response().Header().Del(echo.HeaderWWWAuthenticate)
	// API tokens are read-only whatever the owner's role: an admin's token
	// acts as an auditor. A user's token (the CLI can make one) sees what the
	// user sees, and so does any role this version does not know.
	role := store.RoleUser
	if owner.Role == store.RoleAuditor || owner.Role == store.RoleAdmin {
		role = store.RoleAuditor
	}
	return &principal{Name: tok.Owner, Role: role, tokenID: tok.ID}, nil
}
