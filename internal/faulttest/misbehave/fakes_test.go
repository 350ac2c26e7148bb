//go:build faults

package misbehave

import (
	"bufio"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// Misbehaving targets: tiny loopback listeners, each stopped by t.Cleanup.

// closedAddr is a loopback address where nothing listens (the dial is
// refused at once).
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	_ = ln.Close()
	return a
}

// blackhole is a listening socket that never accepts, with a backlog of 0
// whose accept queue the test fills first: Linux then drops every further
// SYN (no SYN-ACK, no RST), so a dial hangs in SYN_SENT until its timeout,
// as with a firewalled host. It checks that a probe dial really hangs.
func blackhole(t *testing.T) string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
	for i := 0; ; i++ { // fill the accept queue until a dial hangs
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Logf("blackhole %s: accept queue full after %d connections", addr, i)
				return addr
			}
			t.Fatalf("blackhole probe: %v", err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if i > 16 {
			t.Fatal("blackhole: the accept queue never filled")
		}
	}
}

// rawTarget is a TCP listener whose connections are handled by serve, in
// goroutines it owns; Close (run by t.Cleanup) closes the listener and
// every connection and waits for them.
type rawTarget struct {
	Addr string
	ln   net.Listener
	wg   sync.WaitGroup

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
}

func newRawTarget(t *testing.T, serve func(net.Conn)) *rawTarget {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rt := &rawTarget{Addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]struct{}{}}
	rt.wg.Add(1)
	go func() { // owner: rawTarget; ends when the listener closes
		defer rt.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			rt.mu.Lock()
			rt.conns[c] = struct{}{}
			rt.mu.Unlock()
			rt.wg.Add(1)
			go func() { // owner: rawTarget
				defer rt.wg.Done()
				serve(c)
			}()
		}
	}()
	t.Cleanup(rt.Close)
	return rt
}

// Drop closes every open connection (a crashed target), leaving the
// listener up.
func (rt *rawTarget) Drop() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for c := range rt.conns {
		_ = c.Close()
		delete(rt.conns, c)
	}
}

func (rt *rawTarget) Close() {
	_ = rt.ln.Close()
	rt.Drop()
	rt.wg.Wait()
}

// silentTarget accepts TCP and never says a word: its connections stay
// open, unread, until the peer or the test closes them.
func silentTarget(t *testing.T) *rawTarget {
	return newRawTarget(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
}

// hangupTarget sends an SSH version line, reads the client's version and
// the start of its key exchange, and closes: a target that dies
// mid-handshake.
func hangupTarget(t *testing.T) *rawTarget {
	return newRawTarget(t, func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")); err != nil {
			return
		}
		r := bufio.NewReader(c)
		if _, err := r.ReadString('\n'); err != nil { // the client's version line
			return
		}
		_, _ = r.Peek(16) // the first bytes of its KEXINIT
	})
}

// stallTarget is an SSH server that accepts the bastion's key, answers
// exec with "ready\n" and then never reads its session channel: the
// admin's input fills the channel windows and stays there. Drop ends it
// like a crash.
func stallTarget(t *testing.T, id *sshtest.KeyPair) *rawTarget {
	hostKey := sshtest.NewKeyPair(t).Signer
	cfg := &gossh.ServerConfig{
		PublicKeyCallback: func(_ gossh.ConnMetadata, k gossh.PublicKey) (*gossh.Permissions, error) {
			if string(k.Marshal()) == string(id.Public.Marshal()) {
				return nil, nil
			}
			return nil, errUnknownKey
		},
	}
	cfg.AddHostKey(hostKey)
	return newRawTarget(t, func(c net.Conn) {
		defer c.Close()
		_, chans, reqs, err := gossh.NewServerConn(c, cfg)
		if err != nil {
			return
		}
		go gossh.DiscardRequests(reqs) // owner: this connection; ends when it closes
		for nc := range chans {
			if nc.ChannelType() != "session" {
				_ = nc.Reject(gossh.UnknownChannelType, "session only")
				continue
			}
			ch, creqs, err := nc.Accept()
			if err != nil {
				continue
			}
			go func() { // owner: this connection; ends when the channel closes
				for r := range creqs {
					_ = r.Reply(r.Type == "exec", nil)
					if r.Type == "exec" {
						_, _ = ch.Write([]byte("ready\n"))
					}
				}
			}()
		}
	})
}

type errString string

func (e errString) Error() string { return string(e) }

const errUnknownKey = errString("unknown key")
