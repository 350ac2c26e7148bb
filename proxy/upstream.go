package proxy

import (
	"net"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// upstream is one SSH connection to a target, shared by the session and
// forwarding channels of one admin connection, and kept for the same
// user's next connection when it may be reused (see reuse.go).
type upstream struct {
	client   *gossh.Client
	raw      net.Conn  // client's TCP connection, for the relay's fast path (fastrelay.go)
	label    string    // "db1 (10.0.0.5:22)" or "10.0.0.9:22"
	key      reuseKey  // who may take it over
	snap     *snapshot // the configuration it was made under; kept only while current
	reusable bool      // authenticated with bastion-held keys only
	once     sync.Once

	expiry *time.Timer // closes it while kept; guarded by the pool's mu

	mu    sync.Mutex  // guards the fields below
	owner *clientConn // the admin connection using it; nil while kept
	uses  int         // admin connections that have used it, 1 when fresh
}

// setOwner hands up to cc (nil: kept, nobody's).
func (u *upstream) setOwner(cc *clientConn) {
	u.mu.Lock()
	u.owner = cc
	if cc != nil {
		u.uses++
	}
	u.mu.Unlock()
}

// wasReused tells whether an earlier admin connection used up before.
func (u *upstream) wasReused() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.uses > 1
}

func (u *upstream) getOwner() *clientConn {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.owner
}

// Close closes the target connection; it is idempotent.
func (u *upstream) Close() error {
	var err error
	u.once.Do(func() { err = u.client.Close() })
	return err
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

// serveUpstream answers what the target sends on up unasked, until the
// connection closes, then tells the admin connection using it, if any (a
// kept one just leaves the pool). Global requests (OpenSSH's keepalives)
// are refused, as x/crypto's Client does; agent channels, opened when a
// target session uses the forwarded agent, are served (serveAgentChannel);
// other channel types are refused. x/crypto closes both channels when the
// connection ends.
func (s *Server) serveUpstream(up *upstream, chans <-chan gossh.NewChannel, reqs <-chan *gossh.Request) {
	for chans != nil || reqs != nil {
		select {
		case nc, ok := <-chans:
			if !ok {
				chans = nil
				continue
			}
			if nc.ChannelType() != "auth-agent@openssh.com" {
				_ = nc.Reject(gossh.UnknownChannelType, "unknown channel type: "+nc.ChannelType())
				continue
			}
			// In its own goroutine: opening the admin's side waits for the
			// admin's client, and this loop must keep answering requests.
			go s.serveAgentChannel(up, nc) // owner: up; ends when the channel pair does
		case r, ok := <-reqs:
			if !ok {
				reqs = nil
				continue
			}
			reply(r, false)
		}
	}
	err := up.client.Wait()
	s.pool.remove(up)
	if cc := up.getOwner(); cc != nil {
		cc.upstreamClosed(up, err)
	}
}

// serveAgentChannel answers one agent channel the target opened by opening
// the same channel type back to the client of the admin connection using
// up, when its policy allows and that admin asked.
func (s *Server) serveAgentChannel(up *upstream, nc gossh.NewChannel) {
	cc := up.getOwner()
	if cc == nil || !cc.agentForwardingOn() {
		_ = nc.Reject(gossh.Prohibited, "agent forwarding is not allowed")
		return
	}
	cc.mu.Lock()
	conn := cc.sshConn
	cc.mu.Unlock()
	ach, areqs, err := conn.OpenChannel("auth-agent@openssh.com", nil)
	if err != nil {
		_ = nc.Reject(gossh.ConnectionFailed, "admin agent unavailable")
		return
	}
	tch, treqs, err := nc.Accept()
	if err != nil {
		_ = ach.Close()
		return
	}
	go gossh.DiscardRequests(areqs) // owner: ach
	go gossh.DiscardRequests(treqs) // owner: tch
	join(ach, tch)
}
