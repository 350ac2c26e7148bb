package proxy

import (
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gliderlabs/ssh"
	"github.com/jumpcast/jumpcast/internal/audit"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/cpu"
)

// connKey is the gliderlabs context key of a connection's *clientConn.
var connKey = &struct{ name string }{"jumpcast-conn"}

// clientConn is one admin connection. Fields set during authentication
// (id, login, loginErr) are written by the handshake goroutine before the
// first channel handler runs and are read-only afterwards.
type clientConn struct {
	s      *Server
	snap   *snapshot // config at connect time, for limits
	remote net.Addr
	raw    *guardedConn

	id        identity
	key       gossh.PublicKey // the key (or certificate) that signed, for Reload's re-check
	loginName string          // the SSH user name as sent ("root@db1")
	login     Login
	loginErr  error
	authOK    atomic.Bool
	tried     atomic.Bool // an authentication method other than "none" was tried

	channels  atomic.Int32  // open channels, capped by ssh.max_channels_per_connection
	drained   chan struct{} // closed once the connection is closing and has no channel left
	drainOnce sync.Once

	connMu sync.Mutex     // serializes attempts to connect to the target
	audits sync.WaitGroup // audit events of the login and decision still being stored

	mu       sync.Mutex        // guards the fields below
	sshConn  *gossh.ServerConn // set by the first channel handler
	decided  bool              // decision is valid
	decision Decision          // policy decision for login, made once per connection
	up       *upstream         // the target connection, once made
	agentAsk bool              // the admin asked for agent forwarding on some channel
	closed   bool              // the admin's connection is gone
	authWhy  string            // why the last offered key was refused, for the log
	closing  *closing          // why the bastion is closing the connection (access.go); nil while it is not
	// forwardHosts are the hosts and aliases its forwards went to (ssh
	// -J), for target locks.
	forwardHosts []string
}

// who is the connection's party in audit events: the bastion user, the
// admin's address, and the target and remote user of the login name.
func (cc *clientConn) who() audit.Who {
	return audit.Who{User: cc.id.User, RemoteAddr: cc.remote.String(), Target: cc.login.Target, RemoteUser: cc.login.RemoteUser}
}

// onConnect is gliderlabs' ConnCallback: it applies the abuse limits and
// arms the handshake timer. Returning nil closes the connection.
func (s *Server) onConnect(ctx ssh.Context, c net.Conn) net.Conn {
	snap := s.snap.Load()
	cfg := snap.cfg.SSH
	ip := hostOf(c.RemoteAddr())
	ok, reason := s.limits.admit(ip, cfg.MaxUnauthenticated, cfg.MaxAuthFailures, cfg.AuthFailureWindow)
	if !ok || s.isClosing() {
		if reason == "" {
			reason = string(audit.ReasonShutdown)
		}
		s.log.Warn("connection refused", "remote_addr", c.RemoteAddr().String(), "reason", reason)
		return nil
	}
	cc := &clientConn{s: s, snap: snap, remote: c.RemoteAddr(), drained: make(chan struct{})}
	g := &guardedConn{Conn: c, release: func() { s.limits.release(ip) }}
	g.onClose = func(authed bool) { cc.onClose(authed) }
	g.timer = time.AfterFunc(cfg.HandshakeTimeout, func() { _ = c.Close() })
	cc.raw = g
	ctx.SetValue(connKey, cc)
	return g
}

// maxAuthTries makes a connection hang up after six refused keys, as
// OpenSSH's MaxAuthTries 6 does. Since x/crypto v0.59 a refused key
// offered without a signature (how every client offers its keys first) is
// not counted until the connection has had MaxAuthTries of them, so 3 here
// is 3 free offers + 3 counted ones = 6 keys. TestHostileBruteForce checks
// that the sixth key is still tried and the seventh is not.
const maxAuthTries = 3

// serverConfig is gliderlabs' ServerConfigCallback: hardened algorithms
// and the callbacks that record which key really signed.
func (s *Server) serverConfig(ctx ssh.Context) *gossh.ServerConfig {
	cc, _ := ctx.Value(connKey).(*clientConn)
	conf := &gossh.ServerConfig{
		Config:       serverAlgorithms(),
		MaxAuthTries: maxAuthTries,
	}
	conf.PublicKeyAuthAlgorithms = publicKeyAuthAlgorithms()
	if cc != nil {
		if b := cc.snap.cfg.SSH.Banner; b != "" {
			banner := strings.TrimRight(b, "\n") + "\n"
			conf.BannerCallback = func(gossh.ConnMetadata) string { return banner }
		}
		conf.VerifiedPublicKeyCallback = cc.verified
		conf.AuthLogCallback = func(_ gossh.ConnMetadata, method string, _ error) {
			if method != "none" {
				cc.tried.Store(true)
			}
		}
	}
	return conf
}

// publicKeyOffered is gliderlabs' PublicKeyHandler. It runs for every key
// the client offers, signed or not, so it only answers "could this key
// log in"; verified records the key that actually signed.
func (s *Server) publicKeyOffered(ctx ssh.Context, key ssh.PublicKey) bool {
	cc, _ := ctx.Value(connKey).(*clientConn)
	if cc == nil {
		return false
	}
	_, err := cc.snap.keys.identify(ctx.User(), key, cc.remote, s.now())
	if err != nil {
		cc.mu.Lock()
		cc.authWhy = err.Error()
		cc.mu.Unlock()
	}
	return err == nil
}

// verified runs after the client proved it holds key: the connection is
// authenticated as the key's bastion user.
func (cc *clientConn) verified(meta gossh.ConnMetadata, key gossh.PublicKey, _ *gossh.Permissions, _ string) (*gossh.Permissions, error) {
	s := cc.s
	id, err := cc.snap.keys.identify(meta.User(), key, cc.remote, s.now())
	if err != nil {
		return nil, err
	}
	cc.id, cc.key, cc.loginName = id, key, meta.User()
	cc.login, cc.loginErr = ParseLogin(meta.User())
	cc.authOK.Store(true)
	cc.raw.authenticated()
	s.mu.Lock()
	s.conns[cc] = struct{}{}
	s.mu.Unlock()
	s.log.Info("authenticated", "user", id.User, "key", id.KeyFingerprint, "login", meta.User(),
		"remote_addr", cc.remote.String())
	s.auditAsync(&cc.audits, audit.AuthOK(id.User, cc.remote.String(), meta.User(),
		audit.Key{Fingerprint: id.KeyFingerprint, CA: id.CAFingerprint, CertKeyID: id.CertKeyID}))
	return &gossh.Permissions{Extensions: map[string]string{"jumpcast-user": id.User, "jumpcast-key": id.KeyFingerprint}}, nil
}

// onClose runs once when the admin's TCP connection closes: it counts a
// failed authentication and closes the target connection.
func (cc *clientConn) onClose(authed bool) {
	s := cc.s
	if !authed && cc.tried.Load() {
		s.limits.fail(hostOf(cc.remote), cc.snap.cfg.SSH.AuthFailureWindow)
		cc.mu.Lock()
		why := cc.authWhy
		cc.mu.Unlock()
		if why == "" {
			why = "no key offered"
		}
		s.log.Warn("authentication failed", "remote_addr", cc.remote.String(), "why", why)
		s.auditEvent(audit.AuthDenied(cc.remote.String(), why))
	}
	s.mu.Lock()
	delete(s.conns, cc)
	s.mu.Unlock()
	cc.mu.Lock()
	cc.closed = true
	up := cc.up
	cc.mu.Unlock()
	if up != nil {
		cc.release(up)
	}
}

// attach records the SSH connection for later channel opens toward the
// admin (agent forwarding); every channel handler calls it.
func (cc *clientConn) attach(conn *gossh.ServerConn) {
	cc.mu.Lock()
	if cc.sshConn == nil {
		cc.sshConn = conn
	}
	cc.mu.Unlock()
}

// serverAlgorithms are the bastion's algorithms: AEAD ciphers first, no
// SHA-1 anywhere, all taken from what x/crypto supports.
func serverAlgorithms() gossh.Config {
	sup := gossh.SupportedAlgorithms()
	pick := func(supported []string, want ...string) []string {
		var out []string
		for _, w := range want {
			if slices.Contains(supported, w) {
				out = append(out, w)
			}
		}
		return out
	}
	return gossh.Config{
		KeyExchanges: pick(sup.KeyExchanges, gossh.KeyExchangeMLKEM768X25519, gossh.KeyExchangeCurve25519,
			gossh.KeyExchangeECDHP256, gossh.KeyExchangeECDHP384, gossh.KeyExchangeECDHP521,
			gossh.KeyExchangeDH16SHA512, gossh.KeyExchangeDH14SHA256),
		Ciphers: pick(sup.Ciphers, preferredCiphers()...),
		MACs:    pick(sup.MACs, gossh.HMACSHA256ETM, gossh.HMACSHA512ETM, gossh.HMACSHA256, gossh.HMACSHA512),
	}
}

// preferredCiphers orders the AEAD ciphers by what is fast here. Where the
// CPU has AES instructions, x/crypto's AES-GCM runs in assembly while its
// ChaCha20-Poly1305 does not (the benchmark profile showed generic ChaCha20
// at 14% of the bastion's CPU), so AES-GCM goes first. The order decides the
// upstream hop, where the bastion is the client; on the admin's hop the
// client's order wins.
func preferredCiphers() []string {
	aead := []string{gossh.CipherChaCha20Poly1305, gossh.CipherAES128GCM, gossh.CipherAES256GCM}
	if cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ || cpu.ARM64.HasAES && cpu.ARM64.HasPMULL {
		aead = []string{gossh.CipherAES128GCM, gossh.CipherAES256GCM, gossh.CipherChaCha20Poly1305}
	}
	return append(aead, gossh.CipherAES256CTR, gossh.CipherAES192CTR, gossh.CipherAES128CTR)
}

// publicKeyAuthAlgorithms are the client signature algorithms accepted:
// what x/crypto supports, without SHA-1 RSA.
func publicKeyAuthAlgorithms() []string {
	return slices.DeleteFunc(gossh.SupportedAlgorithms().PublicKeyAuths, func(a string) bool {
		return a == gossh.KeyAlgoRSA || a == "ssh-dss" // by name: the constant is deprecated
	})
}
