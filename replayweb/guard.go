package replayweb

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/store"
)

// principal is who a request acts as: a logged-in auditor (session set) or
// an API token holder (tokenID set).
type principal struct {
	Name    string
	Role    string
	session *session // nil for API tokens
	tokenID string   // "" for sessions
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

// requireSession admits requests with a live session cookie. Others are
// sent to the login page (302), with where they wanted to go as next.
func (s *Server) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ss := s.sessionFrom(c)
		if ss == nil {
			return c.Redirect(http.StatusFound, loginURL(c.Request()))
		}
		c.Set(principalKey, &principal{Name: ss.user, Role: ss.role, session: ss})
		return next(c)
	}
}

func loginURL(r *http.Request) string {
	if r.Method != http.MethodGet || r.URL.Path == "/" {
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
		if ss := s.sessionFrom(c); ss != nil {
			c.Set(principalKey, &principal{Name: ss.user, Role: ss.role, session: ss})
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
	// A token dies with its owner's account.
	_, err = s.store.GetAuditor(ctx, tok.Owner)
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthorized
	}
	if err != nil {
		return nil, err
	}
	c.Response().Header().Del(echo.HeaderWWWAuthenticate)
	// API tokens are read-only whatever the owner's role.
	return &principal{Name: tok.Owner, Role: store.RoleAuditor, tokenID: tok.ID}, nil
}
