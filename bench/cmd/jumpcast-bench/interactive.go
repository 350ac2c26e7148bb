package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// shell is an interactive PTY shell opened by the Go client, with its
// output delivered chunk by chunk.
type shell struct {
	client *gossh.Client
	close  func()
	sess   *gossh.Session
	stdin  io.WriteCloser
	out    chan []byte // chunks of output, closed at EOF
}

// openShell dials target through p and starts a login shell in an 80×24
// xterm PTY.
func openShell(p *benchPath, target string) (*shell, error) {
	client, closeFn, err := p.dial(target)
	if err != nil {
		return nil, err
	}
	s := &shell{client: client, close: closeFn, out: make(chan []byte, 64)}
	fail := func(err error) (*shell, error) { closeFn(); return nil, err }
	if s.sess, err = client.NewSession(); err != nil {
		return fail(fmt.Errorf("open session: %w", err))
	}
	modes := gossh.TerminalModes{gossh.ECHO: 1, gossh.TTY_OP_ISPEED: 38400, gossh.TTY_OP_OSPEED: 38400}
	if err := s.sess.RequestPty("xterm", 24, 80, modes); err != nil {
		return fail(fmt.Errorf("pty-req: %w", err))
	}
	if s.stdin, err = s.sess.StdinPipe(); err != nil {
		return fail(fmt.Errorf("stdin: %w", err))
	}
	stdout, err := s.sess.StdoutPipe()
	if err != nil {
		return fail(fmt.Errorf("stdout: %w", err))
	}
	if err := s.sess.Shell(); err != nil {
		return fail(fmt.Errorf("shell: %w", err))
	}
	go func() { // owner: the shell; ends at EOF when the connection closes
		defer close(s.out)
		for {
			buf := make([]byte, 4096)
			n, err := stdout.Read(buf)
			if n > 0 {
				s.out <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	return s, nil
}

// Close ends the connection(s); the reader goroutine then ends too.
func (s *shell) Close() {
	s.close()
	for range s.out { // drain so the reader can finish
	}
}

// waitFor reads output until it contains want, or timeout.
func (s *shell) waitFor(want []byte, timeout time.Duration) error {
	var seen []byte
	deadline := time.After(timeout)
	for !bytes.Contains(seen, want) {
		select {
		case b, ok := <-s.out:
			if !ok {
				return fmt.Errorf("shell output ended before %q; got %q", want, seen)
			}
			seen = append(seen, b...)
		case <-deadline:
			return fmt.Errorf("no %q within %v; got %q", want, timeout, seen)
		}
	}
	return nil
}

// startRawCat puts the terminal in raw mode without echo and runs cat, so
// that every byte written comes back exactly once.
func (s *shell) startRawCat() error {
	// RE""ADY: the terminal echoes the typed line before stty runs; only the
	// command's own output has READY in one piece.
	if _, err := io.WriteString(s.stdin, "stty raw -echo; echo RE\"\"ADY; exec cat\n"); err != nil {
		return fmt.Errorf("type command: %w", err)
	}
	if err := s.waitFor([]byte("READY"), 15*time.Second); err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond) // let stray output (the rest of the line) arrive, then drop it
	for {
		select {
		case <-s.out:
			continue
		default:
		}
		return nil
	}
}

// echoLatency sends one byte and waits for it, n times, and returns the
// round-trip times sorted.
func echoLatency(p *benchPath, n int) ([]time.Duration, error) {
	s, err := openShell(p, aliasDB)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.startRawCat(); err != nil {
		return nil, err
	}
	rtts := make([]time.Duration, 0, n)
	key := []byte{'x'}
	for i := range n + 20 { // the first 20 warm up and are not counted
		start := time.Now()
		if _, err := s.stdin.Write(key); err != nil {
			return nil, fmt.Errorf("write key: %w", err)
		}
		select {
		case b, ok := <-s.out:
			if !ok {
				return nil, errors.New("shell output ended during the echo test")
			}
			if !bytes.Equal(b, key) {
				return nil, fmt.Errorf("echo: sent %q, got %q", key, b)
			}
		case <-time.After(10 * time.Second):
			return nil, errors.New("echo: no reply within 10s")
		}
		if i >= 20 {
			rtts = append(rtts, time.Since(start))
		}
	}
	slices.Sort(rtts)
	return rtts, nil
}

// openIdle opens n interactive PTY shells to the idle target through p,
// workers at a time, and waits until each has run a command, so that each
// is a live, idle session. The caller closes them with closeAll.
func openIdle(p *benchPath, n, workers int) ([]*shell, error) {
	shells := make([]*shell, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() { // owner: openIdle; ends when next is closed
			defer wg.Done()
			for i := range next {
				s, err := openShell(p, aliasIdle)
				if err == nil {
					if _, err = io.WriteString(s.stdin, "echo IDLE\"\"OK\n"); err == nil {
						err = s.waitFor([]byte("IDLEOK"), 30*time.Second)
					}
					if err != nil {
						s.Close()
						s = nil
					}
				}
				shells[i], errs[i] = s, err
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeAll(shells)
		return nil, err
	}
	return shells, nil
}

// closeAll closes every non-nil shell, in parallel.
func closeAll(shells []*shell) {
	var wg sync.WaitGroup
	for _, s := range shells {
		if s != nil {
			wg.Add(1)
			go func() { defer wg.Done(); s.Close() }() // owner: closeAll
		}
	}
	wg.Wait()
}
