package proxy

import (
	"bufio"
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/gliderlabs/ssh"
	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	gossh "golang.org/x/crypto/ssh"
)

// errHandled means the request that triggered open was fully answered
// (the no-target login) and the channel is done.
var errHandled = errors.New("handled")

// bridge joins one admin "session" channel to one target session
// channel. The request loop (run) owns every field not under mu; the
// finisher and the copy loops are started by it and only use ch,
// targetCh, treqs and tap.
//
// Its life, in order:
//  1. handleSession (this file) makes it for a new channel and runs run,
//     the request loop, in the channel's goroutine.
//  2. Requests before the start (pty-req, env, agent forwarding,
//     window-change; whatever order the client sends them in) are answered
//     and kept by shape. The start request calls open, which decides
//     (clientConn.decide), gets the upstream (clientConn.upstreamFor, with
//     the session's terminal known for prompts) and opens targetCh;
//     passShape hands the kept terminal and environment to it. Later
//     requests go through handle.
//  3. start forwards the one start request (shell, exec, subsystem) and
//     starts the recording (bridge_record.go) before the first byte
//     flows; a refused start (refuse, refusedStart) ends the channel with
//     a closed recording and an audit event. The no-target login answers
//     instead (bridge_whoami.go).
//  4. The copy loops (rectap.go, copyStdin in bridge_end.go) pass bytes
//     through the recorder's tap while run keeps forwarding requests.
//  5. finish (bridge_end.go) waits for both output streams' EOF, sends
//     the exit status (sendExit) and closes the channel; finalize ends the
//     recording and audits the end. abort (this file) ends it early for
//     the bastion: a lock, a reload, an end request (end.go), a lost
//     target.
type bridge struct {
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
	targetCh gossh.Channel  // nil until opened
	pty      bool           // the admin's terminal is in raw mode
	sid      string         // recording id, once the session started
	forced   *adminError    // why the bastion ended the session, if it did
	gone     bool           // the admin's channel ended before the target's
	exitSent asciicast.Exit // how the session ended, as passed to the admin
}

const (
	stateNew  = iota // before the start request: its shape is being kept
	stateOpen        // target channel open, requests are forwarded
	stateDone        // refused or answered: every request is refused
)

// maxRecordedSize bounds the terminal size written to a recording: a
// client may claim any uint32, and a player asked for 100000×100000 cells
// freezes the auditor's browser tab. The target still gets what was sent.
const maxRecordedSize = 1000

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
	br := &bridge{s: s, cc: cc, ctx: ctx, ch: ch, env: map[string]string{}}
	// Small: prompts read a byte at a time, and the stdin copier's reads
	// (2 KiB and up, see copyTapped) bypass the buffer once it is empty;
	// an idle session holds it for its whole life.
	br.in = bufio.NewReaderSize(ch, 512)
	br.tap = &recTap{onFail: br.recordingFailed}
	if !s.addSession(br) {
		go gossh.DiscardRequests(reqs) // owner: ch; ends when it closes
		sendRefusal(ch, false, "jumpcast: "+string(audit.ReasonShutdown))
		return
	}
	defer s.removeSession(br)
	br.run(pumpRequests(reqs))
}

// run is the request loop: the first request other than agent forwarding
// connects to the target (or refuses the session); later ones are
// forwarded. It returns when the admin's channel is closed and everything
// the session started has ended.
func (br *bridge) run(reqs <-chan *gossh.Request) {
	for r := range reqs {
		switch {
		case br.state == stateDone:
			reply(r, false)
		case br.state == stateNew && isStart(r.Type):
			// The session's shape is complete: connect with it.
			if err := br.open(); err != nil {
				br.state = stateDone
				if !errors.Is(err, errHandled) {
					br.refuse(r, err)
				} else {
					br.whoami(r)
				}
				continue
			}
			br.state = stateOpen
			br.passShape()
			br.handle(r)
		case br.state == stateNew:
			br.shape(r)
		default:
			br.handle(r)
		}
	}
	// The admin closed the channel (or the finisher did and the admin
	// answered): make sure the target side ends too.
	br.mu.Lock()
	br.gone = true
	br.mu.Unlock()
	if t := br.targetChannel(); t != nil {
		_ = t.Close()
		<-br.finished
	}
	br.stdin.Wait()
	br.finalize()
}

// handle forwards one admin request to the open target channel.
func (br *bridge) handle(r *gossh.Request) {
	switch r.Type {
	case "pty-req":
		p, ok := parsePty(r.Payload)
		if !ok || br.started {
			reply(r, false)
			return
		}
		br.ownModes(&p)
		r.Payload = gossh.Marshal(p)
		if br.forward(r) {
			br.setPTY(&p)
		}
	case "window-change":
		var wc windowChange
		if err := gossh.Unmarshal(r.Payload, &wc); err != nil {
			reply(r, false)
			return
		}
		// Record the new size before the target hears of it, so a redraw
		// it causes never precedes its "r" event in the recording.
		br.width, br.height = recordedSize(wc.Columns, wc.Rows)
		if br.started {
			br.tap.resize(br.width, br.height)
		}
		br.forward(r)
	case "env":
		var e envReq
		if err := gossh.Unmarshal(r.Payload, &e); err != nil || br.started ||
			!envAllowed(br.s.snap.Load().cfg.SSH.EnvAllow, e.Name, e.Value) {
			br.s.log.Debug("env refused", "user", br.cc.id.User, "name", e.Name)
			reply(r, false)
			return
		}
		if br.forward(r) {
			br.env[e.Name] = e.Value
		}
	case "shell", "exec", "subsystem":
		if br.started {
			reply(r, false)
			return
		}
		br.start(r)
	case "signal", "break":
		br.forward(r)
	case reqAgent:
		if !br.decision.AgentForwarding {
			reply(r, false)
			return
		}
		br.agentAsk = true
		br.cc.setAgentRequested()
		br.forward(r)
	default: // x11-req, keepalives, unknown extensions
		reply(r, false)
	}
}

// agentRequest answers auth-agent-req before the target is connected: the
// admin's agent may then be used to log in to the target and be forwarded
// to it, as far as policy allows.
// isStart tells whether typ is a request that starts the session.
func isStart(typ string) bool {
	return typ == "shell" || typ == "exec" || typ == "subsystem"
}

// maxEarlyEnv bounds the env requests kept before the start request.
const maxEarlyEnv = 64

// shape answers a request that comes before the start request and keeps
// what it says about the session: its terminal (pty-req, window-change),
// its environment (env) and agent forwarding. Clients send these in their
// own order (PuTTY's simple@putty.projects.tartarus.org and OpenSSH -X's
// x11-req come before pty-req), so nothing is decided on them: the target
// is reached when the start request arrives, with the whole shape known
// (passShape). They are answered at once, as the target would, because
// some clients (x/crypto's RequestPty, paramiko's get_pty) wait for the
// reply before they send the next request. Requests the bastion does not
// pass on (x11-req, signals before a program runs, unknown extensions)
// are refused without changing anything.
func (br *bridge) shape(r *gossh.Request) {
	switch r.Type {
	case reqAgent:
		br.agentRequest(r)
	case "pty-req":
		p, ok := parsePty(r.Payload)
		if !ok || br.ptyReq != nil {
			reply(r, false)
			return
		}
		br.ownModes(&p)
		br.setPTY(&p)
		reply(r, true)
	case "window-change":
		var wc windowChange
		if err := gossh.Unmarshal(r.Payload, &wc); err != nil || br.ptyReq == nil {
			reply(r, false)
			return
		}
		br.ptyReq.Columns, br.ptyReq.Rows = wc.Columns, wc.Rows
		br.ptyReq.Width, br.ptyReq.Height = wc.Width, wc.Height
		br.width, br.height = recordedSize(wc.Columns, wc.Rows)
		reply(r, true)
	case "env":
		var e envReq
		if err := gossh.Unmarshal(r.Payload, &e); err != nil || len(br.env) >= maxEarlyEnv ||
			!envAllowed(br.s.snap.Load().cfg.SSH.EnvAllow, e.Name, e.Value) {
			br.s.log.Debug("env refused", "user", br.cc.id.User, "name", e.Name)
			reply(r, false)
			return
		}
		br.env[e.Name] = e.Value
		reply(r, true)
	default:
		reply(r, false)
	}
}

// passShape gives the freshly opened target channel the terminal and
// environment the admin asked for before the start request. A target
// that refuses the terminal is told to the admin in ssh's own words, and
// the session goes on without one, as with ssh (its line is ssh's own).
func (br *bridge) passShape() {
	t := br.targetChannel()
	if br.ptyReq != nil {
		if ok, err := t.SendRequest("pty-req", true, gossh.Marshal(*br.ptyReq)); !ok || err != nil {
			br.ptyReq = nil
			br.mu.Lock()
			br.pty = false
			br.mu.Unlock()
			_, _ = br.ch.Stderr().Write([]byte("jumpcast: " + br.up.label + ": PTY allocation request failed\r\n"))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(br.env)) {
		_, _ = t.SendRequest("env", false, gossh.Marshal(envReq{Name: name, Value: br.env[name]}))
	}
}

func (br *bridge) agentRequest(r *gossh.Request) {
	cc := br.cc
	ok := false
	if cc.loginErr == nil && cc.login.HasTarget {
		d := cc.decide()
		ok = d.Allowed && (d.AgentAuth || d.AgentForwarding)
	}
	if ok {
		br.agentAsk = true
		cc.setAgentRequested()
	}
	reply(r, ok)
}

// ownModes replaces a pty-req's terminal modes by those the bastion sends
// the target (targetModes: echo on). A client's request for echo off is
// logged and audited; the session goes on.
func (br *bridge) ownModes(p *ptyReq) {
	modes, echoOff, replaced := targetModes([]byte(p.Modes))
	p.Modes = string(modes)
	cc := br.cc
	if replaced {
		br.s.log.Info("pty-req terminal modes unreadable; the target gets the bastion's own",
			"user", cc.id.User, "target", cc.login.Target, "remote_addr", cc.remote.String())
	}
	if echoOff {
		br.s.log.Warn("client asked for echo off; the target gets echo on", "user", cc.id.User,
			"target", cc.login.Target, "remote_user", cc.login.RemoteUser, "remote_addr", cc.remote.String())
		br.s.auditEvent(audit.EchoKeptOn(cc.who()))
	}
}

func (br *bridge) setPTY(p *ptyReq) {
	br.ptyReq = p
	br.width, br.height = recordedSize(p.Columns, p.Rows)
	br.mu.Lock()
	br.pty = true
	br.mu.Unlock()
}

// recordedSize is the size the recording states for a client's claim.
func recordedSize(cols, rows uint32) (int, int) {
	return int(min(cols, maxRecordedSize)), int(min(rows, maxRecordedSize))
}

// forward sends r to the target with its payload and passes the answer
// back.
func (br *bridge) forward(r *gossh.Request) bool {
	ok, err := br.targetChannel().SendRequest(r.Type, r.WantReply, r.Payload)
	ok = ok && err == nil
	reply(r, ok)
	return ok || !r.WantReply && err == nil
}

// open checks locks, the login and policy, connects to the target if the
// connection has no target yet, and opens the target session channel.
func (br *bridge) open() error {
	cc := br.cc
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
	br.decision = d
	up, err := cc.upstreamFor(br.ctx, d, br)
	if err != nil {
		return err
	}
	tch, treqs, err := up.client.OpenChannel("session", nil)
	if err != nil && up.wasReused() {
		// A kept connection can die between its probe and this open (the
		// target restarted): connect afresh once rather than fail.
		cc.drop(up)
		if up, err = cc.upstreamFor(br.ctx, d, br); err != nil {
			return err
		}
		tch, treqs, err = up.client.OpenChannel("session", nil)
	}
	if err != nil {
		return &adminError{Reason: audit.ReasonChannelRefused, Msg: up.label + ": session refused by target", Err: err}
	}
	br.mu.Lock()
	if br.forced != nil {
		br.mu.Unlock()
		go gossh.DiscardRequests(treqs) // owner: tch; ends when it closes
		_ = tch.Close()
		return br.forced
	}
	br.targetCh = tch
	br.mu.Unlock()
	br.treqs = treqs
	br.up = up
	br.finished = make(chan struct{})
	go br.finish(tch) // owner: bridge; closes br.finished
	if br.agentAsk && d.AgentForwarding {
		_, _ = tch.SendRequest(reqAgent, false, nil)
	}
	return nil
}

// start begins the recording and forwards the shell, exec or subsystem
// request. Under fail-closed, a recording that cannot start refuses the
// session.
func (br *bridge) start(r *gossh.Request) {
	kind, command, ok := kindOf(r)
	if !ok {
		reply(r, false)
		return
	}
	if ae := controlRefusal(r.Type, command); ae != nil {
		reply(r, true) // a "false" would add ssh's own "request failed" line
		br.state = stateDone
		br.s.auditEvent(br.cc.tag(audit.SessionDenied(br.cc.who(), ae.Reason, ae.Msg)))
		br.abort(ae)
		br.cc.startRefused()
		return
	}
	cc, d, now := br.cc, br.decision, br.s.now()
	// What the session starts with stays its own: a reload that switches
	// recording.on_failure or recording.input applies to sessions that
	// start afterwards.
	rc := br.s.snap.Load().cfg.Recording
	br.failClosed = rc.OnFailure != config.FailOpen
	br.info = recorder.SessionInfo{
		ID: recording.NewID(now), User: cc.id.User, KeyFingerprint: cc.id.KeyFingerprint,
		RemoteUser: cc.login.RemoteUser, TargetAlias: d.Alias, TargetAddr: d.Address,
		ClientAddr: cc.remote.String(), Kind: kind, Command: command,
		PTY: br.ptyReq != nil, RecordInput: rc.Input.Records(br.ptyReq != nil),
		Width: br.width, Height: br.height, Start: now,
	}
	if br.ptyReq != nil {
		br.info.Term = br.ptyReq.Term
	}
	br.info.Env = recorder.SessionEnv(br.info.Term, br.env)
	br.mu.Lock()
	br.sid = br.info.ID
	br.mu.Unlock()
	// The login and the policy decision are in the index before the
	// session's first byte (their writes overlapped the target dial).
	cc.audits.Wait()
	if err := br.startRecorder(); err != nil {
		reply(r, true)
		br.abort(&adminError{Reason: audit.ReasonRecording, Msg: "recording unavailable: " + recordingCause(err), Err: err})
		return
	}
	br.replying.Lock()
	ok = br.forward(r)
	br.replying.Unlock()
	if !ok {
		br.refusedStart(kind, command)
		return
	}
	br.started = true
	br.stdin.Add(1)
	go br.copyStdin() // owner: bridge; run waits for it
	// The log and the audit trail keep what the index keeps of the command;
	// the recording's header has it whole.
	shown, wholeLen := recording.CutCommand(command)
	br.s.log.Info("session started", "session_id", br.info.ID, "user", cc.id.User,
		"target", cc.login.Target, "remote_user", cc.login.RemoteUser, "remote_addr", cc.remote.String(),
		"kind", kind, "command", shown, "command_len", wholeLen)
	br.s.auditEvent(cc.tag(audit.SessionStarted(cc.who(), br.info.ID,
		audit.Start{Kind: kind, Command: shown, CommandLen: wholeLen, Address: d.Address, TargetLogin: targetLogin(br.up)})))
}

// refusedStart ends a session whose start request the target refused
// (the admin's ssh has its "request failed" answer). A channel gets one
// start: the recording opened for it (it must exist before the target
// runs anything, for fail-closed) is closed now, with the refusal as its
// exit reason, and the channel ends with one line, so that repeating the
// request cannot pile up recordings and open files. The refusal is an
// audit event.
func (br *bridge) refusedStart(kind, command string) {
	what := "the " + kind + " request"
	if kind == "subsystem" || kind == "sftp" {
		what = "subsystem " + strconv.Quote(cleanEndReason(command))
	}
	ae := &adminError{Reason: audit.ReasonChannelRefused, Msg: br.up.label + ": " + what + " refused by the target"}
	br.state = stateDone // every later request is refused without reaching the target
	br.s.auditEvent(br.cc.tag(audit.SessionDenied(br.cc.who(), ae.Reason, ae.Msg)))
	br.abort(ae)
	br.cc.startRefused()
}

// refuse answers the request that could not be served and ends the
// channel with the admin's one-line message and exit status 255.
func (br *bridge) refuse(r *gossh.Request, err error) {
	ae := asAdminError(err, audit.ReasonUnreachable, "session failed")
	// The decision that refused it is stored before the admin hears of it.
	br.cc.audits.Wait()
	reply(r, true) // a "false" would add ssh's own "request failed" line
	cc := br.cc
	br.s.log.Warn("session refused", "user", cc.id.User, "target", cc.login.Target,
		"remote_user", cc.login.RemoteUser, "remote_addr", cc.remote.String(),
		"reason", ae.Reason, "err", ae.Error())
	if ae.Reason == audit.ReasonBadLogin || ae.Reason == audit.ReasonLocked {
		br.s.auditEvent(cc.tag(audit.SessionDenied(cc.who(), ae.Reason, ae.Msg)))
	}
	br.mu.Lock()
	pty := br.pty
	forced := br.forced != nil
	br.exitSent = asciicast.Exit{Status: refusalStatus, HasStatus: true, Reason: string(ae.Reason)}
	br.mu.Unlock()
	if forced { // abort already told the admin
		return
	}
	sendRefusal(br.ch, pty, ae.line())
}

// abort ends the session on the bastion's initiative (shutdown, recording
// failure): the admin gets ae's line, the target channel is closed, and
// the finisher reports exit status 255. It is safe from any goroutine and
// acts once.
func (br *bridge) abort(ae *adminError) {
	br.mu.Lock()
	if br.forced != nil {
		br.mu.Unlock()
		return
	}
	br.forced = ae
	target, pty, sid := br.targetCh, br.pty, br.sid
	br.mu.Unlock()
	br.s.log.Warn("session ended by the bastion", "session_id", sid, "user", br.cc.id.User,
		"target", br.cc.login.Target, "reason", ae.Reason)
	if target != nil {
		_, _ = br.ch.Stderr().Write([]byte(termLine(ae.line(), pty)))
		_ = target.Close()
		return
	}
	sendRefusal(br.ch, pty, ae.line())
}

func (br *bridge) conn() *clientConn { return br.cc }

func (br *bridge) targetChannel() gossh.Channel {
	br.mu.Lock()
	defer br.mu.Unlock()
	return br.targetCh
}

func (br *bridge) recordingID() string {
	br.mu.Lock()
	defer br.mu.Unlock()
	return br.sid
}
