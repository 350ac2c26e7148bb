package sshtest

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	gossh "golang.org/x/crypto/ssh"
)

// agentListener is the SSH_AUTH_SOCK of one session with agent forwarding: each
// connection to it is forwarded to the client over an "auth-agent@openssh.com"
// channel, like OpenSSH's sshd does.
type agentListener struct {
	path string
	ln   net.Listener

	mu     sync.Mutex // guards conns and closed
	conns  map[net.Conn]struct{}
	closed bool
}

// newAgentListener listens on a fresh unix socket and serves it in a goroutine
// owned by the Target until close.
func (tg *Target) newAgentListener(conn *gossh.ServerConn) (*agentListener, error) {
	tg.mu.Lock()
	tg.agentN++
	path := filepath.Join(tg.sockDir, fmt.Sprintf("agent.%d", tg.agentN))
	tg.mu.Unlock()
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("agent socket: %w", err)
	}
	a := &agentListener{path: path, ln: ln, conns: map[net.Conn]struct{}{}}
	if !tg.goTracked(func() { a.serve(conn) }) {
		a.close()
		return nil, fmt.Errorf("agent socket: target closing")
	}
	return a, nil
}

// serve accepts local agent clients until the listener closes, and waits for the
// forwarders it started.
func (a *agentListener) serve(conn *gossh.ServerConn) {
	var wg sync.WaitGroup // forwarders, owned by serve
	defer wg.Wait()
	for {
		c, err := a.ln.Accept()
		if err != nil {
			return
		}
		a.mu.Lock()
		if a.closed {
			a.mu.Unlock()
			_ = c.Close()
			return
		}
		a.conns[c] = struct{}{}
		a.mu.Unlock()
		wg.Add(1)
		go func() { // owner: serve
			defer wg.Done()
			forwardAgent(conn, c)
			a.mu.Lock()
			delete(a.conns, c)
			a.mu.Unlock()
		}()
	}
}

// forwardAgent copies one agent conversation between c and a new
// auth-agent@openssh.com channel to the client.
func forwardAgent(conn *gossh.ServerConn, c net.Conn) {
	defer c.Close()
	ch, reqs, err := conn.OpenChannel("auth-agent@openssh.com", nil)
	if err != nil {
		return
	}
	reqsDone := make(chan struct{})
	go func() { // owner: forwardAgent
		gossh.DiscardRequests(reqs)
		close(reqsDone)
	}()
	requestsDone := make(chan struct{})
	go func() { // owner: forwardAgent
		_, _ = io.Copy(ch, c)
		_ = ch.CloseWrite()
		close(requestsDone)
	}()
	_, _ = io.Copy(c, ch)
	_ = c.Close() // ends the other copy if the client is still connected
	<-requestsDone
	_ = ch.Close()
	<-reqsDone
}

// close stops accepting, ends the open agent conversations and removes the
// socket. It is safe on a nil listener and more than once.
func (a *agentListener) close() {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.closed = true
	for c := range a.conns {
		_ = c.Close()
	}
	a.mu.Unlock()
	_ = a.ln.Close()
	_ = os.Remove(a.path)
}
