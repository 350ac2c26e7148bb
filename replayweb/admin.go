package replayweb

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/lock"
	"github.com/jumpcast/jumpcast/store"
)

// accountNameRE is what an account name may be: short, no spaces, safe in a
// URL path segment.
var accountNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

type adminBody struct {
	Accounts    []store.Account
	Tokens      []store.APIToken
	Error       string
	Notice      string
	NewSecret   string // a token secret just created: shown once
	MinPassword int    // MinPasswordLen, for the form's hint
	LocksOn     bool   // the site can make locks (Options.Locks)
	Locks       []lock.Lock
	Now         time.Time // for the locks' "expired"
}

func (s *Server) adminPage(c echo.Context) error {
	return s.renderAdmin(c, http.StatusOK, adminBody{})
}

func (s *Server) renderAdmin(c echo.Context, status int, b adminBody) error {
	b.MinPassword = MinPasswordLen
	ctx := c.Request().Context()
	var err error
	if b.Accounts, err = s.store.ListAccounts(ctx); err != nil {
		return fmt.Errorf("list accounts: %w", err)
	}
	if b.Tokens, err = s.store.ListTokens(ctx); err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	if s.o.Locks != nil {
		b.LocksOn, b.Now = true, s.now()
		if b.Locks, err = s.o.Locks.ListLocks(ctx); err != nil {
			return fmt.Errorf("list locks: %w", err)
		}
	}
	slices.SortFunc(b.Accounts, func(a, b store.Account) int { return strings.Compare(a.Name, b.Name) })
	return s.render(c, status, "admin", pageData{Title: "Administration", Nav: "admin", Body: b})
}

// adminPutAccount adds an account or resets its password and role
// (auditor, admin, or user: a bastion user who sees only their own
// recordings, so the name must be the SSH user's name). The account's open
// web logins end at their next request (a new credential version, see
// loginPrincipal), so a demotion or a reset takes effect at once; the
// admin's own browser, after a password change of their own, goes on under
// a new login id.
func (s *Server) adminPutAccount(c echo.Context) error {
	name := strings.TrimSpace(c.FormValue("name"))
	role := c.FormValue("role")
	if !accountNameRE.MatchString(name) {
		return s.renderAdmin(c, http.StatusBadRequest, adminBody{Error: "A name is 1–64 letters, digits, dots, dashes or underscores."})
	}
	if !store.ValidRole(role) {
		return s.renderAdmin(c, http.StatusBadRequest, adminBody{Error: "The role must be auditor, user or admin."})
	}
	hash, err := HashPassword(c.FormValue("password"))
	if err != nil {
		return s.renderAdmin(c, http.StatusBadRequest, adminBody{Error: sentence(err)})
	}
	ctx := c.Request().Context()
	a := store.Account{Name: name, PasswordHash: hash, Role: role, Created: s.now().UTC()}
	notice := "Account " + name + " added."
	if old, err := s.store.GetAccount(ctx, name); err == nil {
		a.Created = old.Created
		notice = "Account " + name + " updated; its web logins were ended."
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("look up account %q: %w", name, err)
	}
	if a, err = s.store.PutAccount(ctx, a); err != nil {
		return fmt.Errorf("put account %q: %w", name, err)
	}
	_ = s.audit(c, audit.AccountPut(principalOf(c).Name, name, role))
	me := principalOf(c)
	if me.Name != name || me.login == nil || me.login.sso {
		return s.renderAdmin(c, http.StatusOK, adminBody{Notice: notice})
	}
	// Their own account. This login was made for the old role: a role
	// change ends it too.
	if role != me.Role {
		s.logins.remove(me.login.id)
		s.setCookie(c, s.webLoginCookieName(), "", -1)
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	me.login = s.logins.rotate(me.login, &a)
	s.setCookie(c, s.webLoginCookieName(), me.login.id, int(me.login.expires.Sub(s.now())/time.Second))
	return s.renderAdmin(c, http.StatusOK, adminBody{Notice: "Your password was changed; your other web logins were ended."})
}

func (s *Server) adminDeleteAccount(c echo.Context) error {
	name := c.Param("name")
	if principalOf(c).Name == name {
		return s.renderAdmin(c, http.StatusBadRequest, adminBody{Error: "You cannot delete your own account."})
	}
	if err := s.store.DeleteAccount(c.Request().Context(), name); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete account %q: %w", name, err)
	}
	_ = s.audit(c, audit.AccountDeleted(principalOf(c).Name, name)) // its web logins end at their next request
	return s.renderAdmin(c, http.StatusOK, adminBody{Notice: "Account " + name + " deleted; its web logins and API tokens no longer work."})
}

// adminCreateToken makes an API token owned by the admin who creates it and
// shows its secret once.
func (s *Server) adminCreateToken(c echo.Context) error {
	name := strings.TrimSpace(c.FormValue("name"))
	if name == "" || len(name) > 100 {
		return s.renderAdmin(c, http.StatusBadRequest, adminBody{Error: "A token needs a name of at most 100 characters."})
	}
	secret, tok := NewAPIToken()
	tok.Owner, tok.Name, tok.Created = principalOf(c).Name, name, s.now().UTC()
	if err := s.store.PutToken(c.Request().Context(), tok); err != nil {
		return fmt.Errorf("put token: %w", err)
	}
	_ = s.audit(c, audit.TokenCreated(principalOf(c).Name, tok.Owner, tok.ID, name))
	return s.renderAdmin(c, http.StatusOK, adminBody{NewSecret: secret})
}

func (s *Server) adminDeleteToken(c echo.Context) error {
	id := c.Param("id")
	if err := s.store.DeleteToken(c.Request().Context(), id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete token %q: %w", id, err)
	}
	_ = s.audit(c, audit.TokenDeleted(principalOf(c).Name, id))
	return s.renderAdmin(c, http.StatusOK, adminBody{Notice: "Token revoked."})
}

// sentence is err's one-line message as a sentence for a page: capital
// first letter, full stop.
func sentence(err error) string {
	msg := err.Error()
	r, n := utf8.DecodeRuneInString(msg)
	return string(unicode.ToUpper(r)) + msg[n:] + "."
}
