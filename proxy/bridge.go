package proxy

import (
	"bufio"
	"context"
	"errors"
	"sync"

	"github.com/gliderlabs/ssh"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	gossh "golang.org/x/crypto/ssh"
)

// errHandled means the request that triggered open was fully answered
// (the no-target login) and the channel is done.
var errHandled = errors.New("handled")

// session bridges one admin session channel to one target session
// channel. The request loop (run) owns every field not under mu; the
// finisher and the copy loops are started by it and only use ch, target,
// treqs and tap.
type session struct {
	s   *Server
	cc  *clientConn
	ctx context.Context // the admin connection's context
	ch  gossh.Channel   // the admin's channel
	in  *bufio.Reader   // ch's stdin; prompts and the stdin copier share it
	tap *recTap

	// Owned by run.
	state    int // stateNew, stateOpen, stateDone
	ptyReq   *ptyReq
	width    int
	height   int
	env      map[string]string
	agentAsk bool
	started  bool
	// failClosed is recording.on_failure as it was when the session
	// started (set before the recording starts, read by the tap's failure
	// hook afterwards): a reload does not change a running session's.
	failClosed bool
	decision   Decision
	info       recorder.SessionInfo
	treqs      <-chan *gossh.Request
	up         *upstream     // the target connection; set before the finisher starts
	finished   chan struct{} // closed by the finisher after the exit message and close
	stdin      sync.WaitGroup
	// replying is held by run while the request that starts the session
	// (shell, exec, subsystem) is forwarded and answered. The finisher
	// takes it before it sends the exit status and closes the admin's
	// channel: a command that ends at once must not close the channel
	// before its start request was answered, or the admin's client sees
	// the close first and reports the request as failed (x/crypto's
	// Session.Start returns EOF although the command ran).
	replying sync.Mutex

	mu       sync.Mutex     // guards the fields below
	target   gossh.Channel  // nil until opened
	pty      bool           // the admin's terminal is in raw mode
	sid      string         // recording id, once the session started
	forced   *adminError    // why the bastion ended the session, if it did
	gone     bool           // the admin's channel ended before the target's
	exitSent asciicast.Exit // how the session ended, as passed to the admin
}

const (
	stateNew  = iota // no request beyond agent forwarding yet
	stateOpen        // target channel open, requests are forwarded
	stateDone        // refused or answered: every request is refused
)

// handleSession is the "session" channel handler. It runs in the
// goroutine gliderlabs starts for the channel and returns when the channel
// and its target channel are closed and the recording is finalized.
func (s *Server) handleSession(_ *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	cc, _ := ctx.Value(connKey).(*clientConn)
	if cc == nil || !cc.authOK.Load() {
		_ = nc.Reject(gossh.Prohibited, "not authenticated")
		return
	}
	cc.attach(conn)
	if !cc.channelOpened() {
		_ = nc.Reject(gossh.ResourceShortage, "too many channels on this connection")
		return
	}
	defer cc.channelClosed()
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	ss := &session{s: s, cc: cc, ctx: ctx, ch: ch, env: map[string]string{}}
	// 4 KiB: prompts read lines; the stdin copier's 32 KiB reads bypass
	// the buffer once it is empty, and an idle session holds less.
	ss.in = bufio.NewReaderSize(ch, 4<<10)
	ss.tap = &recTap{onFail: ss.recordingFailed}
	if !s.addSession(ss) {
		go gossh.DiscardRequests(reqs) // owner: ch; ends when it closes
		sendRefusal(ch, false, "jumpcast: "+string(audit.ReasonShutdown))
		return
	}
	defer s.removeSession(ss)
	ss.run(pumpRequests(reqs))
}

// run is the request loop: the first request other than agent forwarding
// connects to the target (or refuses the session); later ones are
// forwarded. It returns when the admin's channel is closed and everything
// the session started has ended.
func (ss *session) run(reqs <-chan *gossh.Request) {
	for r := range reqs {
		switch {
		case ss.state == stateDone:
			reply(r, false)
		case ss.state == stateNew && r.Type == reqAgent:
			ss.agentRequest(r)
		case ss.state == stateNew:
			if r.Type == "pty-req" {
				if p, ok := parsePty(r.Payload); ok {
					ss.setPTY(&p)
				}
			}
			if err := ss.open(); err != nil {
				ss.state = stateDone
				if !errors.Is(err, errHandled) {
					ss.refuse(r, err)
				} else {
					ss.whoami(r)
				}
				continue
			}
			ss.state = stateOpen
			ss.handle(r)
		default:
			ss.handle(r)
		}
	}
	// The admin closed the channel (or the finisher did and the admin
	// answered): make sure the target side ends too.
	ss.mu.Lock()
	ss.gone = true
	ss.mu.Unlock()
	if t := ss.getTarget(); t != nil {
		_ = t.Close()
		<-ss.finished
	}
	ss.stdin.Wait()
	ss.finalize()
}

// agentRequest answers auth-agent-req before the target is connected: the
// admin's agent may then be used to log in to the target and be forwarded
// to it, as far as policy allows.
func (ss *session) agentRequest(r *gossh.Request) {
	cc := ss.cc
	ok := false
	if cc.loginErr == nil && cc.login.HasTarget {
		d := cc.decide()
		ok = d.Allowed && (d.AgentAuth || d.AgentForwarding)
	}
	if ok {
		ss.agentAsk = true
		cc.setAgentRequested()
	}
	reply(r, ok)
}

// open checks locks, the login and policy, connects to the target if the
// connection has no target yet, and opens the target session channel.
func (ss *session) open() error {
	cc := ss.cc
	if ae := cc.refusal(); ae != nil {
		return ae
	}
	if cc.loginErr != nil {
		return &adminError{Reason: audit.ReasonBadLogin, Msg: cc.loginErr.Error(), Err: cc.loginErr}
	}
	if !cc.login.HasTarget {
		return errHandled
	}
	d := cc.decide()
	if !d.Allowed {
		return cc.policyError(d)
	}
	ss.decision = d
	up, err := cc.target(ss.ctx, d, ss)
	if err != nil {
		return err
	}
	tch, treqs, err := up.client.OpenChannel("session", nil)
	if err != nil && up.wasReused() {
		// A kept connection can die between its probe and this open (the
		// target restarted): connect afresh once rather than fail.
		cc.drop(up)
		if up, err = cc.target(ss.ctx, d, ss); err != nil {
			return err
		}
		tch, treqs, err = up.client.OpenChannel("session", nil)
	}
	if err != nil {
		return &adminError{Reason: audit.ReasonChannelRefused, Msg: up.label + ": session refused by target", Err: err}
	}
	ss.mu.Lock()
	if ss.forced != nil {
		ss.mu.Unlock()
		go gossh.DiscardRequests(treqs) // owner: tch; ends when it closes
		_ = tch.Close()
		return ss.forced
	}
	ss.target = tch
	ss.mu.Unlock()
	ss.treqs = treqs
	ss.up = up
	ss.finished = make(chan struct{})
	go ss.finish(tch) // owner: session; closes ss.finished
	if ss.agentAsk && d.AgentForwarding {
		_, _ = tch.SendRequest(reqAgent, false, nil)
	}
	return nil
}

// refuse answers the request that could not be served and ends the
// channel with the admin's one-line message and exit status 255.
func (ss *session) refuse(r *gossh.Request, err error) {
	ae := asAdminError(err, audit.ReasonUnreachable, "session failed")
	// The decision that refused it is stored before the admin hears of it.
	ss.cc.audits.Wait()
	reply(r, true) // a "false" would add ssh's own "request failed" line
	cc := ss.cc
	ss.s.log.Warn("session refused", "user", cc.id.User, "target", cc.login.Target,
		"remote_user", cc.login.RemoteUser, "remote_addr", cc.remote.String(),
		"reason", ae.Reason, "err", ae.Error())
	if ae.Reason == audit.ReasonBadLogin || ae.Reason == audit.ReasonLocked {
		ss.s.auditEvent(audit.SessionDenied(cc.who(), ae.Reason, ae.Msg))
	}
	ss.mu.Lock()
	pty := ss.pty
	forced := ss.forced != nil
	ss.exitSent = asciicast.Exit{Status: refusalStatus, HasStatus: true, Reason: string(ae.Reason)}
	ss.mu.Unlock()
	if forced { // abort already told the admin
		return
	}
	sendRefusal(ss.ch, pty, ae.line())
}

func (ss *session) setPTY(p *ptyReq) {
	ss.ptyReq = p
	ss.width, ss.height = recordedSize(p.Columns, p.Rows)
	ss.mu.Lock()
	ss.pty = true
	ss.mu.Unlock()
}

// maxRecordedSize bounds the terminal size written to a recording: a
// client may claim any uint32, and a player asked for 100000×100000 cells
// freezes the auditor's browser tab. The target still gets what was sent.
const maxRecordedSize = 1000

// recordedSize is the size the recording states for a client's claim.
func recordedSize(cols, rows uint32) (int, int) {
	return int(min(cols, maxRecordedSize)), int(min(rows, maxRecordedSize))
}

func (ss *session) conn() *clientConn { return ss.cc }

func (ss *session) getTarget() gossh.Channel {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.target
}

// abort ends the session on the bastion's initiative (shutdown, recording
// failure): the admin gets ae's line, the target channel is closed, and
// the finisher reports exit status 255. It is safe from any goroutine and
// acts once.
func (ss *session) abort(ae *adminError) {
	ss.mu.Lock()
	if ss.forced != nil {
		ss.mu.Unlock()
		return
	}
	ss.forced = ae
	target, pty, sid := ss.target, ss.pty, ss.sid
	ss.mu.Unlock()
	ss.s.log.Warn("session ended by the bastion", "session_id", sid, "user", ss.cc.id.User,
		"target", ss.cc.login.Target, "reason", ae.Reason)
	if target != nil {
		_, _ = ss.ch.Stderr().Write([]byte(termLine(ae.line(), pty)))
		_ = target.Close()
		return
	}
	sendRefusal(ss.ch, pty, ae.line())
}
