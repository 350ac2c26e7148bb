package sshtest

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"github.com/creack/pty"
	gossh "golang.org/x/crypto/ssh"
)

// winsize converts the requested size to the PTY's.
func (p *ptyRequest) winsize() *pty.Winsize {
	return &pty.Winsize{Rows: uint16(p.Rows), Cols: uint16(p.Columns), X: uint16(p.Width), Y: uint16(p.Height)}
}

// startPTY starts cmd as a session leader with a new PTY as its controlling
// terminal, sized and moded as requested. The returned function, called once the
// request was answered, starts the finisher.
func (s *session) startPTY(cmd *exec.Cmd) (func(), error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open pty: %w", err)
	}
	err = pty.Setsize(ptmx, s.pty.winsize())
	if err == nil {
		err = applyModes(tty, s.pty.Modes)
	}
	if err == nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		err = cmd.Start()
	}
	_ = tty.Close() // the child has its own copy
	if err != nil {
		_ = ptmx.Close()
		return nil, fmt.Errorf("start %s with pty: %w", cmd.Path, err)
	}
	s.ptmx, s.pgid = ptmx, cmd.Process.Pid
	s.tg.addProc(s.pgid)
	s.tg.addCloser(ptmx)
	return func() {
		tg, ch, done := s.tg, s.ch, s.done
		started := tg.goTracked(func() { tg.finishPTY(cmd, ptmx, ch, done) })
		if !started {
			tg.finishAborted(cmd, ptmx, done)
		}
	}, nil
}

// finishPTY is the finisher of a PTY session (its own goroutine, owned by the
// Target). It owns the input copy goroutine. It copies the PTY to the channel until
// every holder of the terminal closed it (EIO), reaps the child, then sends the exit
// request, EOF and close, in that order.
func (tg *Target) finishPTY(cmd *exec.Cmd, ptmx *os.File, ch gossh.Channel, done chan struct{}) {
	defer close(done)
	inputDone := make(chan struct{})
	go func() { // owner: this finisher, which waits for it below
		defer close(inputDone)
		// At the client's EOF the PTY stays open, as with OpenSSH's sshd.
		_, _ = io.Copy(ptmx, ch)
	}()
	_, _ = io.Copy(ch, ptmx) // ends with EIO once the last slave descriptor closed
	_ = cmd.Wait()
	tg.removeProc(cmd.Process.Pid)
	sendExit(ch, cmd.ProcessState)
	_ = ptmx.Close() // unblocks the input copy if it is writing
	tg.removeCloser(ptmx)
	<-inputDone // the channel is closed, so its reads end too
}

// finishAborted cleans up a child whose finisher could not start because the
// Target is closing.
func (tg *Target) finishAborted(cmd *exec.Cmd, ptmx *os.File, done chan struct{}) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
	tg.removeProc(cmd.Process.Pid)
	if ptmx != nil {
		_ = ptmx.Close()
		tg.removeCloser(ptmx)
	}
	close(done)
}

// startPipes starts cmd in its own process group with stdin, stdout and stderr on
// pipes. The returned function, called once the request was answered, starts the
// finisher.
func (s *session) startPipes(cmd *exec.Cmd) (func(), error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	s.pgid = cmd.Process.Pid
	s.tg.addProc(s.pgid)
	return func() {
		tg, ch, done := s.tg, s.ch, s.done
		p := pipes{stdin: stdin, stdout: stdout, stderr: stderr}
		if !tg.goTracked(func() { tg.finishPipes(cmd, p, ch, done) }) {
			tg.finishAborted(cmd, nil, done)
		}
	}, nil
}

// pipes are the child's standard streams, seen from the parent.
type pipes struct {
	stdin          io.WriteCloser
	stdout, stderr io.Reader
}

// finishPipes is the finisher of a session without PTY (its own goroutine, owned
// by the Target). It owns the three copy goroutines. stdout and stderr are copied
// to the channel's data and extended data until both hit EOF; only then is the
// child reaped and the exit request, EOF and close sent.
func (tg *Target) finishPipes(cmd *exec.Cmd, p pipes, ch gossh.Channel, done chan struct{}) {
	defer close(done)
	inputDone := make(chan struct{})
	go func() { // owner: this finisher, which waits for it below
		defer close(inputDone)
		_, _ = io.Copy(p.stdin, ch)
		_ = p.stdin.Close() // the client's EOF becomes the child's EOF
	}()
	outputs := make(chan struct{}, 2) // one send per output copy
	go func() {                       // owner: this finisher
		_, _ = io.Copy(ch, p.stdout)
		outputs <- struct{}{}
	}()
	go func() { // owner: this finisher
		_, _ = io.Copy(ch.Stderr(), p.stderr)
		outputs <- struct{}{}
	}()
	<-outputs
	<-outputs
	_ = cmd.Wait() // also closes the stdin pipe, which ends a blocked input write
	tg.removeProc(cmd.Process.Pid)
	sendExit(ch, cmd.ProcessState)
	<-inputDone // the channel is closed, so its reads end too
}
