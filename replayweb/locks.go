package replayweb

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/lock"
	"github.com/jumpcast/jumpcast/store"
)

// The admin page's locks panel (Options.Locks): a list of locks with a
// Remove button each, and a form that makes one. Guarded like every
// /admin route: a login, role admin, the CSRF token. The lock keeper
// audits each change.

// adminCreateLock makes a lock from the form: what (user, key or target),
// name, for (a duration; empty: until removed) and reason.
func (s *Server) adminCreateLock(c echo.Context) error {
	if s.o.Locks == nil {
		return echo.NewHTTPError(http.StatusNotFound, "locks are not available on this site")
	}
	name := strings.TrimSpace(c.FormValue("name"))
	var l lock.Lock
	switch c.FormValue("what") {
	case "user":
		l.Target.User = name
	case "key":
		l.Target.Key = name
	case "target":
		l.Target.Target = name
	default:
		return s.renderAdmin(c, http.StatusBadRequest, adminBody{Error: "A lock names a user, a key or a target."})
	}
	l.Reason = strings.TrimSpace(c.FormValue("reason"))
	if f := strings.TrimSpace(c.FormValue("for")); f != "" {
		d, err := time.ParseDuration(f)
		if err != nil || d <= 0 {
			return s.renderAdmin(c, http.StatusBadRequest, adminBody{Error: "For how long: a duration such as 30m or 2h, or empty for until removed."})
		}
		l.Expires = s.now().Add(d).UTC()
	}
	if err := l.Validate(); err != nil {
		return s.renderAdmin(c, http.StatusBadRequest, adminBody{Error: sentence(err)})
	}
	p := principalOf(c)
	made, err := s.o.Locks.CreateLock(c.Request().Context(), s.lockActor(c), "admin "+p.Name, l)
	if err != nil && made.ID == "" {
		return err
	}
	notice := "Lock " + made.ID + " made: " + made.Target.String() + " is locked out; its open connections were closed."
	if err != nil { // made and applied, but not audited
		s.log.Error("lock made without its audit event", "lock", made.ID, "err", err)
		return s.renderAdmin(c, http.StatusOK, adminBody{Notice: notice, Error: sentence(err)})
	}
	return s.renderAdmin(c, http.StatusOK, adminBody{Notice: notice})
}

// adminRemoveLock lifts lock :id.
func (s *Server) adminRemoveLock(c echo.Context) error {
	if s.o.Locks == nil {
		return echo.NewHTTPError(http.StatusNotFound, "locks are not available on this site")
	}
	p := principalOf(c)
	l, err := s.o.Locks.RemoveLock(c.Request().Context(), s.lockActor(c), "admin "+p.Name, c.Param("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return s.renderAdmin(c, http.StatusNotFound, adminBody{Error: "There is no such lock (already removed?)."})
	case err != nil && l.ID == "":
		return err
	case err != nil:
		s.log.Error("lock removed without its audit event", "lock", l.ID, "err", err)
		return s.renderAdmin(c, http.StatusOK, adminBody{Notice: "Lock " + l.ID + " removed.", Error: sentence(err)})
	}
	return s.renderAdmin(c, http.StatusOK, adminBody{Notice: "Lock " + l.ID + " removed: " + l.Target.String() + " may connect again."})
}

// lockActor is the party of a lock's audit event: the admin and their
// browser's address.
func (s *Server) lockActor(c echo.Context) audit.Who {
	return audit.Who{User: principalOf(c).Name, RemoteAddr: c.RealIP()}
}
