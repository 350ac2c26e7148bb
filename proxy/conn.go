package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gliderlabs/ssh"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/rawconn"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// connKey is the gliderlabs context key of a connection's *clientConn.
var connKey = &struct{ name string }{"jumpcast-conn"}

// clientConn is one admin connection. Fields set during authentication
// (id, login, loginErr) are written by the handshake goroutine before the
// first channel handler runs and are read-only afterwards.
//
// Its life, in order (methods in this file unless named):
//  1. onConnect accepts the TCP connection within the limits (limits.go)
//     and makes the clientConn; serverConfig gives it its own x/crypto
//     config, whose callbacks are its methods.
//  2. publicKeyOffered / verified authenticate the bastion user (auth.go
//     decides who the key is); the login name is parsed then (login.go).
//  3. attach: the first channel handler hands over the x/crypto
//     connection. Each channel asks access.go's refusal and
//     channelOpened first (locks, the per-connection cap).
//  4. decide: the policy decision, made once, logged and audited.
//  5. upstreamFor: the target connection, made on the first channel that
//     needs it (or taken over from the pool, reuse.go) and shared by the
//     connection's session and forward channels; the agent methods serve
//     its agent requests. upstreamClosed / targetLost / drop / adopt keep
//     cc.up current when the target goes away.
//  6. onClose: the admin left; the upstream is closed or kept for reuse.
//     access.go's shut/recheck close it early when a reload, a lock or an
//     end request no longer allows it.
type clientConn struct {
	s      *Server
	ctx    context.Context // gliderlabs' connection context: done when the connection closes
	snap   *snapshot       // config at connect time, for limits
	remote net.Addr
	raw    *guardedConn
	web    *WebLogin // set for a connection from the web site's terminal (web.go); nil for TCP

	id        identity
	key       gossh.PublicKey // the key (or certificate) that signed, for Reload's re-check
	loginName string          // the SSH user name as sent ("root@db1")
	login     Login
	loginErr  error
	authOK    atomic.Bool
	tried     atomic.Bool // an authentication method other than "none" was tried

	channels  atomic.Int32  // open channels, capped by ssh.max_channels_per_connection
	refused   atomic.Int32  // start requests refused on its channels (startRefused)
	drained   chan struct{} // closed once the connection is closing and has no channel left
	drainOnce sync.Once

	connMu sync.Mutex     // serializes attempts to connect to the target
	audits sync.WaitGroup // audit events of the login and decision still being stored

	mu       sync.Mutex        // guards the fields below
	sshConn  *gossh.ServerConn // set by the first channel handler
	decided  bool              // decision is valid
	decision Decision          // policy decision for login, made once per connection
	up       *upstream         // the target connection, once made
	upErr    error             // why the connection made at login failed, for the first channel (login_password.go)
	agentAsk bool              // the admin asked for agent forwarding on some channel
	closed   bool              // the admin's connection is gone
	authWhy  string            // why the last offered key was refused, for the log
	closing  *closing          // why the bastion is closing the connection (access.go); nil while it is not
	// forwardHosts are the hosts and aliases its forwards went to (ssh
	// -J), for target locks.
	forwardHosts []string
}

// onConnect is gliderlabs' ConnCallback: it applies the abuse limits and
// arms the handshake timer. Returning nil closes the connection.
func (s *Server) onConnect(ctx ssh.Context, c net.Conn) net.Conn {
	snap := s.snap.Load()
	cfg := snap.cfg.SSH
	ip := hostOf(c.RemoteAddr())
	ok, reason := s.limits.admit(ip, cfg.MaxUnauthenticated, cfg.MaxAuthFailures, cfg.AuthFailureWindow)
	if !ok || s.isClosing() {
		if reason == "" {
			reason = string(audit.ReasonShutdown)
		}
		s.log.Warn("connection refused", "remote_addr", c.RemoteAddr().String(), "reason", reason)
		return nil
	}
	cc := &clientConn{s: s, ctx: ctx, snap: snap, remote: c.RemoteAddr(), drained: make(chan struct{})}
	if wc, ok := c.(*webConn); ok {
		cc.web = &wc.login
	}
	g := &guardedConn{Conn: rawconn.Wrap(c), release: func() { s.limits.release(ip) }}
	g.onClose = func(authed bool) { cc.onClose(authed) }
	g.timer = time.AfterFunc(cfg.HandshakeTimeout, func() { _ = c.Close() })
	cc.raw = g
	ctx.SetValue(connKey, cc)
	return g
}

// maxAuthTries makes a connection hang up after six refused keys, as
// OpenSSH's MaxAuthTries 6 does. Since x/crypto v0.59 a refused key
// offered without a signature (how every client offers its keys first) is
// not counted until the connection has had MaxAuthTries of them, so 3 here
// is 3 free offers + 3 counted ones = 6 keys. TestHostileBruteForce checks
// that the sixth key is still tried and the seventh is not.
const maxAuthTries = 3

// serverConfig is gliderlabs' ServerConfigCallback: hardened algorithms
// and the callbacks that record which key really signed.
func (s *Server) serverConfig(ctx ssh.Context) *gossh.ServerConfig {
	cc, _ := ctx.Value(connKey).(*clientConn)
	conf := &gossh.ServerConfig{
		Config:       serverAlgorithms(),
		MaxAuthTries: maxAuthTries,
	}
	conf.ChannelWindowPool = s.windows
	conf.PublicKeyAuthAlgorithms = publicKeyAuthAlgorithms()
	if cc != nil {
		if b := cc.snap.cfg.SSH.Banner; b != "" {
			banner := strings.TrimRight(b, "\n") + "\n"
			conf.BannerCallback = func(gossh.ConnMetadata) string { return banner }
		}
		conf.VerifiedPublicKeyCallback = cc.verified
		conf.AuthLogCallback = func(_ gossh.ConnMetadata, method string, _ error) {
			if method != "none" {
				cc.tried.Store(true)
			}
		}
	}
	return conf
}

// publicKeyOffered is gliderlabs' PublicKeyHandler. It runs for every key
// the client offers, signed or not, so it only answers "could this key
// log in"; verified records the key that actually signed.
func (s *Server) publicKeyOffered(ctx ssh.Context, key ssh.PublicKey) bool {
	cc, _ := ctx.Value(connKey).(*clientConn)
	if cc == nil {
		return false
	}
	_, err := cc.identifyIn(cc.snap, ctx.User(), key, s.now())
	if err != nil {
		cc.mu.Lock()
		cc.authWhy = err.Error()
		cc.mu.Unlock()
	}
	return err == nil
}

// verified runs after the client proved it holds key: the connection is
// authenticated as the key's bastion user.
func (cc *clientConn) verified(meta gossh.ConnMetadata, key gossh.PublicKey, _ *gossh.Permissions, _ string) (*gossh.Permissions, error) {
	s := cc.s
	id, err := cc.identifyIn(cc.snap, meta.User(), key, s.now())
	if err != nil {
		return nil, err
	}
	cc.id, cc.key, cc.loginName = id, key, meta.User()
	cc.login, cc.loginErr = ParseLogin(meta.User())
	cc.authOK.Store(true)
	cc.raw.authenticated()
	s.mu.Lock()
	s.conns[cc] = struct{}{}
	s.mu.Unlock()
	s.log.Info("authenticated", "user", id.User, "key", id.KeyFingerprint, "login", meta.User(),
		"remote_addr", cc.remote.String())
	s.auditAsync(&cc.audits, cc.tag(audit.AuthOK(id.User, cc.remote.String(), meta.User(),
		audit.Key{Fingerprint: id.KeyFingerprint, CA: id.CAFingerprint, CertKeyID: id.CertKeyID})))
	perms := &gossh.Permissions{Extensions: map[string]string{"jumpcast-user": id.User, "jumpcast-key": id.KeyFingerprint}}
	if err := cc.connectAtLogin(perms); err != nil {
		return nil, err // the target's password is asked as the login's next step
	}
	return perms, nil
}

// attach records the SSH connection for later channel opens toward the
// admin (agent forwarding); every channel handler calls it.
func (cc *clientConn) attach(conn *gossh.ServerConn) {
	cc.mu.Lock()
	if cc.sshConn == nil {
		cc.sshConn = conn
	}
	cc.mu.Unlock()
}

// who is the connection's party in audit events: the bastion user, the
// admin's address, and the target and remote user of the login name.
func (cc *clientConn) who() audit.Who {
	return audit.Who{User: cc.id.User, RemoteAddr: cc.remote.String(), Target: cc.login.Target, RemoteUser: cc.login.RemoteUser}
}

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
	d := cc.gate(cc.s.snap.Load().policy.Decide(cc.id.User, cc.login))
	cc.decided, cc.decision = true, d
	cc.mu.Unlock()

	ev := cc.tag(audit.PolicyDecided(cc.who(), d.Allowed, d.Reason, d.Address, cc.id.KeyFingerprint))
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

// upstreamFor returns the connection's upstream, connecting and authenticating
// first when there is none. br, when not nil, is the session channel that
// asked: its PTY makes prompts possible and its agent request makes agent
// authentication possible. Connects are serialized by connMu.
func (cc *clientConn) upstreamFor(ctx context.Context, d Decision, br *bridge) (*upstream, error) {
	var ask asker
	if br != nil && br.ptyReq != nil {
		ask = &prompter{out: br.ch.Stderr(), in: br.in}
	}
	return cc.connectUpstream(ctx, d, ask, false)
}

// connectUpstream is upstreamFor with the asker for the target's prompts
// (nil: none). atLogin is the connection made during the admin's login
// (login_password.go): it has no agent yet, so when the grant allows
// agent authentication and the target offers public keys, its prompts,
// and its refusal of the bastion's keys, are left for later (errAskLater,
// neither logged nor audited).
func (cc *clientConn) connectUpstream(ctx context.Context, d Decision, ask asker, atLogin bool) (*upstream, error) {
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
	if err := cc.takeLoginErr(); err != nil {
		return nil, err // the login's attempt failed; it was logged and audited then
	}
	s := cc.s
	snap := s.snap.Load()
	cfg := snap.cfg
	label := targetLabel(d.Alias, d.Address)
	plan := &authPlan{
		user:        cc.login.RemoteUser,
		host:        cc.login.Target,
		signers:     slices.Concat(snap.targetIDs[d.Alias], s.ids),
		password:    cfg.Upstream.PasswordAuth,
		prompt:      ask,
		laterIfKeys: atLogin && d.AgentAuth,
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
	tc, err := s.dialTarget(ctx, cfg, d, label, plan)
	if errors.Is(err, errAskLater) {
		return nil, err
	}
	if err != nil {
		ae := asAdminError(err, audit.ReasonUnreachable, label+": connection failed")
		if atLogin && d.AgentAuth && ae.Reason == audit.ReasonUpstreamAuth && plan.targetOffersKeys() && !plan.gotAnswers() {
			return nil, errAskLater // the admin's agent, after login, may do
		}
		s.log.Warn("target connection failed", "user", cc.id.User, "target", cc.login.Target,
			"remote_user", cc.login.RemoteUser, "remote_addr", cc.remote.String(),
			"reason", ae.Reason, "err", ae.Error())
		s.auditEvent(cc.tag(audit.UpstreamFailed(cc.who(), ae.Reason, d.Address, ae.Msg)))
		return nil, ae
	}
	up = &upstream{client: tc.client, raw: tc.raw, label: label, key: key, snap: snap,
		reusable: plan.agent == nil && plan.triedMethods() == "publickey"}
	up.setOwner(cc)
	go s.serveUpstream(up, tc.chans, tc.reqs) // owner: up; ends when the target connection closes
	if !cc.adopt(up) {
		_ = up.Close()
		return nil, errors.New("admin connection closed")
	}
	s.log.Info("target connected", "user", cc.id.User, "target", cc.login.Target,
		"remote_user", cc.login.RemoteUser, "remote_addr", cc.remote.String(),
		"address", d.Address, "methods", plan.triedMethods())
	return up, nil
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

// adminGone tells whether the admin's connection has closed (which closes
// the target connection too, so that is no loss of the target).
func (cc *clientConn) adminGone() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.closed
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

// agentForwardingOn tells whether the admin asked for agent forwarding
// and the connection's policy decision allows it.
func (cc *clientConn) agentForwardingOn() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.agentAsk && cc.decided && cc.decision.AgentForwarding && cc.sshConn != nil
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

// onClose runs once when the admin's TCP connection closes: it counts a
// failed authentication and closes the target connection.
func (cc *clientConn) onClose(authed bool) {
	s := cc.s
	if !authed && cc.tried.Load() {
		s.limits.fail(hostOf(cc.remote), cc.snap.cfg.SSH.AuthFailureWindow)
		cc.mu.Lock()
		why := cc.authWhy
		cc.mu.Unlock()
		if why == "" {
			why = "no key offered"
		}
		s.log.Warn("authentication failed", "remote_addr", cc.remote.String(), "why", why)
		s.auditEvent(audit.AuthDenied(cc.remote.String(), why))
	}
	s.mu.Lock()
	delete(s.conns, cc)
	s.mu.Unlock()
	cc.mu.Lock()
	cc.closed = true
	up := cc.up
	cc.mu.Unlock()
	if up != nil {
		cc.release(up)
	}
}
