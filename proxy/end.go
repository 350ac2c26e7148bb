package proxy

import (
	"errors"
	"strings"

	"github.com/jumpcast/jumpcast/internal/audit"
)

// ErrNoLiveSession is EndSession's answer for an id that is not a session
// running on this bastion (unknown, already ended, or a forward).
var ErrNoLiveSession = errors.New("no live session with that id")

// maxEndReason bounds the reason shown to the admin, in characters.
const maxEndReason = 200

// EndSession ends the running session whose recording id is id, at the
// request of by (for example "auditor bob"): the admin's terminal shows
// "jumpcast: session ended by <by>[: <why>]" and ssh exits with 255, the
// target channel is closed, the recording is finalized with that line as
// its exit reason, and a session/terminated audit event names by and why
// before anything else happens. why may be empty; control characters are
// dropped from it and it is cut to 200 characters.
func (s *Server) EndSession(id, by, why string) error {
	br := s.liveSession(id)
	if br == nil {
		return ErrNoLiveSession
	}
	msg, why := endedBy("session", by, why)
	cc := br.cc
	s.log.Warn("session ended on request", "session_id", id, "user", cc.id.User, "target", cc.login.Target,
		"by", by, "why", why)
	s.auditEvent(audit.SessionTerminated(cc.who(), id, by, why))
	br.abort(&adminError{Reason: audit.ReasonEndedOnRequest, Msg: msg})
	return nil
}

// endedBy is the admin's line for what ("session", "connection") ended at
// by's request for why, "<what> ended by <by>[: <why>]", and why as
// cleaned for it (cleanEndReason).
func endedBy(what, by, why string) (msg, cleanWhy string) {
	why = cleanEndReason(why)
	msg = what + " ended by " + cleanEndReason(by)
	if why != "" {
		msg += ": " + why
	}
	return msg, why
}

// liveSession finds the open session recording as id.
func (s *Server) liveSession(id string) *bridge {
	if id == "" {
		return nil
	}
	s.mu.Lock()
	open := make([]*bridge, 0, len(s.sessions))
	for a := range s.sessions {
		if br, ok := a.(*bridge); ok {
			open = append(open, br)
		}
	}
	s.mu.Unlock()
	for _, br := range open { // br.mu is never taken under s.mu
		if br.recordingID() == id {
			return br
		}
	}
	return nil
}

// cleanEndReason makes s safe to print on the admin's terminal: no control
// characters, at most maxEndReason characters, no surrounding spaces.
func cleanEndReason(s string) string {
	s = sanitizeLine(s)
	if r := []rune(s); len(r) > maxEndReason {
		s = string(r[:maxEndReason])
	}
	return strings.TrimSpace(s)
}
