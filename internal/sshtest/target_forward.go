package sshtest

import (
	"io"
	"net"
	"strconv"
	"time"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// directTCPIP is the payload of a "direct-tcpip" channel open (RFC 4254 7.2).
type directTCPIP struct {
	Host       string
	Port       uint32
	OriginHost string
	OriginPort uint32
}

// handleDirectTCPIP serves one "direct-tcpip" channel (ssh -L, ssh -J) when
// TargetOptions.AllowDirectTCPIP is set: it dials the requested address and copies
// both ways. It runs in the goroutine gliderlabs started (counted in tg.wg) and
// owns its copy goroutine.
func (tg *Target) handleDirectTCPIP(_ *ssh.Server, _ *gossh.ServerConn, newChan gossh.NewChannel, _ ssh.Context) {
	if !tg.enter() {
		_ = newChan.Reject(gossh.ResourceShortage, "target closing")
		return
	}
	defer tg.wg.Done()
	var d directTCPIP
	if err := gossh.Unmarshal(newChan.ExtraData(), &d); err != nil {
		_ = newChan.Reject(gossh.ConnectionFailed, "malformed direct-tcpip request")
		return
	}
	addr := net.JoinHostPort(d.Host, strconv.FormatUint(uint64(d.Port), 10))
	tg.mu.Lock()
	tg.forwards = append(tg.forwards, addr)
	tg.mu.Unlock()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		_ = newChan.Reject(gossh.ConnectionFailed, err.Error())
		return
	}
	defer conn.Close()
	ch, reqs, err := newChan.Accept()
	if err != nil {
		return
	}
	reqsDone := make(chan struct{})
	go func() { // owner: handleDirectTCPIP, which waits for it
		gossh.DiscardRequests(reqs)
		close(reqsDone)
	}()
	defer func() {
		_ = ch.Close()
		<-reqsDone
	}()
	up := make(chan struct{})
	go func() { // owner: handleDirectTCPIP, which waits for it
		_, _ = io.Copy(conn, ch)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(up)
	}()
	_, _ = io.Copy(ch, conn)
	_ = ch.CloseWrite()
	select {
	case <-up:
	case <-time.After(time.Second): // the client keeps its side open: end it
	}
	_ = ch.Close()
	_ = conn.Close()
	<-up
}

// Forwards returns the "host:port" of every direct-tcpip channel requested, in
// order (also the refused ones when AllowDirectTCPIP is set).
func (tg *Target) Forwards() []string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]string(nil), tg.forwards...)
}
