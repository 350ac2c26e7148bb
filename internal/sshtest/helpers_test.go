package sshtest

import (
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// result is what a client saw on one session channel.
type result struct {
	stdout, stderr []byte
	exit           string // "exit-status" or "exit-signal"; "" if none arrived
	status         uint32
	signal         string
}

// rawSession is a session channel opened by an x/crypto client. A collector
// goroutine reads stdout into out, stderr, and the requests (exit information).
type rawSession struct {
	t    *testing.T
	ch   gossh.Channel
	done chan result // receives once, after stdout, stderr and requests ended

	mu  sync.Mutex // guards out
	out []byte     // stdout so far
}

func openSession(t *testing.T, c *gossh.Client) *rawSession {
	t.Helper()
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		t.Fatalf("open session: %v", err)
	}
	s := &rawSession{t: t, ch: ch, done: make(chan result, 1)}
	go s.collect(reqs) // owner: the test; ends when the channel closes
	return s
}

func (s *rawSession) collect(reqs <-chan *gossh.Request) {
	var r result
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // owner: collect
		defer wg.Done()
		b := make([]byte, 32*1024)
		for {
			n, err := s.ch.Read(b)
			s.mu.Lock()
			s.out = append(s.out, b[:n]...)
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { defer wg.Done(); r.stderr, _ = io.ReadAll(s.ch.Stderr()) }() // owner: collect
	for req := range reqs {
		switch req.Type {
		case "exit-status":
			var p struct{ Status uint32 }
			_ = gossh.Unmarshal(req.Payload, &p)
			r.exit, r.status = req.Type, p.Status
		case "exit-signal":
			var p struct {
				Signal     string
				CoreDumped bool
				Message    string
				Lang       string
			}
			_ = gossh.Unmarshal(req.Payload, &p)
			r.exit, r.signal = req.Type, p.Signal
		}
		if req.WantReply {
			_ = req.Reply(false, nil)
		}
	}
	wg.Wait()
	s.mu.Lock()
	r.stdout = s.out
	s.mu.Unlock()
	s.done <- r
}

// request sends a request that wants a reply and fails the test if it is refused.
func (s *rawSession) request(name string, payload any) {
	s.t.Helper()
	var b []byte
	if payload != nil {
		b = gossh.Marshal(payload)
	}
	ok, err := s.ch.SendRequest(name, true, b)
	if err != nil || !ok {
		s.t.Fatalf("request %s: ok=%v err=%v", name, ok, err)
	}
}

// write sends input on the channel or fails the test.
func (s *rawSession) write(in string) {
	s.t.Helper()
	if _, err := io.WriteString(s.ch, in); err != nil {
		s.t.Fatalf("write %q: %v", in, err)
	}
}

// waitFor waits up to 10 s until stdout so far contains want, and then forgets
// the output seen so far.
func (s *rawSession) waitFor(want string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		out := string(s.out)
		if i := strings.Index(out, want); i >= 0 {
			s.out = s.out[i+len(want):]
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			s.t.Fatalf("did not see %q within 10s, got %q", want, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait returns the session's result, failing the test after 20 s.
func (s *rawSession) wait() result {
	s.t.Helper()
	select {
	case r := <-s.done:
		return r
	case <-time.After(20 * time.Second):
		s.t.Fatal("session did not end within 20s")
		return result{}
	}
}
