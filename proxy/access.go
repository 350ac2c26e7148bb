package proxy

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/lock"
)

// Cutting access. An admin connection is allowed once, when it
// authenticates and makes its policy decision; three things can take that
// back while it is open, and all three go through closeConnections:
//
//   - Reload: every open connection is checked again against the new
//     configuration (its key revoked or no longer authorized, its
//     certificate no longer valid, its target no longer granted);
//   - ApplyLocks: every connection a lock in force names (its user, key,
//     certificate authority or target);
//   - EndConnection: the connection of one running session, at an
//     auditor's or operator's request.
//
// A closed connection's open sessions each show the admin one line and
// end with exit status 255 (their recordings are finalized with that line
// as the reason), its forwards are closed, the closing is one audit event
// (kind connection), and after at most closeGrace the TCP connection is
// closed. Channels the admin opens meanwhile are refused with the same
// line, and so is every later connection that a lock or the new
// configuration still refuses.

// closeGrace bounds how long a closed connection's sessions get to deliver
// their line and exit status before the TCP connection is closed under
// them.
const closeGrace = 500 * time.Millisecond

// closing says why the bastion closes a whole admin connection.
type closing struct {
	reason audit.Reason // the audit event's reason and the log's
	by     string       // who or what: "reload", "lock ID", "auditor bob"
	msg    string       // the admin's line, after "jumpcast: "
}

func (c *closing) adminError() *adminError {
	return &adminError{Reason: c.reason, Msg: c.msg}
}

// closeConnections closes every open, authenticated admin connection for
// which why returns a closing, and returns how many it closed. It does not
// wait for them to be gone (at most closeGrace).
func (s *Server) closeConnections(why func(*clientConn) *closing) int {
	s.mu.Lock()
	conns := make([]*clientConn, 0, len(s.conns))
	for cc := range s.conns {
		conns = append(conns, cc)
	}
	s.mu.Unlock()
	n := 0
	for _, cc := range conns { // cc.mu is never taken under s.mu
		if c := why(cc); c != nil && cc.shut(c) {
			n++
		}
	}
	return n
}

// shut closes cc for c's reason, once: it tells each open session, ends
// its sessions and forwards, audits the closing and closes the connection
// when its channels are gone or closeGrace has passed. It returns false
// when cc was already closing or closed.
func (cc *clientConn) shut(c *closing) bool {
	s := cc.s
	cc.mu.Lock()
	if cc.closing != nil || cc.closed {
		cc.mu.Unlock()
		return false
	}
	cc.closing = c
	cc.mu.Unlock()

	open := s.channelsOf(cc)
	s.log.Warn("connection closed by the bastion", "user", cc.id.User, "target", cc.login.Target,
		"remote_user", cc.login.RemoteUser, "remote_addr", cc.remote.String(), "reason", c.reason,
		"by", c.by, "message", c.msg, "sessions", len(open))
	s.auditEvent(cc.tag(audit.ConnectionClosed(cc.who(), audit.Closing{Reason: c.reason, By: c.by, Message: c.msg,
		Key: cc.id.KeyFingerprint, Sessions: len(open)})))
	ae := c.adminError()
	s.wg.Add(2)
	go func() { // owner: the Server (Close waits for wg); ends when the connection is closed at the latest
		defer s.wg.Done()
		// An admin whose client stops reading blocks the write of the
		// line: that must hold up neither the other connections nor the
		// close below, which ends the write.
		for _, a := range open {
			a.abort(ae)
		}
	}()
	go func() { // owner: the Server (Close waits for wg); ends within closeGrace
		defer s.wg.Done()
		t := time.NewTimer(closeGrace)
		defer t.Stop()
		select {
		case <-cc.drained:
		case <-t.C:
		}
		_ = cc.raw.Close()
	}()
	if cc.channels.Load() == 0 {
		cc.drainOnce.Do(func() { close(cc.drained) })
	}
	return true
}

// maxRefusedStarts bounds the start requests (shell, exec, subsystem) that
// may be refused on one connection, counting every channel, as
// MaxAuthTries bounds keys: each refusal is audited and leaves a closed
// recording, so a client looping over channels must not make them without
// end. One start per channel is allowed at all (bridge.start).
const maxRefusedStarts = 10

// startRefused counts a refused start on cc and closes the connection at
// the maxRefusedStarts-th.
func (cc *clientConn) startRefused() {
	if cc.refused.Add(1) != maxRefusedStarts {
		return
	}
	cc.shut(&closing{reason: audit.ReasonTooManyRefusedStarts, by: "bastion",
		msg: fmt.Sprintf("%d session starts refused on this connection; closing it", maxRefusedStarts)})
}

// channelsOf returns cc's open session and forward channels.
func (s *Server) channelsOf(cc *clientConn) []aborter {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []aborter
	for a := range s.sessions {
		if a.conn() == cc {
			out = append(out, a)
		}
	}
	return out
}

// channelOpened counts a channel of cc, for max_channels_per_connection;
// false means the cap is reached and the channel must be refused.
func (cc *clientConn) channelOpened() bool {
	if max := int32(cc.snap.cfg.SSH.MaxChannelsPerConnection); cc.channels.Add(1) > max {
		cc.channelClosed()
		return false
	}
	return true
}

// channelClosed uncounts a channel of cc; the last one of a closing
// connection lets shut close it at once.
func (cc *clientConn) channelClosed() {
	if cc.channels.Add(-1) > 0 {
		return
	}
	cc.mu.Lock()
	closing := cc.closing != nil
	cc.mu.Unlock()
	if closing {
		cc.drainOnce.Do(func() { close(cc.drained) })
	}
}

// refusal is why a new channel of cc is refused before anything else is
// decided: cc is closing, or a lock in force names it (or names one of
// also, the destinations a new forward asks for). Nil means neither.
func (cc *clientConn) refusal(also ...string) *adminError {
	cc.mu.Lock()
	c := cc.closing
	cc.mu.Unlock()
	if c != nil {
		return c.adminError()
	}
	sub := cc.subject()
	sub.Targets = append(sub.Targets, also...)
	if l := cc.s.locks.Load().First(cc.s.now(), sub); l != nil {
		return &adminError{Reason: audit.ReasonLocked, Msg: l.Message()}
	}
	return nil
}

// subject is what locks are matched against: cc's user, its key (and
// certificate authority), the login's target and its forwards'
// destinations.
func (cc *clientConn) subject() lock.Subject {
	sub := lock.Subject{User: cc.id.User, Keys: []string{cc.id.KeyFingerprint}}
	if cc.id.CAFingerprint != "" {
		sub.Keys = append(sub.Keys, cc.id.CAFingerprint)
	}
	if cc.loginErr == nil && cc.login.HasTarget {
		sub.Targets = append(sub.Targets, cc.login.Host)
	}
	cc.mu.Lock()
	sub.Targets = append(sub.Targets, cc.forwardHosts...)
	cc.mu.Unlock()
	return sub
}

// forwardingTo adds host (an alias or a host, as the forward named it) to
// cc's targets, for locks.
func (cc *clientConn) forwardingTo(host string) {
	cc.mu.Lock()
	if !slices.Contains(cc.forwardHosts, host) {
		cc.forwardHosts = append(cc.forwardHosts, host)
	}
	cc.mu.Unlock()
}

// ApplyLocks makes locks the ones in force (expired ones are kept but
// match nothing) and closes, within a second, every open connection one
// of them names, telling its sessions the lock's line. New connections
// and channels it names are refused with the same line. The whole list is
// passed each time, so applying it again is harmless (see store's locks
// for how several nodes learn of a lock).
func (s *Server) ApplyLocks(locks []lock.Lock) {
	set := lock.NewSet(locks)
	s.locks.Store(set)
	n := s.closeConnections(func(cc *clientConn) *closing {
		l := set.First(s.now(), cc.subject())
		if l == nil {
			return nil
		}
		return &closing{reason: audit.ReasonLocked, by: "lock " + l.ID, msg: l.Message()}
	})
	s.log.Info("locks applied", "locks", len(locks), "connections_closed", n)
}

// recheck is Reload's question for one open connection: is it still
// allowed under snap? Nil means yes; a still-allowed connection takes the
// new policy's switches (port and agent forwarding) for what it opens next.
func (cc *clientConn) recheck(snap *snapshot, now time.Time) *closing {
	id, err := cc.identifyIn(snap, cc.loginName, cc.key, now)
	if err == nil && id.User != cc.id.User {
		err = keyRefused(audit.ReasonKeyNotAuthorized, "key %s is no longer authorized for %s", cc.id.KeyFingerprint, cc.id.User)
	}
	if err != nil {
		reason := audit.ReasonKeyNotAuthorized
		if kr := (*keyRefusal)(nil); errors.As(err, &kr) {
			reason = kr.Reason
		}
		return &closing{reason: reason, by: "reload", msg: "access revoked: " + sanitizeLine(err.Error())}
	}
	if cc.loginErr != nil || !cc.login.HasTarget {
		return nil
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !cc.decided || !cc.decision.Allowed {
		return nil // no channel asked yet (the decision will be made under snap), or none was allowed
	}
	d := cc.gate(snap.policy.Decide(cc.id.User, cc.login))
	if !d.Allowed {
		return &closing{reason: audit.ReasonNotPermitted, by: "reload",
			msg: "access revoked: " + cc.login.Target + " is no longer permitted for " + cc.id.User}
	}
	cc.decision.PortForwarding, cc.decision.AgentAuth, cc.decision.AgentForwarding =
		d.PortForwarding, d.AgentAuth, d.AgentForwarding
	return nil
}

// EndConnection ends the whole admin connection that the running session
// id belongs to, at the request of by ("auditor bob"): every session on it
// ends as EndSession ends one, with "jumpcast: connection ended by <by>[:
// <why>]", its forwards close, and the connection closes, so that no
// further command can run over it (an OpenSSH ControlMaster). why is
// cleaned as for EndSession.
func (s *Server) EndConnection(id, by, why string) error {
	br := s.liveSession(id)
	if br == nil {
		return ErrNoLiveSession
	}
	msg, _ := endedBy("connection", by, why)
	c := &closing{reason: audit.ReasonEndedOnRequest, by: by, msg: msg}
	if s.closeConnections(func(cc *clientConn) *closing {
		if cc == br.cc {
			return c
		}
		return nil
	}) == 0 {
		return ErrNoLiveSession
	}
	return nil
}
