package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	gossh "golang.org/x/crypto/ssh"
)

// The terminal in the browser (replayweb's terminal page).
//
// The web site never reaches a target itself. For each terminal it asks
// OpenWebConn for an in-process connection to the bastion and runs an SSH
// client on it. That connection
// is served exactly as one from the SSH listener — the policy decision,
// the upstream dial, host keys and authentication (a target's password
// prompt reaches the web client as keyboard-interactive during its login,
// login_password.go), the recorder, the audit trail, the live view,
// reloads, locks and end requests — but for three things, all decided
// here:
//   - it authenticates with WebLogin.Key and nothing else: a key the web
//     site made for this one connection, which is no user's key, so it
//     opens nothing on the TCP listener;
//   - its policy decision also needs web_terminal in a matching rule, and
//     it gets neither agent nor port forwarding (a browser has no agent);
//   - its audit events carry detail via: web, and its key is recorded as
//     "web:ACCOUNT".

// WebLogin is who a connection handed over by the web site is.
type WebLogin struct {
	// User is the bastion user the web account maps to. Required.
	User string
	// Account is the web account's name; the connection's key fingerprint
	// (in its audit events and recordings) is "web:" + Account. Empty
	// means User.
	Account string
	// RemoteAddr is the browser's address as the web site saw it; the
	// connection's remote_addr. Required.
	RemoteAddr net.Addr
	// Key is the public half of the key the web site's client signs with.
	// Required.
	Key gossh.PublicKey
}

// webConn is the bastion's end of a web terminal's connection: its
// remote address is the browser's.
type webConn struct {
	net.Conn
	login WebLogin
}

func (c *webConn) RemoteAddr() net.Addr { return c.login.RemoteAddr }

// OpenWebConn makes an in-process connection to the bastion for wl and
// returns the web site's end, on which it runs an SSH client that
// authenticates with wl.Key as REMOTEUSER@TARGET. The bastion serves the
// other end on a goroutine of its own until either end closes. The pair
// is a socketpair, not a listener: nothing else can reach it.
func (s *Server) OpenWebConn(wl WebLogin) (net.Conn, error) {
	if wl.User == "" || wl.Key == nil || wl.RemoteAddr == nil {
		return nil, errors.New("proxy: web login needs a user, a key and an address")
	}
	if wl.Account == "" {
		wl.Account = wl.User
	}
	web, bastion, err := socketPair()
	if err != nil {
		return nil, fmt.Errorf("proxy: web connection: %w", err)
	}
	s.wg.Add(1)
	go func() { // owner: the Server (Close waits for wg); ends when the connection closes
		defer s.wg.Done()
		s.srv.HandleConn(&webConn{Conn: bastion, login: wl})
	}()
	return web, nil
}

// WebGrants returns user's grants as Grants does (what "ssh USER@bastion"
// prints), each with WebTerminal saying whether the terminal page may open
// it.
func (s *Server) WebGrants(user string) []Grant {
	return s.snap.Load().policy.Grants(user)
}

// errWebKey refuses any key but the web connection's own.
var errWebKey = errors.New("not the key this web terminal was handed")

// identifyIn decides who key is under snap's keys: for a web connection,
// its WebLogin's user when key is its key and the user still exists.
func (cc *clientConn) identifyIn(snap *snapshot, loginName string, key gossh.PublicKey, now time.Time) (identity, error) {
	if cc.web == nil {
		return snap.keys.identify(loginName, key, cc.remote, now)
	}
	if !bytes.Equal(key.Marshal(), cc.web.Key.Marshal()) {
		return identity{}, keyRefused(audit.ReasonKeyNotAuthorized, "%s", errWebKey.Error())
	}
	if !snap.keys.known[cc.web.User] {
		return identity{}, keyRefused(audit.ReasonKeyNotAuthorized, "user %s no longer exists", cc.web.User)
	}
	return identity{User: cc.web.User, KeyFingerprint: "web:" + cc.web.Account}, nil
}

// gate is the web connection's part of a policy decision: web_terminal
// must be granted, and agent and port forwarding are not. Other
// connections' decisions pass unchanged.
func (cc *clientConn) gate(d Decision) Decision {
	if cc.web == nil {
		return d
	}
	d.AgentAuth, d.AgentForwarding, d.PortForwarding = false, false, false
	if d.Allowed && !d.WebTerminal {
		d.Allowed, d.Reason = false, audit.ReasonWebTerminalNotGranted
	}
	return d
}

// tag marks the audit events of a web connection (via: web).
func (cc *clientConn) tag(ev audit.Event) audit.Event {
	if cc.web == nil {
		return ev
	}
	return audit.Web(ev)
}
