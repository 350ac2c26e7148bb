package proxy

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	gossh "golang.org/x/crypto/ssh"
)

// copyStdin copies the admin's input to the target, then passes the EOF
// on with CloseWrite (the target channel stays open for output).
func (br *bridge) copyStdin() {
	defer br.stdin.Done()
	t := br.targetChannel()
	fastRelay(br.ch, t, br.up.raw, br.tap.tryInput, br.tap.apply)
	_, _ = io.Copy(t, tapReader{r: br.in, tap: br.tap.input})
	_ = t.CloseWrite()
}

// finish owns the target channel's output: it copies stdout and stderr to
// the admin, collects exit-status/exit-signal, and once both outputs hit
// EOF and the target closed, sends the exit message, EOF and close to the
// admin, in that order.
func (br *bridge) finish(t gossh.Channel) {
	defer close(br.finished)
	var wg sync.WaitGroup
	wg.Add(2)
	fastRelay(t, br.ch, br.cc.raw.Conn, br.tap.tryOutput, br.tap.apply)
	go func() { // owner: finish
		defer wg.Done()
		_, _ = io.Copy(tapWriter{w: br.ch, tap: br.tap.output}, t)
	}()
	go func() { // owner: finish
		defer wg.Done()
		_, _ = io.Copy(tapWriter{w: br.ch.Stderr(), tap: br.tap.output}, t.Stderr())
	}()
	var exits []*gossh.Request
	for r := range br.treqs {
		switch r.Type {
		case "exit-status", "exit-signal":
			exits = append(exits, r)
		}
		reply(r, false)
	}
	wg.Wait()
	// A barrier: the start request is answered before the close (see replying).
	br.replying.Lock()
	//lint:ignore SA2001 the empty critical section is the point
	br.replying.Unlock()
	br.sendExit(exits)
}

// sendExit passes the target's exit message on (or 255 when the bastion
// ended the session or the target connection was lost), then EOF and
// close.
func (br *bridge) sendExit(exits []*gossh.Request) {
	br.mu.Lock()
	forced, gone, pty := br.forced, br.gone, br.pty
	br.mu.Unlock()
	var exit asciicast.Exit
	switch {
	case forced != nil:
		exit = asciicast.Exit{Status: refusalStatus, HasStatus: true, Reason: forced.Msg}
	case len(exits) == 0 && (gone || br.cc.adminGone()):
		// The admin left first; closing their connection closed the target's.
		exit.Reason = string(audit.ReasonClientGone)
	case len(exits) == 0 && br.up != nil && !targetAlive(br.up.client, lostProbeTimeout):
		// Like ssh's "Connection to HOST closed by remote host." and 255.
		lost := &adminError{Reason: audit.ReasonTargetLost, Msg: "connection to " + br.up.label + " lost"}
		_, _ = br.ch.Stderr().Write([]byte(termLine(lost.line(), pty)))
		exit = asciicast.Exit{Status: refusalStatus, HasStatus: true, Reason: string(audit.ReasonTargetLost)}
	case len(exits) == 0:
		exit.Reason = string(audit.ReasonNoExitStatus)
	}
	if len(exits) > 0 && forced == nil {
		for _, r := range exits {
			_, _ = br.ch.SendRequest(r.Type, false, r.Payload)
			exit = exitFrom(r, exit)
		}
	} else if exit.HasStatus {
		_, _ = br.ch.SendRequest("exit-status", false, gossh.Marshal(exitStatusMsg{Status: uint32(exit.Status)}))
	}
	_ = br.ch.CloseWrite()
	_ = br.ch.Close()
	br.mu.Lock()
	br.exitSent = exit
	br.mu.Unlock()
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
func (br *bridge) finalize() {
	br.mu.Lock()
	exit := br.exitSent
	br.mu.Unlock()
	if br.started && !exit.HasStatus && exit.Signal == "" && exit.Reason == "" {
		exit.Reason = string(audit.ReasonClientGone)
	}
	if err := br.tap.close(exit); err != nil {
		br.s.log.Error("recording not finalized", "session_id", br.info.ID, "err", err)
	}
	if !br.started {
		return
	}
	cc := br.cc
	status := ""
	if exit.HasStatus {
		status = fmt.Sprint(exit.Status)
	}
	dur := br.s.now().Sub(br.info.Start)
	in, out := br.tap.bytes()
	br.s.log.Info("session ended", "session_id", br.info.ID, "user", cc.id.User,
		"target", cc.login.Target, "remote_user", cc.login.RemoteUser, "remote_addr", cc.remote.String(),
		"exit_status", status, "exit_signal", exit.Signal, "reason", exit.Reason, "duration", dur.Round(time.Millisecond).String(),
		slog.Group("bytes", "in", in, "out", out))
	br.s.auditEvent(cc.tag(audit.SessionEnded(cc.who(), br.info.ID, audit.End{Reason: audit.Reason(exit.Reason),
		HasStatus: exit.HasStatus, Status: exit.Status, Signal: exit.Signal, Duration: dur, BytesIn: in, BytesOut: out})))
}
