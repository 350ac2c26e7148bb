package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/gliderlabs/ssh"
	"github.com/jumpcast/jumpcast/internal/audit"
	gossh "golang.org/x/crypto/ssh"
)

// forwardRefused is what ssh prints for a refused direct-tcpip channel
// ("channel 0: open failed: administratively prohibited: …").
const forwardRefused = "port forwarding is not recorded and not allowed; use ssh USER@TARGET@bastion"

// directTCPIP is the payload of a "direct-tcpip" channel open (RFC 4254
// 7.2).
type directTCPIP struct {
	Host     string
	Port     uint32
	OrigHost string
	OrigPort uint32
}

// forward is one allowed direct-tcpip channel, registered with the server
// so that Shutdown can end it.
type forward struct {
	cc     *clientConn
	once   sync.Once
	ch     gossh.Channel
	remote net.Conn
}

func (f *forward) conn() *clientConn { return f.cc }

// abort closes both ends.
func (f *forward) abort(*adminError) {
	f.once.Do(func() {
		_ = f.ch.Close()
		_ = f.remote.Close()
	})
}

// handleDirectTCPIP is the "direct-tcpip" channel handler (ssh -L, ssh -J).
// Forwards cannot be recorded, so they are refused unless a rule with
// port_forwarding allows them. On a connection with a target
// (root@db1@bastion) the forward is dialled from the target, through the
// upstream connection; on a connection without one (ssh -J alice@bastion)
// the destination must itself be a permitted target, dialled from the
// bastion.
func (s *Server) handleDirectTCPIP(_ *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	cc, _ := ctx.Value(connKey).(*clientConn)
	if cc == nil || !cc.authOK.Load() {
		_ = nc.Reject(gossh.Prohibited, "not authenticated")
		return
	}
	cc.attach(conn)
	var p directTCPIP
	if err := gossh.Unmarshal(nc.ExtraData(), &p); err != nil || p.Port == 0 || p.Port > 65535 {
		_ = nc.Reject(gossh.ConnectionFailed, "malformed direct-tcpip request")
		return
	}
	if !cc.channelOpened() {
		_ = nc.Reject(gossh.ResourceShortage, "too many channels on this connection")
		return
	}
	defer cc.channelClosed()
	dst := net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port)))
	remote, via, err := s.dialForward(ctx, cc, p)
	if err != nil {
		ae := asAdminError(err, audit.ReasonNotPermitted, forwardRefused)
		cc.audits.Wait() // the decision is stored before the admin hears of it
		kind := gossh.Prohibited
		if ae.Reason != audit.ReasonNotPermitted && ae.Reason != audit.ReasonLocked {
			kind = gossh.ConnectionFailed
		}
		_ = nc.Reject(kind, ae.Msg)
		s.log.Warn("forward refused", "user", cc.id.User, "target", cc.login.Target, "remote_addr", cc.remote.String(),
			"destination", dst, "decision", audit.OutcomeDenied, "reason", ae.Reason, "err", ae.Error())
		s.auditEvent(audit.ForwardDenied(cc.who(), ae.Reason, dst))
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		_ = remote.Close()
		return
	}
	go gossh.DiscardRequests(reqs) // owner: ch; ends when it closes
	cc.audits.Wait()               // the login and decision are stored first
	f := &forward{cc: cc, ch: ch, remote: remote}
	if !s.addSession(f) {
		f.abort(nil)
		return
	}
	defer s.removeSession(f)
	s.log.Info("forward opened", "user", cc.id.User, "target", cc.login.Target, "remote_addr", cc.remote.String(),
		"destination", dst, "via", via)
	s.auditEvent(audit.ForwardOpened(cc.who(), dst, via, net.JoinHostPort(p.OrigHost, strconv.Itoa(int(p.OrigPort)))))
	join(ch, asHalfCloser(remote))
	f.abort(nil)
}

// dialForward applies policy and dials the forward's destination; via
// says from where ("target db1" or "bastion").
func (s *Server) dialForward(ctx context.Context, cc *clientConn, p directTCPIP) (net.Conn, string, error) {
	if ae := cc.refusal(); ae != nil {
		return nil, "", ae
	}
	if cc.loginErr != nil {
		return nil, "", &adminError{Reason: audit.ReasonNotPermitted, Msg: forwardRefused}
	}
	dst := net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port)))
	if cc.login.HasTarget {
		d := cc.decide()
		if !d.Allowed || !d.PortForwarding {
			return nil, "", &adminError{Reason: audit.ReasonNotPermitted, Msg: forwardRefused}
		}
		up, err := cc.upstreamFor(ctx, d, nil)
		if err != nil {
			return nil, "", err
		}
		c, err := up.client.DialContext(ctx, "tcp", dst)
		if err != nil {
			return nil, "", &adminError{Reason: audit.ReasonUnreachable, Msg: fmt.Sprintf("%s: cannot reach %s from the target", up.label, dst), Err: err}
		}
		return c, "target " + cc.login.Target, nil
	}
	d := s.snap.Load().policy.DecideForward(cc.id.User, p.Host, int(p.Port))
	if !d.Allowed {
		return nil, "", &adminError{Reason: audit.ReasonNotPermitted, Msg: forwardRefused}
	}
	if ae := cc.refusal(p.Host); ae != nil { // a lock on the destination
		return nil, "", ae
	}
	cc.forwardingTo(p.Host)
	dialer := net.Dialer{Timeout: s.snap.Load().cfg.Upstream.DialTimeout}
	c, err := dialer.DialContext(ctx, "tcp", d.Address)
	if err != nil {
		return nil, "", &adminError{Reason: audit.ReasonUnreachable, Msg: targetLabel(d.Alias, d.Address) + ": " + dialMessage(err), Err: err}
	}
	return c, "bastion", nil
}

// asHalfCloser gives a net.Conn a CloseWrite (TCP and x/crypto's forwarded
// connections have one; others close fully).
func asHalfCloser(c net.Conn) halfCloser {
	if h, ok := c.(halfCloser); ok {
		return h
	}
	return fullCloser{c}
}

type fullCloser struct{ net.Conn }

func (f fullCloser) CloseWrite() error { return f.Close() }

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
