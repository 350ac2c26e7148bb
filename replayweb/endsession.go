package replayweb

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
)

// maxEndReason bounds the reason field, in bytes; the proxy cuts what it
// shows to 200 characters.
const maxEndReason = 800

// adminEndSession ends a running session (Options.EndSession) at an
// admin's request, or with scope=connection the whole admin connection it
// runs on (Options.EndConnection: every session and forward on it, so that
// no further command runs over an OpenSSH ControlMaster), and goes back to
// its page. The form carries an optional reason, which the admin's
// terminal shows. Guarded like every /admin route: a session, role admin,
// the CSRF token.
func (s *Server) adminEndSession(c echo.Context) error {
	rec, err := s.recordingFor(c)
	if err != nil {
		return err
	}
	end, whole := s.o.EndSession, c.FormValue("scope") == "connection"
	if whole {
		end = s.o.EndConnection
	}
	if end == nil {
		return echo.NewHTTPError(http.StatusNotFound, "ending sessions is not available on this site")
	}
	why := c.FormValue("reason")
	if len(why) > maxEndReason {
		return echo.NewHTTPError(http.StatusBadRequest, "the reason is too long")
	}
	if rec.Status != recording.StatusActive {
		return echo.NewHTTPError(http.StatusConflict, "this session is not running")
	}
	p := principalOf(c)
	if err := end(rec.ID, "auditor "+p.Name, why); err != nil {
		if s.remoteNode(rec) != "" {
			return nodeHTTPError(s, rec, err)
		}
		s.log.Info("end session refused", "session_id", rec.ID, "user", p.Name, "connection", whole, "err", err)
		return echo.NewHTTPError(http.StatusConflict, "this session is not running on this bastion")
	}
	ev, ended := audit.SessionEndRequested(actorOn(p.Name, rec), rec.ID, why), "1"
	if whole {
		ev, ended = audit.ConnectionEndRequested(actorOn(p.Name, rec), rec.ID, why), "connection"
	}
	_ = s.audit(c, ev)
	return c.Redirect(http.StatusSeeOther, "/recordings/"+rec.ID+"?ended="+ended)
}
