package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/rawconn"
	gossh "golang.org/x/crypto/ssh"
)

// Outcomes of a target connection attempt, as passed to Options.OnDial.
const (
	DialOK          = "ok"          // connected and authenticated
	DialUnreachable = "unreachable" // TCP connect or SSH handshake failed or timed out
	DialHostKey     = "hostkey"     // the host key was unknown or changed
	DialAuthFailed  = "auth_failed" // the target refused every credential, or the admin aborted a prompt
	DialError       = "error"       // anything else
	DialReused      = "reused"      // a kept connection was taken over (reuse.go); took is the liveness probe
)

// targetConn is a new connection to a target: the client the bastion opens
// channels with, and what the target sends unasked (channel opens, global
// requests), which serveUpstream answers.
type targetConn struct {
	client *gossh.Client
	raw    net.Conn // the TCP connection under client (rawconn.Wrap)
	chans  <-chan gossh.NewChannel
	reqs   <-chan *gossh.Request
}

// dialTarget connects to the decided target (see connectTarget) and tells
// Options.OnDial how long that took and how it ended.
func (s *Server) dialTarget(ctx context.Context, cfg *config.Config, d Decision, label string, plan *authPlan) (*targetConn, error) {
	start := time.Now() // monotonic; s.now may be a test clock
	c, err := s.connectTarget(ctx, cfg, d, label, plan)
	if s.onDial != nil {
		s.onDial(dialOutcome(err), time.Since(start))
	}
	return c, err
}

// dialOutcome classifies a connectTarget error for OnDial.
func dialOutcome(err error) string {
	if err == nil {
		return DialOK
	}
	var ae *adminError
	if !errors.As(err, &ae) {
		return DialError
	}
	switch ae.Reason {
	case audit.ReasonUnreachable:
		return DialUnreachable
	case audit.ReasonHostKeyChanged, audit.ReasonHostKeyUnknown:
		return DialHostKey
	case audit.ReasonUpstreamAuth:
		return DialAuthFailed
	}
	return DialError
}

// connectTarget connects to the decided target within upstream.dial_timeout,
// verifies its host key and authenticates with plan, bounding the SSH
// handshake by upstream.handshake_timeout (lifted while the admin answers
// a prompt). Errors are *adminError with a message for the admin.
func (s *Server) connectTarget(ctx context.Context, cfg *config.Config, d Decision, label string, plan *authPlan) (*targetConn, error) {
	hk, err := s.hostKeyPolicy(cfg, label, d.Address, d.Target)
	if err != nil {
		return nil, err
	}
	dialer := net.Dialer{Timeout: cfg.Upstream.DialTimeout}
	conn, err := dialer.DialContext(ctx, "tcp", d.Address)
	if err != nil {
		return nil, &adminError{Reason: audit.ReasonUnreachable, Msg: label + ": " + dialMessage(err), Err: err}
	}
	deadline := func() { _ = conn.SetDeadline(time.Now().Add(cfg.Upstream.HandshakeTimeout)) }
	deadline()
	plan.pause = func() { _ = conn.SetDeadline(time.Time{}) }
	plan.resume = deadline
	ccfg := &gossh.ClientConfig{
		Config:            clientAlgorithms(),
		User:              plan.user,
		Auth:              plan.methods(),
		HostKeyCallback:   hk.callback,
		HostKeyAlgorithms: hk.algos,
		ClientVersion:     "SSH-2.0-jumpcast",
	}
	ccfg.ChannelWindowSize = uint32(cfg.Upstream.ChannelWindow)
	ccfg.ChannelWindowPool = s.windows
	raw := rawconn.Wrap(conn)
	c, chans, reqs, err := gossh.NewClientConn(raw, d.Address, ccfg)
	plan.close()
	if err != nil {
		_ = conn.Close()
		return nil, upstreamError(label, plan, err)
	}
	_ = conn.SetDeadline(time.Time{})
	// Not gossh.NewClient: its three goroutines per connection (global
	// requests, channel opens, and one waiting for the end) are one here,
	// serveUpstream. The bastion uses only what a bare Client offers
	// (OpenChannel, DialContext, SendRequest, Wait, Close); HandleChannelOpen
	// and Listen, which need NewClient's handlers, are not used.
	return &targetConn{client: &gossh.Client{Conn: c}, raw: raw, chans: chans, reqs: reqs}, nil
}

// upstreamError turns a failed SSH handshake into the admin's message.
func upstreamError(label string, plan *authPlan, err error) error {
	var ae *adminError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, errAskLater):
		return err
	case errors.Is(err, errPromptAborted):
		return &adminError{Reason: audit.ReasonUpstreamAuth, Msg: label + ": authentication aborted", Err: err}
	case isTimeout(err):
		return &adminError{Reason: audit.ReasonUnreachable, Msg: label + ": ssh handshake timed out", Err: err}
	case strings.Contains(err.Error(), "unable to authenticate"), plan.gotAnswers():
		// x/crypto (v0.59) has no typed error for "every method was
		// refused": its clientAuthenticate returns a plain fmt.Errorf.
		// TestUpstreamAuthFailedNamesMethods and TestOpenSSHAgentForwarding pin the
		// admin's line, so an x/crypto that rewords it fails there. A
		// target that hangs up after answered prompts (sshd at its
		// MaxAuthTries) refused them too.
		msg := fmt.Sprintf("%s: authentication failed as %s (tried %s)", label, plan.user, plan.triedMethods())
		if plan.prompt == nil && plan.password {
			msg += "; password prompts need a terminal (ssh -t)"
		}
		return &adminError{Reason: audit.ReasonUpstreamAuth, Msg: msg, Err: err}
	default:
		return &adminError{Reason: audit.ReasonUnreachable, Msg: label + ": ssh handshake failed", Err: err}
	}
}
