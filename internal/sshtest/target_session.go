package sshtest

import (
	"os"
	"os/exec"
	"os/user"
	"strings"
	"syscall"
	"time"

	"github.com/gliderlabs/ssh"
	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// session is one raw "session" channel. Its fields are owned by the goroutine that
// runs handleSession (the request loop); the finisher goroutine only receives
// copies of what it needs when the session starts.
type session struct {
	tg   *Target
	conn *gossh.ServerConn
	ch   gossh.Channel

	env     map[string]string
	pty     *ptyRequest // nil: no PTY requested
	ptmx    *os.File    // PTY master once the shell or command runs with a PTY
	agent   bool        // auth-agent-req@openssh.com was accepted
	started bool
	pgid    int           // process group of the child; 0 for sftp
	done    chan struct{} // closed by the finisher when exit was sent and the channel closed
	agentLn *agentListener
}

// ptyRequest is the payload of "pty-req" (RFC 4254 6.2).
type ptyRequest struct {
	Term          string
	Columns, Rows uint32
	Width, Height uint32
	Modes         string
}

// windowChange is the payload of "window-change" (RFC 4254 6.7).
type windowChange struct {
	Columns, Rows uint32
	Width, Height uint32
}

// handleSession owns one session channel: it runs the request loop in the calling
// goroutine (started by gliderlabs, counted in tg.wg) until the channel closes.
func (tg *Target) handleSession(_ *ssh.Server, conn *gossh.ServerConn, newChan gossh.NewChannel, _ ssh.Context) {
	if !tg.enter() {
		_ = newChan.Reject(gossh.ResourceShortage, "target closing")
		return
	}
	defer tg.wg.Done()
	ch, reqs, err := newChan.Accept()
	if err != nil {
		return
	}
	tg.mu.Lock()
	tg.active++
	tg.mu.Unlock()
	defer func() {
		tg.mu.Lock()
		tg.active--
		tg.mu.Unlock()
	}()
	s := &session{tg: tg, conn: conn, ch: ch, env: map[string]string{}}
	for req := range reqs {
		tg.mu.Lock()
		tg.requests = append(tg.requests, req.Type)
		tg.mu.Unlock()
		ok, after := s.handle(req)
		if req.WantReply {
			_ = req.Reply(ok, nil)
		}
		if after != nil {
			after()
		}
	}
	s.abort()
}

// Requests returns the types of all requests received on session channels, in
// arrival order across all sessions (e.g. "pty-req", "env", "shell",
// "window-change", "signal", "break").
func (tg *Target) Requests() []string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]string(nil), tg.requests...)
}

// handle answers one request. after, if not nil, runs once the reply was sent (it
// starts the I/O of a shell, exec or subsystem).
func (s *session) handle(req *gossh.Request) (ok bool, after func()) {
	switch req.Type {
	case "pty-req":
		var p ptyRequest
		if s.started || gossh.Unmarshal(req.Payload, &p) != nil {
			return false, nil
		}
		s.pty = &p
		return true, nil
	case "env":
		var kv struct{ Name, Value string }
		if gossh.Unmarshal(req.Payload, &kv) != nil {
			return false, nil
		}
		s.env[kv.Name] = kv.Value
		return true, nil
	case "window-change":
		return s.windowChange(req.Payload), nil
	case "auth-agent-req@openssh.com":
		s.agent = true
		return true, nil
	case "shell":
		return s.start("")
	case "exec":
		var c struct{ Command string }
		if gossh.Unmarshal(req.Payload, &c) != nil {
			return false, nil
		}
		return s.start(c.Command)
	case "subsystem":
		var sub struct{ Name string }
		if gossh.Unmarshal(req.Payload, &sub) != nil || sub.Name != "sftp" {
			return false, nil
		}
		return s.startSFTP()
	case "signal":
		var sig struct{ Signal string }
		if gossh.Unmarshal(req.Payload, &sig) != nil {
			return false, nil
		}
		return s.signal(sig.Signal), nil
	case "break":
		if s.ptmx == nil {
			return false, nil
		}
		return sendBreak(s.ptmx) == nil, nil
	}
	return false, nil
}

// windowChange applies a new size to the PTY (or to the pending pty-req).
func (s *session) windowChange(payload []byte) bool {
	var w windowChange
	if s.pty == nil || gossh.Unmarshal(payload, &w) != nil {
		return false
	}
	s.pty.Columns, s.pty.Rows, s.pty.Width, s.pty.Height = w.Columns, w.Rows, w.Width, w.Height
	if s.ptmx == nil {
		return true
	}
	return setWinsize(s.ptmx, s.pty)
}

// setWinsize resizes the PTY through the file's RawControl, which holds a
// reference on the descriptor: the finisher may Close ptmx at any moment, and
// pty.Setsize's bare Fd() would race with that close.
func setWinsize(ptmx *os.File, p *ptyRequest) bool {
	rc, err := ptmx.SyscallConn()
	if err != nil {
		return false
	}
	ws := &unix.Winsize{Row: uint16(p.Rows), Col: uint16(p.Columns), Xpixel: uint16(p.Width), Ypixel: uint16(p.Height)}
	var ioErr error
	if err := rc.Control(func(fd uintptr) { ioErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws) }); err != nil {
		return false
	}
	return ioErr == nil
}

// signal delivers a "signal" request (name without "SIG") to the child's process group.
func (s *session) signal(name string) bool {
	sig := unix.SignalNum("SIG" + name)
	if sig == 0 || s.pgid == 0 || !s.running() {
		return false
	}
	return s.kill(sig) == nil
}

// running reports whether the session started and its finisher has not finished.
func (s *session) running() bool {
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// kill sends sig to the child's process group, if there is a child. Callers check
// running() first; the finisher reaps the child just before it closes done, and
// Linux allocates process ids incrementally, so the id is not reused in that gap.
func (s *session) kill(sig syscall.Signal) error {
	if s.pgid == 0 {
		return nil
	}
	return syscall.Kill(-s.pgid, sig)
}

// start runs command with /bin/sh -c, or a shell when command is empty.
func (s *session) start(command string) (bool, func()) {
	if s.started {
		return false, nil
	}
	args := []string{"-c", command}
	if command == "" {
		args = nil
		if s.pty != nil {
			args = []string{"-i"}
		}
	}
	cmd := exec.Command("/bin/sh", args...)
	cmd.Dir = s.tg.home()
	if s.agent {
		ln, err := s.tg.newAgentListener(s.conn)
		if err != nil {
			return false, nil
		}
		s.agentLn = ln
	}
	cmd.Env = s.childEnv()
	var after func()
	var err error
	if s.pty != nil {
		after, err = s.startPTY(cmd)
	} else {
		after, err = s.startPipes(cmd)
	}
	if err != nil {
		s.agentLn.close()
		s.agentLn = nil
		return false, nil
	}
	s.started = true
	s.done = make(chan struct{})
	s.tg.setLastEnv(s.env)
	return true, after
}

// childEnv is the child's environment: this process's, without SSH variables, plus
// what a login gives (HOME, USER, SHELL, TERM), the accepted "env" requests and
// SSH_AUTH_SOCK when the agent is forwarded.
func (s *session) childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "SSH_"), name == "TERM", name == "HOME", name == "USER",
			name == "LOGNAME", name == "SHELL":
			continue
		}
		env = append(env, kv)
	}
	u := currentUser()
	env = append(env, "HOME="+s.tg.home(), "USER="+u, "LOGNAME="+u, "SHELL=/bin/sh")
	if s.pty != nil && s.pty.Term != "" {
		env = append(env, "TERM="+s.pty.Term)
	}
	for k, v := range s.env {
		env = append(env, k+"="+v)
	}
	if s.agentLn != nil {
		env = append(env, "SSH_AUTH_SOCK="+s.agentLn.path)
	}
	return env
}

// startSFTP serves the sftp subsystem on the channel with github.com/pkg/sftp.
func (s *session) startSFTP() (bool, func()) {
	if s.started {
		return false, nil
	}
	srv, err := sftp.NewServer(s.ch, sftp.WithServerWorkingDirectory(s.tg.home()))
	if err != nil {
		return false, nil
	}
	s.started = true
	s.done = make(chan struct{})
	s.tg.setLastEnv(s.env)
	done, ch := s.done, s.ch
	return true, func() {
		started := s.tg.goTracked(func() {
			defer close(done)
			// Serve returns at the client's EOF or when the channel closes. Not
			// srv.Close: it would close the channel before the exit status.
			_ = srv.Serve()
			sendExit(ch, nil)
		})
		if !started {
			_ = srv.Close()
			close(done)
		}
	}
}

// abort ends a session whose channel closed (client went away or connection lost):
// the child's process group gets SIGHUP, then SIGKILL after a second, and abort
// waits for the finisher.
func (s *session) abort() {
	if s.running() {
		s.kill(syscall.SIGHUP)
		select {
		case <-s.done:
		case <-time.After(time.Second):
			s.kill(syscall.SIGKILL)
			<-s.done
		}
	}
	s.agentLn.close()
}

// sendExit sends exit-status or exit-signal for ps (nil: status 0), then EOF, then
// closes the channel — the order OpenSSH clients need to see every byte and the
// right status.
func sendExit(ch gossh.Channel, ps *os.ProcessState) {
	name, payload := exitRequest(ps)
	_, _ = ch.SendRequest(name, false, payload)
	_ = ch.CloseWrite()
	_ = ch.Close()
}

// exitRequest encodes the end of a process as an SSH request (RFC 4254 6.10).
func exitRequest(ps *os.ProcessState) (string, []byte) {
	if ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "exit-signal", gossh.Marshal(struct {
				Signal     string
				CoreDumped bool
				Message    string
				Lang       string
			}{strings.TrimPrefix(unix.SignalName(ws.Signal()), "SIG"), ws.CoreDump(), "", ""})
		}
	}
	status := 0
	if ps != nil {
		status = ps.ExitCode()
	}
	return "exit-status", gossh.Marshal(struct{ Status uint32 }{uint32(status)})
}

// home is the sessions' home folder: TargetOptions.Home, else homeDir().
func (tg *Target) home() string {
	if tg.opts.Home != "" {
		return tg.opts.Home
	}
	return homeDir()
}

// homeDir is the current user's home folder, or "/" when unknown.
func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return "/"
}

// currentUser is the current user's login name, or "root" when unknown.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "root"
}
