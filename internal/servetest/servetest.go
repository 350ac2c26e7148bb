// Package servetest runs `jumpcast serve` as a child process for tests
// that need the real program: it starts a prepared command, waits for the
// listen addresses the program prints on its first line, and stops it by
// its own process id when the test ends.
package servetest

import (
	"bufio"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// startTimeout bounds the wait for the welcome line.
const startTimeout = 30 * time.Second

// welcomeRE matches "jumpcast …: SSH on HOST:PORT, web on ADDR, …".
var welcomeRE = regexp.MustCompile(`SSH on (\S+):(\d+), web on (\S+),`)

// Server is a running `jumpcast serve` child.
type Server struct {
	Cmd     *exec.Cmd
	Stderr  *sshtest.SyncBuffer // everything the child wrote to stderr (its log)
	SSHAddr string              // "127.0.0.1:PORT"
	SSHPort string
	WebAddr string        // "127.0.0.1:PORT" or "off"
	done    chan struct{} // closed when the process has exited
}

// Start starts cmd, a prepared `jumpcast serve …` command whose Stdout and
// Stderr are unset, and waits until it has printed its listen addresses.
// The child is killed when the test ends (t.Cleanup).
func Start(t testing.TB, cmd *exec.Cmd) *Server {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Cmd: cmd, Stderr: &sshtest.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = s.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // owner: the Server; waits for the process and closes done
		_ = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.Kill)
	lines := make(chan string, 64)
	go func() { // owner: the Server; reads the child's stdout until it closes
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	deadline := time.After(startTimeout)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("jumpcast serve exited before it listened; stderr:\n%s", s.Stderr.String())
			}
			if m := welcomeRE.FindStringSubmatch(line); m != nil {
				s.SSHAddr, s.SSHPort, s.WebAddr = m[1]+":"+m[2], m[2], m[3]
				return s
			}
		case <-deadline:
			t.Fatalf("jumpcast serve did not start in %v; stderr:\n%s", startTimeout, s.Stderr.String())
		}
	}
}

// Done is closed when the process has exited.
func (s *Server) Done() <-chan struct{} { return s.done }

// Pid is the child's process id.
func (s *Server) Pid() int { return s.Cmd.Process.Pid }

// Kill sends SIGKILL (to the child's own process id) and waits for it to go.
func (s *Server) Kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.Cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Stop sends SIGTERM and waits up to 30 s for a clean exit, then kills.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Errorf("jumpcast serve did not stop within 30s of SIGTERM")
		s.Kill()
	}
}
