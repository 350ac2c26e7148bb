package demo

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/gliderlabs/ssh"
	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"
)

// target is the demo's SSH server: the machine admins "reach" through the
// bastion. It runs the user's shell as the current OS user, whatever remote
// user name was asked for, and accepts only one public key (the bastion's).
//
// It uses gliderlabs' ssh.Session, which is fine for a demo shell; jumpcast
// itself bridges raw channels so that requests, stderr and the exit
// status reach the admin unchanged (see the proxy package comment).
type target struct {
	srv   *ssh.Server
	ln    net.Listener
	shell string // absolute path of the shell to run
	log   *slog.Logger
	done  chan struct{} // closed when Serve returned
}

// startTarget listens on 127.0.0.1 at a random port and serves until close.
// Only a client presenting authorized may log in.
func startTarget(hostKey gossh.Signer, authorized gossh.PublicKey, shell string, log *slog.Logger) (*target, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo target: listen: %w", err)
	}
	t := &target{ln: ln, shell: shell, log: log, done: make(chan struct{})}
	t.srv = &ssh.Server{
		Handler: t.handle,
		PublicKeyHandler: func(_ ssh.Context, key ssh.PublicKey) bool {
			return ssh.KeysEqual(key, authorized)
		},
		SubsystemHandlers: map[string]ssh.SubsystemHandler{"sftp": t.sftp},
		MaxTimeout:        12 * time.Hour,
	}
	t.srv.AddHostKey(hostKey)
	// Owner: this goroutine runs the accept loop until close; done says it ended.
	go func() {
		defer close(t.done)
		if err := t.srv.Serve(ln); err != nil && !errors.Is(err, ssh.ErrServerClosed) {
			log.Warn("demo target stopped", "err", err)
		}
	}()
	return t, nil
}

// Addr is the target's host:port.
func (t *target) Addr() string { return t.ln.Addr().String() }

// close stops accepting and closes every connection; sessions' processes
// are killed by their handlers when their connection goes.
func (t *target) close() {
	_ = t.srv.Close() // the listener is closed too; nothing to report in a demo
	<-t.done
}

// handle runs one session: the shell (no command) or "shell -c COMMAND",
// in a PTY when the client asked for one, with pipes otherwise.
func (t *target) handle(s ssh.Session) {
	cmd := exec.Command(t.shell)
	if raw := s.RawCommand(); raw != "" {
		cmd = exec.Command(t.shell, "-c", raw)
	}
	home, _ := os.UserHomeDir()
	cmd.Dir = home
	cmd.Env = os.Environ()
	var code int
	if ptyReq, winCh, isPty := s.Pty(); isPty {
		cmd.Env = append(cmd.Env, "TERM="+ptyReq.Term)
		code = t.runPTY(s, cmd, ptyReq, winCh)
	} else {
		code = t.runPipes(s, cmd)
	}
	_ = s.Exit(code) // the client may be gone already
}

// runPTY runs cmd on a new PTY and copies it to and from the session. It
// returns once the child exited and all its output was sent.
func (t *target) runPTY(s ssh.Session, cmd *exec.Cmd, req ssh.Pty, winCh <-chan ssh.Window) int {
	f, err := pty.StartWithSize(cmd, winsize(req.Window))
	if err != nil {
		fmt.Fprintf(s.Stderr(), "demo target: %v\r\n", err)
		return 255
	}
	var mu sync.Mutex // guards closed, so that no resize runs on a closed PTY
	closed := false
	// Owner: this goroutine drains window changes until gliderlabs closes
	// winCh at the end of the session (an undrained winCh blocks requests).
	go func() {
		for w := range winCh {
			mu.Lock()
			if !closed {
				_ = pty.Setsize(f, winsize(w)) // a failed resize only looks wrong
			}
			mu.Unlock()
		}
	}()
	// Owner: this goroutine copies the admin's keystrokes until the session
	// or the PTY ends.
	go func() { _, _ = io.Copy(f, s) }()
	stop := t.killOnDisconnect(s, cmd)
	_, _ = io.Copy(s, f) // ends with EIO once every holder of the terminal closed it
	_ = cmd.Wait()       // its status is read from ProcessState
	stop()
	mu.Lock()
	closed = true
	_ = f.Close()
	mu.Unlock()
	return exitCode(cmd)
}

// runPipes runs cmd with pipes: stdout and stderr go to the session's
// streams, and the session's EOF closes the child's stdin.
func (t *target) runPipes(s ssh.Session, cmd *exec.Cmd) int {
	cmd.Stdout = s
	cmd.Stderr = s.Stderr()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second // a background child holding stdout must not hang the session
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 255
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(s.Stderr(), "demo target: %v\n", err)
		return 255
	}
	// Owner: this goroutine copies stdin until the client's EOF or the end
	// of the session, then closes the child's stdin.
	go func() {
		_, _ = io.Copy(stdin, s)
		_ = stdin.Close()
	}()
	stop := t.killOnDisconnect(s, cmd)
	_ = cmd.Wait() // its status is read from ProcessState
	stop()
	return exitCode(cmd)
}

// killOnDisconnect hangs up the child's process group when the client goes
// away before the child ends, and kills it a second later. The returned
// func stops the watch once the child has ended.
func (t *target) killOnDisconnect(s ssh.Session, cmd *exec.Cmd) (stop func()) {
	ended := make(chan struct{})
	// Owner: this goroutine lives until the child ended or was killed.
	go func() {
		select {
		case <-ended:
		case <-s.Context().Done():
			pid := cmd.Process.Pid
			_ = syscall.Kill(-pid, syscall.SIGHUP)
			select {
			case <-ended:
			case <-time.After(time.Second):
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	}()
	return func() { close(ended) }
}

// sftp serves the sftp subsystem (sftp, and scp in OpenSSH ≥ 9) in the
// current user's file system.
func (t *target) sftp(s ssh.Session) {
	home, _ := os.UserHomeDir() // "" keeps the process's working directory
	srv, err := sftp.NewServer(s, sftp.WithServerWorkingDirectory(home))
	if err != nil {
		_ = s.Exit(1)
		return
	}
	// Serve returns at the client's EOF. Not srv.Close: it would close the
	// channel before the exit status is sent.
	if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
		t.log.Debug("demo target: sftp ended", "err", err)
		_ = s.Exit(1)
		return
	}
	_ = s.Exit(0)
}

func winsize(w ssh.Window) *pty.Winsize {
	return &pty.Winsize{Rows: uint16(w.Height), Cols: uint16(w.Width)}
}

// exitCode is the status to report for a finished child: its exit code,
// 128+signal when a signal ended it, 255 when it could not be waited for.
func exitCode(cmd *exec.Cmd) int {
	ps := cmd.ProcessState
	if ps == nil {
		return 255
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if c := ps.ExitCode(); c >= 0 {
		return c
	}
	return 255
}
