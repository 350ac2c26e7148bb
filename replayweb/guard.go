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

// principal is who a request acts as: a logged-in account (session set) or
// an API token holder (tokenID set).
type principal struct {
	Name    string
	Role    string
	session *session // nil for API tokens
	tokenID string   // "" for sessions
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

func (s *Server) cookieName() string {
	if s.o.Secure {
		return secureSessionCookie
	}
	return sessionCookie
}

// sessionFrom returns the request's live session, or nil.
func (s *Server) sessionFrom(c echo.Context) *session {
	ck, err := c.Cookie(s.cookieName())
	if err != nil {
		return nil
	}
	return s.sess.get(ck.Value)
}

// sessionPrincipal returns who the request's live session acts as, or nil
// when there is none. The account is read again on every request: a
// session whose account was deleted or given another role since the login
// ends here, also when the change came through the CLI, which cannot reach
// the session table (a demotion to user must not keep an auditor's view).
func (s *Server) sessionPrincipal(c echo.Context) (*principal, error) {
	ss := s.sessionFrom(c)
	if ss == nil {
		return nil, nil
	}
	a, err := s.store.GetAccount(c.Request().Context(), ss.user)
	if errors.Is(err, store.ErrNotFound) || err == nil && a.Role != ss.role {
		s.sess.remove(ss.id)
		s.log.Info("web session ended: its account was deleted or its role changed", "user", ss.user, "remote_addr", c.RealIP())
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up account %q: %w", ss.user, err)
	}
	return &principal{Name: ss.user, Role: ss.role, session: ss}, nil
}

// requireSession admits requests with a live session cookie. Others are
// sent to the login page (302), with where they wanted to go as next.
func (s *Server) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := s.sessionPrincipal(c)
		if err != nil {
			return err
		}
		if p == nil {
			return c.Redirect(http.StatusFound, loginURL(c.Request()))
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

// requireAdmin admits admins only; it runs after requireSession.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if p := principalOf(c); p == nil || p.Role != store.RoleAdmin {
			return echo.NewHTTPError(http.StatusForbidden, "this page is for administrators")
		}
		return next(c)
	}
}

// requireSeesAll admits auditors and admins, and refuses user accounts
// (and tokens acting for one) with 403; it runs after requireSession or
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
// header X-CSRF-Token) is not the session's token. It runs after
// requireSession.
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
		if p == nil || p.session == nil || tok == "" ||
			subtle.ConstantTimeCompare([]byte(tok), []byte(p.session.csrf)) != 1 {
			return echo.NewHTTPError(http.StatusForbidden, "the form has expired or did not come from this site; reload the page and try again")
		}
		return next(c)
	}
}

// requireAPI admits a session cookie or "Authorization: Bearer <token>" of a
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
		p, err := s.sessionPrincipal(c)
		if err != nil {
			return err
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
