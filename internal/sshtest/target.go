package sshtest

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// TargetOptions configures NewTarget. The zero value is a target that nobody can
// log in to (no keys, no password) with a fresh ed25519 host key.
type TargetOptions struct {
	// AuthorizedKeys are the public keys accepted for any user name. Empty: public
	// key authentication always fails.
	AuthorizedKeys []gossh.PublicKey
	// Password, if not empty, is accepted by "password" authentication and by
	// "keyboard-interactive" authentication, which asks one question, "Password: ",
	// without echo. Empty: both methods are not offered.
	Password string
	// PasswordOnly, with Password, offers no "publickey" authentication at
	// all, as an sshd with PubkeyAuthentication no: a password-only target.
	PasswordOnly bool
	// HostSigner is the host key. Nil: a fresh ed25519 key.
	HostSigner gossh.Signer
	// Home is the sessions' HOME, their working folder and the sftp server's
	// starting folder. Empty: this process's home folder.
	Home string
	// AllowDirectTCPIP accepts "direct-tcpip" channels (ssh -L, ssh -J) and
	// connects them to the requested address. False: they are rejected, as an
	// sshd with AllowTcpForwarding no does.
	AllowDirectTCPIP bool
}

// Target is an in-process SSH server on 127.0.0.1 that behaves like a real sshd for
// tests: it runs /bin/sh for each session, in a real PTY when one is requested.
// Session channels are handled raw (not through gliderlabs' ssh.Session), so the
// PTY stream is exactly what the shell wrote.
//
// Every goroutine the Target starts is counted in wg; t.Cleanup closes the listener
// and every connection, kills every process group it started, and waits for all of
// them, so a test can use goleak after its Target is closed.
type Target struct {
	// Addr is the listening address, "127.0.0.1:PORT".
	Addr string
	// HostKey is the server's public host key.
	HostKey gossh.PublicKey

	opts    TargetOptions
	srv     *ssh.Server
	ln      net.Listener
	sockDir string // short folder for agent sockets (unix socket paths are limited to 108 bytes)

	wg        sync.WaitGroup // every goroutine started by the Target or its handlers
	closeOnce sync.Once

	mu       sync.Mutex // guards the fields below
	closed   bool
	conns    map[net.Conn]struct{} // accepted TCP connections still open
	pgids    map[int]struct{}      // process groups of running session children
	closers  map[*os.File]struct{} // PTY masters still open
	authLog  []string              // "method:user" per successful authentication
	lastEnv  map[string]string     // env of the most recently started session
	agentN   int                   // counter for agent socket names
	requests []string              // session request types in arrival order
	active   int                   // session channels accepted and not yet ended
	forwards []string              // direct-tcpip destinations requested
}

// NewTarget starts a Target on 127.0.0.1:0. It is closed by t.Cleanup.
func NewTarget(t testing.TB, opts TargetOptions) *Target {
	t.Helper()
	if opts.HostSigner == nil {
		_, opts.HostSigner, _ = newEd25519(t)
	}
	sockDir, err := os.MkdirTemp("", "sshtest")
	if err != nil {
		t.Fatalf("target: agent socket folder: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = os.RemoveAll(sockDir)
		t.Fatalf("target: listen: %v", err)
	}
	tg := &Target{
		Addr:    ln.Addr().String(),
		HostKey: opts.HostSigner.PublicKey(),
		opts:    opts,
		ln:      ln,
		sockDir: sockDir,
		conns:   map[net.Conn]struct{}{},
		pgids:   map[int]struct{}{},
		closers: map[*os.File]struct{}{},
	}
	tg.srv = tg.newServer()
	tg.goTracked(tg.acceptLoop)
	t.Cleanup(tg.Close)
	return tg
}

// newServer builds the gliderlabs server: host key, auth and the raw session handler.
func (tg *Target) newServer() *ssh.Server {
	srv := &ssh.Server{
		HostSigners: []ssh.Signer{tg.opts.HostSigner},
		// Always set, so that gliderlabs never falls back to NoClientAuth.
		PublicKeyHandler: func(_ ssh.Context, key ssh.PublicKey) bool {
			for _, k := range tg.opts.AuthorizedKeys {
				if bytes.Equal(k.Marshal(), key.Marshal()) {
					return true
				}
			}
			return false
		},
		ServerConfigCallback: func(ssh.Context) *gossh.ServerConfig {
			return &gossh.ServerConfig{AuthLogCallback: tg.logAuth}
		},
		ChannelHandlers:   map[string]ssh.ChannelHandler{"session": tg.handleSession},
		RequestHandlers:   map[string]ssh.RequestHandler{},
		SubsystemHandlers: map[string]ssh.SubsystemHandler{},
	}
	if tg.opts.Password != "" && tg.opts.PasswordOnly {
		srv.PublicKeyHandler = nil
	}
	if tg.opts.Password != "" {
		srv.PasswordHandler = func(_ ssh.Context, pw string) bool { return tg.passwordOK(pw) }
		srv.KeyboardInteractiveHandler = func(_ ssh.Context, ask gossh.KeyboardInteractiveChallenge) bool {
			answers, err := ask("", "", []string{"Password: "}, []bool{false})
			return err == nil && len(answers) == 1 && tg.passwordOK(answers[0])
		}
	}
	if tg.opts.AllowDirectTCPIP {
		srv.ChannelHandlers["direct-tcpip"] = tg.handleDirectTCPIP
	}
	return srv
}

func (tg *Target) passwordOK(pw string) bool {
	return subtle.ConstantTimeCompare([]byte(pw), []byte(tg.opts.Password)) == 1
}

// logAuth records successful authentications; x/crypto calls it once per attempt
// (a public key query without signature is not an attempt).
func (tg *Target) logAuth(conn gossh.ConnMetadata, method string, err error) {
	if err != nil {
		return
	}
	tg.mu.Lock()
	tg.authLog = append(tg.authLog, method+":"+conn.User())
	tg.mu.Unlock()
}

// AuthLog returns "method:user" for each successful authentication, in order, e.g.
// "publickey:root", "password:root", "keyboard-interactive:root".
func (tg *Target) AuthLog() []string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]string(nil), tg.authLog...)
}

// LastEnv returns a copy of the environment variables received through "env"
// requests by the most recently started session (shell, exec or subsystem), or
// nil if no session started yet.
func (tg *Target) LastEnv() map[string]string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return maps.Clone(tg.lastEnv)
}

// acceptLoop runs in its own goroutine (owner: the Target) until the listener closes.
func (tg *Target) acceptLoop() {
	for {
		conn, err := tg.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return
		}
		tg.mu.Lock()
		if tg.closed {
			tg.mu.Unlock()
			_ = conn.Close()
			return
		}
		tg.conns[conn] = struct{}{}
		tg.mu.Unlock()
		tg.goTracked(func() {
			tg.srv.HandleConn(conn)
			tg.mu.Lock()
			delete(tg.conns, conn)
			tg.mu.Unlock()
		})
	}
}

// goTracked runs f in a goroutine counted in tg.wg, unless the Target is closed.
// It reports whether f was started.
func (tg *Target) goTracked(f func()) bool {
	if !tg.enter() {
		return false
	}
	go func() {
		defer tg.wg.Done()
		f()
	}()
	return true
}

// enter counts the calling goroutine in tg.wg; the caller must call tg.wg.Done.
// It reports false (and counts nothing) once the Target is closed.
func (tg *Target) enter() bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.closed {
		return false
	}
	tg.wg.Add(1)
	return true
}

// Close stops the Target: the listener and every connection close, every process
// group it started is killed, and Close returns once all its goroutines ended.
// Clients see their connection drop. Close is called by t.Cleanup; calling it
// earlier (a target that goes away) is fine, and more than once too.
func (tg *Target) Close() {
	tg.closeOnce.Do(tg.close)
}

func (tg *Target) close() {
	tg.mu.Lock()
	tg.closed = true
	conns := maps.Clone(tg.conns)
	tg.mu.Unlock()

	_ = tg.ln.Close()
	_ = tg.srv.Close()
	for c := range conns {
		_ = c.Close()
	}
	tg.killAll()
	tg.wg.Wait()
	_ = os.RemoveAll(tg.sockDir)
}

// CloseConnections drops every open client connection (TCP close, no SSH
// goodbye), as a target that crashes would, and keeps listening. Sessions end as
// when their client goes away: their process groups get SIGHUP, then SIGKILL.
func (tg *Target) CloseConnections() {
	tg.mu.Lock()
	conns := maps.Clone(tg.conns)
	tg.mu.Unlock()
	for c := range conns {
		_ = c.Close()
	}
}

// ActiveSessions is the number of session channels accepted and not yet ended
// (an ended session sent its exit status and its channel is closed both ways).
func (tg *Target) ActiveSessions() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.active
}

// killAll kills the process groups of running session children and closes open PTY
// masters, so that every copy goroutine returns.
func (tg *Target) killAll() {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	for pgid := range tg.pgids {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	for f := range tg.closers {
		_ = f.Close()
	}
}

// addProc records a running process group; removeProc forgets it after Wait.
func (tg *Target) addProc(pgid int) {
	tg.mu.Lock()
	tg.pgids[pgid] = struct{}{}
	tg.mu.Unlock()
}

func (tg *Target) removeProc(pgid int) {
	tg.mu.Lock()
	delete(tg.pgids, pgid)
	tg.mu.Unlock()
}

// addCloser records an open PTY master; removeCloser forgets it once closed.
func (tg *Target) addCloser(f *os.File) {
	tg.mu.Lock()
	tg.closers[f] = struct{}{}
	tg.mu.Unlock()
}

func (tg *Target) removeCloser(f *os.File) {
	tg.mu.Lock()
	delete(tg.closers, f)
	tg.mu.Unlock()
}

func (tg *Target) setLastEnv(env map[string]string) {
	tg.mu.Lock()
	tg.lastEnv = maps.Clone(env)
	if tg.lastEnv == nil {
		tg.lastEnv = map[string]string{}
	}
	tg.mu.Unlock()
}

// Dial connects an x/crypto client to the Target as user, checking the host key,
// with a 10 s bound on the TCP connect and the handshake together. The client is
// closed by t.Cleanup (closing it earlier is fine).
func (tg *Target) Dial(t testing.TB, user string, auth ...gossh.AuthMethod) *gossh.Client {
	t.Helper()
	c, err := dialSSH(tg.Addr, &gossh.ClientConfig{
		User:            user,
		Auth:            auth,
		HostKeyCallback: gossh.FixedHostKey(tg.HostKey),
	}, 10*time.Second)
	if err != nil {
		t.Fatalf("dial target %s as %s: %v", tg.Addr, user, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// dialSSH connects to addr and runs the SSH handshake, both within timeout.
func dialSSH(addr string, cfg *gossh.ClientConfig, timeout time.Duration) (*gossh.Client, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	c, chans, reqs, err := gossh.NewClientConn(conn, addr, cfg)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("ssh handshake with %s: %w", addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return gossh.NewClient(c, chans, reqs), nil
}
