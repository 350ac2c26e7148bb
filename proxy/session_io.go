package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	gossh "golang.org/x/crypto/ssh"
)

// handle forwards one admin request to the open target channel.
func (ss *session) handle(r *gossh.Request) {
	switch r.Type {
	case "pty-req":
		p, ok := parsePty(r.Payload)
		if !ok || ss.started {
			reply(r, false)
			return
		}
		ss.ownModes(&p)
		r.Payload = gossh.Marshal(p)
		if ss.forward(r) {
			ss.setPTY(&p)
		}
	case "window-change":
		var wc windowChange
		if err := gossh.Unmarshal(r.Payload, &wc); err != nil {
			reply(r, false)
			return
		}
		// Record the new size before the target hears of it, so a redraw
		// it causes never precedes its "r" event in the recording.
		ss.width, ss.height = recordedSize(wc.Columns, wc.Rows)
		if ss.started {
			ss.tap.resize(ss.width, ss.height)
		}
		ss.forward(r)
	case "env":
		var e envReq
		if err := gossh.Unmarshal(r.Payload, &e); err != nil || ss.started ||
			!envAllowed(ss.s.snap.Load().cfg.SSH.EnvAllow, e.Name, e.Value) {
			ss.s.log.Debug("env refused", "user", ss.cc.id.User, "name", e.Name)
			reply(r, false)
			return
		}
		if ss.forward(r) {
			ss.env[e.Name] = e.Value
		}
	case "shell", "exec", "subsystem":
		if ss.started {
			reply(r, false)
			return
		}
		ss.start(r)
	case "signal", "break":
		ss.forward(r)
	case reqAgent:
		if !ss.decision.AgentForwarding {
			reply(r, false)
			return
		}
		ss.agentAsk = true
		ss.cc.setAgentRequested()
		ss.forward(r)
	default: // x11-req, keepalives, unknown extensions
		reply(r, false)
	}
}

// ownModes replaces a pty-req's terminal modes by those the bastion sends
// the target (targetModes: echo on). A client's request for echo off is
// logged and audited; the session goes on.
func (ss *session) ownModes(p *ptyReq) {
	modes, echoOff, replaced := targetModes([]byte(p.Modes))
	p.Modes = string(modes)
	cc := ss.cc
	if replaced {
		ss.s.log.Info("pty-req terminal modes unreadable; the target gets the bastion's own",
			"user", cc.id.User, "target", cc.login.Target, "remote_addr", cc.remote.String())
	}
	if echoOff {
		ss.s.log.Warn("client asked for echo off; the target gets echo on", "user", cc.id.User,
			"target", cc.login.Target, "remote_user", cc.login.RemoteUser, "remote_addr", cc.remote.String())
		ss.s.auditEvent(audit.EchoKeptOn(cc.who()))
	}
}

// forward sends r to the target with its payload and passes the answer
// back.
func (ss *session) forward(r *gossh.Request) bool {
	ok, err := ss.getTarget().SendRequest(r.Type, r.WantReply, r.Payload)
	ok = ok && err == nil
	reply(r, ok)
	return ok || !r.WantReply && err == nil
}

// start begins the recording and forwards the shell, exec or subsystem
// request. Under fail-closed, a recording that cannot start refuses the
// session.
func (ss *session) start(r *gossh.Request) {
	kind, command, ok := kindOf(r)
	if !ok {
		reply(r, false)
		return
	}
	if ae := controlRefusal(r.Type, command); ae != nil {
		reply(r, true) // a "false" would add ssh's own "request failed" line
		ss.state = stateDone
		ss.s.auditEvent(audit.SessionDenied(ss.cc.who(), ae.Reason, ae.Msg))
		ss.abort(ae)
		return
	}
	cc, d, now := ss.cc, ss.decision, ss.s.now()
	// What the session starts with stays its own: a reload that switches
	// recording.on_failure or recording.input applies to sessions that
	// start afterwards.
	rc := ss.s.snap.Load().cfg.Recording
	ss.failClosed = rc.OnFailure != config.FailOpen
	ss.info = recorder.SessionInfo{
		ID: recording.NewID(now), User: cc.id.User, KeyFingerprint: cc.id.KeyFingerprint,
		RemoteUser: cc.login.RemoteUser, TargetAlias: d.Alias, TargetAddr: d.Address,
		ClientAddr: cc.remote.String(), Kind: kind, Command: command,
		PTY: ss.ptyReq != nil, RecordInput: rc.Input.Records(ss.ptyReq != nil),
		Width: ss.width, Height: ss.height, Start: now,
	}
	if ss.ptyReq != nil {
		ss.info.Term = ss.ptyReq.Term
	}
	ss.info.Env = recorder.SessionEnv(ss.info.Term, ss.env)
	ss.mu.Lock()
	ss.sid = ss.info.ID
	ss.mu.Unlock()
	// The login and the policy decision are in the index before the
	// session's first byte (their writes overlapped the target dial).
	cc.audits.Wait()
	if err := ss.startRecorder(); err != nil {
		reply(r, true)
		ss.abort(&adminError{Reason: audit.ReasonRecording, Msg: "recording unavailable: " + recordingCause(err), Err: err})
		return
	}
	ss.replying.Lock()
	ok = ss.forward(r)
	ss.replying.Unlock()
	if !ok {
		ss.refusedStart(kind, command)
		return
	}
	ss.started = true
	ss.stdin.Add(1)
	go ss.copyStdin() // owner: session; run waits for it
	// The log and the audit trail keep what the index keeps of the command;
	// the recording's header has it whole.
	shown, wholeLen := recording.CutCommand(command)
	ss.s.log.Info("session started", "session_id", ss.info.ID, "user", cc.id.User,
		"target", cc.login.Target, "remote_user", cc.login.RemoteUser, "remote_addr", cc.remote.String(),
		"kind", kind, "command", shown, "command_len", wholeLen)
	ss.s.auditEvent(audit.SessionStarted(cc.who(), ss.info.ID,
		audit.Start{Kind: kind, Command: shown, CommandLen: wholeLen, Address: d.Address, TargetLogin: targetLogin(ss.up)}))
}

// refusedStart ends a session whose start request the target refused
// (the admin's ssh has its "request failed" answer). A channel gets one
// start: the recording opened for it (it must exist before the target
// runs anything, for fail-closed) is closed now, with the refusal as its
// exit reason, and the channel ends with one line, so that repeating the
// request cannot pile up recordings and open files. The refusal is an
// audit event.
func (ss *session) refusedStart(kind, command string) {
	what := "the " + kind + " request"
	if kind == "subsystem" || kind == "sftp" {
		what = "subsystem " + strconv.Quote(cleanEndReason(command))
	}
	ae := &adminError{Reason: audit.ReasonChannelRefused, Msg: ss.up.label + ": " + what + " refused by the target"}
	ss.state = stateDone // every later request is refused without reaching the target
	ss.s.auditEvent(audit.SessionDenied(ss.cc.who(), ae.Reason, ae.Msg))
	ss.abort(ae)
}

// targetLogin says, for the audit trail, whether the session's target
// connection logged in for it ("new") or was kept from an earlier
// connection of the same user ("reused", see reuse.go).
func targetLogin(up *upstream) string {
	if up != nil && up.wasReused() {
		return "reused"
	}
	return "new"
}

// startRecorder starts the recording. An error means the session must be
// refused (fail-closed); under fail-open a failure is audited and the
// session goes on unrecorded.
func (ss *session) startRecorder() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sr, err := ss.s.rec.Start(ctx, ss.info)
	if err == nil && sr != nil {
		ss.tap.set(sr)
		return nil
	}
	if err == nil {
		err = fmt.Errorf("recorder returned nothing")
	}
	ss.auditRecording(err, ss.failClosed)
	if ss.failClosed {
		return err
	}
	return nil
}

// recordingCause words why a recording could not start for the admin:
// the low-level cause of a file error without the server's paths (the
// full error goes to the log and the audit event).
func recordingCause(err error) string {
	var pe *fs.PathError
	switch {
	case errors.Is(err, recorder.ErrLowDiskSpace):
		return "recordings disk below its free-space floor"
	case errors.As(err, &pe):
		return sanitizeLine(pe.Err.Error())
	default:
		return sanitizeLine(err.Error())
	}
}

// recordingFailed is the tap's failure hook: a recorder error mid-way.
func (ss *session) recordingFailed(err error) {
	ss.auditRecording(err, ss.failClosed)
	if ss.failClosed {
		ss.abort(&adminError{Reason: audit.ReasonRecording, Msg: "recording failed; session ended", Err: err})
	}
}

func (ss *session) auditRecording(err error, failClosed bool) {
	cc := ss.cc
	policy := config.FailOpen
	if failClosed {
		policy = config.FailClosed
	}
	ss.s.log.Error("recording failed", "session_id", ss.info.ID, "user", cc.id.User,
		"target", cc.login.Target, "policy", policy, "err", err)
	ss.s.auditEvent(audit.RecordingFailed(cc.who(), ss.info.ID, err, policy))
}

// copyStdin copies the admin's input to the target, then passes the EOF
// on with CloseWrite (the target channel stays open for output).
func (ss *session) copyStdin() {
	defer ss.stdin.Done()
	t := ss.getTarget()
	_, _ = io.Copy(t, tapReader{r: ss.in, tap: ss.tap.input})
	_ = t.CloseWrite()
}

// finish owns the target channel's output: it copies stdout and stderr to
// the admin, collects exit-status/exit-signal, and once both outputs hit
// EOF and the target closed, sends the exit message, EOF and close to the
// admin, in that order.
func (ss *session) finish(t gossh.Channel) {
	defer close(ss.finished)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // owner: finish
		defer wg.Done()
		_, _ = io.Copy(tapWriter{w: ss.ch, tap: ss.tap.output}, t)
	}()
	go func() { // owner: finish
		defer wg.Done()
		_, _ = io.Copy(tapWriter{w: ss.ch.Stderr(), tap: ss.tap.output}, t.Stderr())
	}()
	var exits []*gossh.Request
	for r := range ss.treqs {
		switch r.Type {
		case "exit-status", "exit-signal":
			exits = append(exits, r)
		}
		reply(r, false)
	}
	wg.Wait()
	// A barrier: the start request is answered before the close (see replying).
	ss.replying.Lock()
	//lint:ignore SA2001 the empty critical section is the point
	ss.replying.Unlock()
	ss.sendExit(exits)
}

// sendExit passes the target's exit message on (or 255 when the bastion
// ended the session or the target connection was lost), then EOF and
// close.
func (ss *session) sendExit(exits []*gossh.Request) {
	ss.mu.Lock()
	forced, gone, pty := ss.forced, ss.gone, ss.pty
	ss.mu.Unlock()
	var exit asciicast.Exit
	switch {
	case forced != nil:
		exit = asciicast.Exit{Status: refusalStatus, HasStatus: true, Reason: forced.Msg}
	case len(exits) == 0 && (gone || ss.cc.adminGone()):
		// The admin left first; closing their connection closed the target's.
		exit.Reason = string(audit.ReasonClientGone)
	case len(exits) == 0 && ss.up != nil && !targetAlive(ss.up.client, lostProbeTimeout):
		// Like ssh's "Connection to HOST closed by remote host." and 255.
		lost := &adminError{Reason: audit.ReasonTargetLost, Msg: "connection to " + ss.up.label + " lost"}
		_, _ = ss.ch.Stderr().Write([]byte(termLine(lost.line(), pty)))
		exit = asciicast.Exit{Status: refusalStatus, HasStatus: true, Reason: string(audit.ReasonTargetLost)}
	case len(exits) == 0:
		exit.Reason = string(audit.ReasonNoExitStatus)
	}
	if len(exits) > 0 && forced == nil {
		for _, r := range exits {
			_, _ = ss.ch.SendRequest(r.Type, false, r.Payload)
			exit = exitFrom(r, exit)
		}
	} else if exit.HasStatus {
		_, _ = ss.ch.SendRequest("exit-status", false, gossh.Marshal(exitStatusMsg{Status: uint32(exit.Status)}))
	}
	_ = ss.ch.CloseWrite()
	_ = ss.ch.Close()
	ss.mu.Lock()
	ss.exitSent = exit
	ss.mu.Unlock()
}

// exitFrom reads an exit request into e.
func exitFrom(r *gossh.Request, e asciicast.Exit) asciicast.Exit {
	switch r.Type {
	case "exit-status":
		var m exitStatusMsg
		if gossh.Unmarshal(r.Payload, &m) == nil {
			e.Status, e.HasStatus = int(m.Status), true
		}
	case "exit-signal":
		var m exitSignalMsg
		if gossh.Unmarshal(r.Payload, &m) == nil {
			e.Signal = m.Signal
		}
	}
	return e
}

// finalize closes the recording and writes the session's last log line
// and audit event. run calls it once everything else has ended.
func (ss *session) finalize() {
	ss.mu.Lock()
	exit := ss.exitSent
	ss.mu.Unlock()
	if ss.started && !exit.HasStatus && exit.Signal == "" && exit.Reason == "" {
		exit.Reason = string(audit.ReasonClientGone)
	}
	if err := ss.tap.close(exit); err != nil {
		ss.s.log.Error("recording not finalized", "session_id", ss.info.ID, "err", err)
	}
	if !ss.started {
		return
	}
	cc := ss.cc
	status := ""
	if exit.HasStatus {
		status = fmt.Sprint(exit.Status)
	}
	dur := ss.s.now().Sub(ss.info.Start)
	in, out := ss.tap.bytes()
	ss.s.log.Info("session ended", "session_id", ss.info.ID, "user", cc.id.User,
		"target", cc.login.Target, "remote_user", cc.login.RemoteUser, "remote_addr", cc.remote.String(),
		"exit_status", status, "exit_signal", exit.Signal, "reason", exit.Reason, "duration", dur.Round(time.Millisecond).String(),
		slog.Group("bytes", "in", in, "out", out))
	ss.s.auditEvent(audit.SessionEnded(cc.who(), ss.info.ID, audit.End{Reason: audit.Reason(exit.Reason),
		HasStatus: exit.HasStatus, Status: exit.Status, Signal: exit.Signal, Duration: dur, BytesIn: in, BytesOut: out}))
}
