package proxy

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// decide makes the connection's policy decision once (login name and
// identity are fixed for the connection), logs it as one line and audits
// it. Later channels reuse it.
func (cc *clientConn) decide() Decision {
	cc.mu.Lock()
	if cc.decided {
		d := cc.decision
		cc.mu.Unlock()
		return d
	}
	d := cc.s.snap.Load().policy.Decide(cc.id.User, cc.login)
	cc.decided, cc.decision = true, d
	cc.mu.Unlock()

	ev := audit.PolicyDecided(cc.who(), d.Allowed, d.Reason, d.Address, cc.id.KeyFingerprint)
	cc.s.log.Info("policy decision", "user", cc.id.User, "target", cc.login.Target,
		"remote_user", cc.login.RemoteUser, "remote_addr", cc.remote.String(),
		"decision", ev.Outcome, "reason", d.Reason, "address", d.Address)
	cc.s.auditAsync(&cc.audits, ev)
	return d
}

// policyError is the admin's message for a refused decision.
func (cc *clientConn) policyError(d Decision) *adminError {
	if d.Unknown {
		return &adminError{Reason: audit.ReasonNoTarget, Msg: cc.login.Target + ": no such target"}
	}
	if d.Reason == audit.ReasonTargetNotPermitted {
		return &adminError{Reason: audit.ReasonNotPermitted, Msg: cc.login.Target + ": not permitted for " + cc.id.User}
	}
	return &adminError{Reason: audit.ReasonNotPermitted, Msg: cc.login.Target + ": " + string(d.Reason) + " for " + cc.id.User}
}

// target returns the connection's upstream, connecting and authenticating
// first when there is none. ss, when not nil, is the session channel that
// asked: its PTY makes prompts possible and its agent request makes agent
// authentication possible. Connects are serialized by connMu.
func (cc *clientConn) target(ctx context.Context, d Decision, ss *session) (*upstream, error) {
	cc.connMu.Lock()
	defer cc.connMu.Unlock()
	cc.mu.Lock()
	up, closed := cc.up, cc.closed
	cc.mu.Unlock()
	if up != nil {
		return up, nil
	}
	if closed {
		return nil, errors.New("admin connection closed")
	}
	s := cc.s
	snap := s.snap.Load()
	cfg := snap.cfg
	label := targetLabel(d.Alias, d.Address)
	plan := &authPlan{
		user:     cc.login.RemoteUser,
		host:     cc.login.Target,
		signers:  slices.Concat(snap.targetIDs[d.Alias], s.ids),
		password: cfg.Upstream.PasswordAuth,
	}
	if ss != nil && ss.ptyReq != nil {
		plan.prompt = &prompter{out: ss.ch.Stderr(), in: ss.in}
	}
	if d.AgentAuth && cc.agentRequested() {
		plan.agent = cc.openAgent
	}
	key := reuseKey{user: cc.id.User, alias: d.Alias, address: d.Address, remoteUser: cc.login.RemoteUser}
	if plan.agent == nil {
		if up := cc.takeKept(key, d); up != nil {
			return up, nil
		}
	}
	client, err := s.dialTarget(ctx, cfg, d, label, plan)
	if err != nil {
		ae := asAdminError(err, audit.ReasonUnreachable, label+": connection failed")
		s.log.Warn("target connection failed", "user", cc.id.User, "target", cc.login.Target,
			"remote_user", cc.login.RemoteUser, "remote_addr", cc.remote.String(),
			"reason", ae.Reason, "err", ae.Error())
		s.auditEvent(audit.UpstreamFailed(cc.who(), ae.Reason, d.Address, ae.Msg))
		return nil, ae
	}
	up = &upstream{client: client, label: label, key: key, snap: snap,
		reusable: plan.agent == nil && plan.triedMethods() == "publickey"}
	up.setOwner(cc)
	agentChans := client.HandleChannelOpen("auth-agent@openssh.com")
	go s.serveAgentChannels(up, agentChans) // owner: up; ends when client closes
	go s.watchUpstream(up)                  // owner: up; ends when client closes
	if !cc.adopt(up) {
		_ = up.Close()
		return nil, errors.New("admin connection closed")
	}
	s.log.Info("target connected", "user", cc.id.User, "target", cc.login.Target,
		"remote_user", cc.login.RemoteUser, "remote_addr", cc.remote.String(),
		"address", d.Address, "methods", plan.triedMethods())
	return up, nil
}

// lostProbeTimeout bounds how long a finished session channel without an
// exit status waits to learn whether its target connection is still up.
const lostProbeTimeout = 5 * time.Second

// targetAlive tells whether the target connection still answers: a global
// request that the target must reply to (OpenSSH and x/crypto answer an
// unknown one with a failure). A dead connection fails at once; one that
// does not answer within timeout counts as lost. The probe goroutine ends
// when the reply comes or the connection closes.
func targetAlive(c *gossh.Client, timeout time.Duration) bool {
	res := make(chan error, 1)
	go func() { // owner: targetAlive's caller; ends with a reply or the connection
		_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
		res <- err
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-res:
		return err == nil
	case <-t.C:
		return false
	}
}

// adminGone tells whether the admin's connection has closed (which closes
// the target connection too, so that is no loss of the target).
func (cc *clientConn) adminGone() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.closed
}

// targetLost logs and audits a target connection that closed while the
// admin was still connected (target crashed, rebooted, network cut).
// Each session channel on it then tells its admin in one line.
func (cc *clientConn) targetLost(d Decision, err error) {
	msg := "closed by the target"
	if err != nil && !errors.Is(err, io.EOF) {
		msg = err.Error()
	}
	cc.s.log.Warn("target connection lost", "user", cc.id.User, "target", cc.login.Target,
		"remote_user", cc.login.RemoteUser, "remote_addr", cc.remote.String(),
		"address", d.Address, "err", msg)
	cc.s.auditEvent(audit.UpstreamLost(cc.who(), d.Address, msg))
}

func (cc *clientConn) agentRequested() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.agentAsk
}

func (cc *clientConn) setAgentRequested() {
	cc.mu.Lock()
	cc.agentAsk = true
	cc.mu.Unlock()
}

// openAgent opens an agent channel back to the admin's client (it exists
// when the admin ran ssh -A) and returns a client for it and its closer.
func (cc *clientConn) openAgent() (agent.ExtendedAgent, func(), error) {
	cc.mu.Lock()
	conn := cc.sshConn
	cc.mu.Unlock()
	if conn == nil {
		return nil, nil, errors.New("no admin connection")
	}
	ch, reqs, err := conn.OpenChannel("auth-agent@openssh.com", nil)
	if err != nil {
		return nil, nil, err
	}
	go gossh.DiscardRequests(reqs) // owner: ch; ends when ch closes
	return agent.NewClient(ch), func() { _ = ch.Close() }, nil
}

// serveAgentChannels answers the target's agent channels (opened when a
// target session uses the forwarded agent) by opening the same channel
// type back to the client of the admin connection using up, when its
// policy allows and that admin asked.
func (s *Server) serveAgentChannels(up *upstream, chans <-chan gossh.NewChannel) {
	for nc := range chans {
		cc := up.getOwner()
		if cc == nil || !cc.agentForwardingOn() {
			_ = nc.Reject(gossh.Prohibited, "agent forwarding is not allowed")
			continue
		}
		cc.mu.Lock()
		conn := cc.sshConn
		cc.mu.Unlock()
		ach, areqs, err := conn.OpenChannel("auth-agent@openssh.com", nil)
		if err != nil {
			_ = nc.Reject(gossh.ConnectionFailed, "admin agent unavailable")
			continue
		}
		tch, treqs, err := nc.Accept()
		if err != nil {
			_ = ach.Close()
			continue
		}
		go gossh.DiscardRequests(areqs) // owner: ach
		go gossh.DiscardRequests(treqs) // owner: tch
		go join(ach, tch)               // owner: this agent channel pair
	}
}

// agentForwardingOn tells whether the admin asked for agent forwarding
// and the connection's policy decision allows it.
func (cc *clientConn) agentForwardingOn() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.agentAsk && cc.decided && cc.decision.AgentForwarding && cc.sshConn != nil
}

// watchUpstream waits for up to close and tells the admin connection using
// it, if any (a kept one just leaves the pool).
func (s *Server) watchUpstream(up *upstream) {
	err := up.client.Wait()
	s.pool.remove(up)
	if cc := up.getOwner(); cc != nil {
		cc.upstreamClosed(up, err)
	}
}

// upstreamClosed forgets up, so that the next channel connects again, and
// reports the loss unless the admin's own leaving closed it.
func (cc *clientConn) upstreamClosed(up *upstream, err error) {
	cc.mu.Lock()
	if cc.up == up {
		cc.up = nil
	}
	byAdmin, d := cc.closed, cc.decision
	cc.mu.Unlock()
	if !byAdmin {
		cc.targetLost(d, err)
	}
}

// drop closes up and forgets it, so that the next channel connects
// afresh.
func (cc *clientConn) drop(up *upstream) {
	cc.mu.Lock()
	if cc.up == up {
		cc.up = nil
	}
	cc.mu.Unlock()
	up.setOwner(nil)
	_ = up.Close()
}

// adopt makes up the connection's target connection; false means the
// admin connection has closed meanwhile.
func (cc *clientConn) adopt(up *upstream) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.closed {
		return false
	}
	cc.up = up
	return true
}

// halfCloser is a stream whose write side can be closed alone.
type halfCloser interface {
	io.ReadWriteCloser
	CloseWrite() error
}

// join copies a→b and b→a, passing each EOF on as a half-close, and closes
// both once both directions are done (or one fails).
func join(a, b halfCloser) {
	var wg sync.WaitGroup
	wg.Add(2)
	cp := func(dst, src halfCloser) {
		defer wg.Done()
		if _, err := io.Copy(dst, src); err != nil {
			_ = dst.Close()
			_ = src.Close()
			return
		}
		_ = dst.CloseWrite()
	}
	go cp(a, b) // owner: join
	go cp(b, a) // owner: join
	wg.Wait()
	_ = a.Close()
	_ = b.Close()
}
