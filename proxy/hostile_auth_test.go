package proxy

import (
	"crypto/rand"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// Hostile authentication: strangers, revoked keys, keys of another user,
// bad certificates and brute force, through the in-process bastion. What
// an attacker sees is only "unable to authenticate" (OpenSSH prints
// "Permission denied (publickey)"); the reason is for the operator, in the
// log and in the audit event's "why".

// hostileFixture is the standard fixture with a failure budget large
// enough that the refusals of one test do not throttle the next attempt.
func hostileFixture(t *testing.T, edit func(*config.Config)) *fixture {
	return newFixture(t, fixtureOpts{config: func(c *config.Config) {
		c.SSH.MaxAuthFailures = 1000
		if edit != nil {
			edit(c)
		}
	}})
}

// denied dials as login with auth and checks that the bastion refused the
// key and audited why.
func denied(t *testing.T, f *fixture, login, why string, auth ...gossh.AuthMethod) {
	t.Helper()
	before := len(f.audit.find(audit.KindAuth, audit.OutcomeDenied))
	c, err := f.tryDial(login, auth...)
	if err == nil {
		_ = c.Close()
		t.Fatalf("%s: authenticated; want a refusal (%s)", login, why)
	}
	if !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("%s: client error %q, want unable to authenticate", login, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if evs := f.audit.find(audit.KindAuth, audit.OutcomeDenied); len(evs) > before {
			if got := evs[len(evs)-1].Detail[audit.DetailWhy]; !strings.Contains(got, why) {
				t.Errorf("%s: audited why %q, want %q", login, got, why)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: refusal not audited", login)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHostileUnknownAndRevokedKeys(t *testing.T) {
	stranger := sshtest.NewKeyPair(t)
	bob := sshtest.NewKeyPair(t)
	f := hostileFixture(t, func(c *config.Config) {
		c.Users["bob"] = config.User{Keys: []string{bob.AuthorizedLine}}
		c.SSH.RevokedKeys = []string{bob.AuthorizedLine}
	})
	for _, login := range []string{"root@t1", "mallory", "alice", "root@@t1", strings.Repeat("x", 10<<10)} {
		denied(t, f, login, "key not authorized for any user", gossh.PublicKeys(stranger.Signer))
	}
	// bob is configured, but his key is revoked: refused even as "bob".
	denied(t, f, "bob", "is revoked", gossh.PublicKeys(bob.Signer))
	// No key at all, or a password: the bastion offers public keys only.
	_, err := f.tryDial("root@t1", gossh.Password("hunter2"))
	if err == nil || !strings.Contains(err.Error(), "no supported methods remain") {
		t.Errorf("password login: %v", err)
	}
	// The name in the login is not an identity: alice's key logging in as
	// "mallory" is alice, and sees so.
	c := f.dial(t, "mallory")
	s := openRaw(t, c)
	s.request("shell", true, nil)
	if r := s.wait(); !strings.Contains(string(r.stdout), "you are alice") {
		t.Errorf("whoami as mallory with alice's key: %q", r.stdout)
	}
	if strings.Contains(f.logs.String(), "user=mallory") {
		t.Error("the login name was taken for the bastion user")
	}
}

func TestHostileKeyOfAnotherUser(t *testing.T) {
	bob := sshtest.NewKeyPair(t)
	f := hostileFixture(t, func(c *config.Config) {
		// bob may reach t1 as deploy only; carol shares alice's key.
		c.Users["bob"] = config.User{Keys: []string{bob.AuthorizedLine},
			Allow: []config.Rule{{Targets: []string{"t1"}, As: []string{"deploy"}, AgentAuth: true, AgentForwarding: true}}}
	})
	// bob's key is bob, whatever remote user he asks for.
	c, err := f.tryDial("root@t1", gossh.PublicKeys(bob.Signer))
	if err != nil {
		t.Fatal(err)
	}
	s := openRaw(t, c)
	s.request("exec", true, execMsg{"true"})
	if r := s.wait(); string(r.stderr) != "jumpcast: t1: remote user root not permitted for bob\n" || r.status != 255 {
		t.Errorf("bob as root: %q %d", r.stderr, r.status)
	}
	_ = c.Close()

	// One key listed by two users: a target login cannot say which, so
	// the key is refused; "ssh carol@bastion" picks carol.
	shared := hostileFixture(t, func(c *config.Config) {
		c.Users["carol"] = config.User{Keys: c.Users["alice"].Keys}
	})
	denied(t, shared, "root@t1", "key is shared by users alice, carol", gossh.PublicKeys(shared.admin.Signer))
	c = shared.dial(t, "carol")
	s = openRaw(t, c)
	s.request("shell", true, nil)
	if r := s.wait(); !strings.Contains(string(r.stdout), "you are carol") {
		t.Errorf("shared key as carol: %q", r.stdout)
	}
}

// certFor signs key into a certificate.
func certFor(t *testing.T, ca gossh.Signer, key *sshtest.KeyPair, edit func(*gossh.Certificate)) gossh.Signer {
	t.Helper()
	cert := &gossh.Certificate{
		Key: key.Public, CertType: gossh.UserCert, KeyId: "hostile", ValidPrincipals: []string{"alice"},
		ValidAfter: uint64(time.Now().Add(-time.Minute).Unix()), ValidBefore: uint64(time.Now().Add(time.Hour).Unix()),
	}
	if edit != nil {
		edit(cert)
	}
	// Signed by hand, as ssh-keygen -s would: x/crypto's SignCert refuses
	// some certificates (no principals) that an attacker can still make.
	cert.Nonce = make([]byte, 32)
	if _, err := rand.Read(cert.Nonce); err != nil {
		t.Fatal(err)
	}
	cert.SignatureKey = ca.PublicKey()
	cert.Signature = nil
	blob := cert.Marshal()
	sig, err := ca.Sign(rand.Reader, blob[:len(blob)-4]) // the blob without its empty signature
	if err != nil {
		t.Fatal(err)
	}
	cert.Signature = sig
	s, err := gossh.NewCertSigner(cert, key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHostileCertificates(t *testing.T) {
	ca, rogue, revokedCA := sshtest.NewKeyPair(t), sshtest.NewKeyPair(t), sshtest.NewKeyPair(t)
	user, revokedUser := sshtest.NewKeyPair(t), sshtest.NewKeyPair(t)
	f := hostileFixture(t, func(c *config.Config) {
		c.SSH.UserCAKeys = []string{ca.AuthorizedLine, revokedCA.AuthorizedLine}
		c.SSH.RevokedKeys = []string{revokedCA.AuthorizedLine, revokedUser.AuthorizedLine}
	})
	hour := func(n int) uint64 { return uint64(time.Now().Add(time.Duration(n) * time.Hour).Unix()) }
	tests := []struct {
		name string
		ca   gossh.Signer
		key  *sshtest.KeyPair
		edit func(*gossh.Certificate)
		why  string
	}{
		{"expired", ca.Signer, user, func(c *gossh.Certificate) { c.ValidAfter, c.ValidBefore = hour(-48), hour(-24) }, "expired"},
		{"not yet valid", ca.Signer, user, func(c *gossh.Certificate) { c.ValidAfter, c.ValidBefore = hour(24), hour(48) }, "not yet valid"},
		{"unknown principal", ca.Signer, user, func(c *gossh.Certificate) { c.ValidPrincipals = []string{"mallory"} }, "not authorized"},
		{"no principal", ca.Signer, user, func(c *gossh.Certificate) { c.ValidPrincipals = nil }, "names no principal"},
		{"unknown CA", rogue.Signer, user, nil, "unknown authority"},
		{"host certificate", ca.Signer, user, func(c *gossh.Certificate) { c.CertType = gossh.HostCert }, "not a user certificate"},
		{"revoked CA", revokedCA.Signer, user, nil, "revoked authority"},
		{"revoked key", ca.Signer, revokedUser, nil, "revoked key"},
		{"unknown critical option", ca.Signer, user, func(c *gossh.Certificate) { c.CriticalOptions = map[string]string{"force-command": "id"} }, "unsupported critical option"},
		{"source address", ca.Signer, user, func(c *gossh.Certificate) { c.CriticalOptions = map[string]string{"source-address": "192.0.2.0/24"} }, "does not allow 127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			denied(t, f, "root@t1", tt.why, gossh.PublicKeys(certFor(t, tt.ca, tt.key, tt.edit)))
		})
	}
	// The control: the same CA, key and options, valid, get in.
	c, err := f.tryDial("root@t1", gossh.PublicKeys(certFor(t, ca.Signer, user, nil)))
	if err != nil {
		t.Fatalf("valid certificate refused: %v", err)
	}
	_ = c.Close()
}

// TestHostileBruteForce measures the throttle with the default limits
// (ssh.max_auth_failures 10 per ssh.auth_failure_window 1m): how many
// connections one address gets to authentication, how many keys each may
// try, and what a blocked address sees.
func TestHostileBruteForce(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	def := config.Default().SSH
	if f.cfg.SSH.MaxAuthFailures != def.MaxAuthFailures || f.cfg.SSH.AuthFailureWindow != def.AuthFailureWindow {
		t.Fatalf("fixture limits %d/%v differ from the defaults", f.cfg.SSH.MaxAuthFailures, f.cfg.SSH.AuthFailureWindow)
	}
	// Ten wrong keys per connection; the server stops listening after 6.
	var guesses []gossh.Signer
	for range 10 {
		guesses = append(guesses, sshtest.NewKeyPair(t).Signer)
	}
	start := time.Now()
	reached, blocked := 0, 0
	// Hammer until the address has been turned away 200 times (bounded by
	// time, not by a count of attempts, so a slow machine still reaches it).
	for blocked < 200 && time.Since(start) < 20*time.Second {
		before := len(f.audit.find(audit.KindAuth, audit.OutcomeDenied))
		_, err := f.tryDial("root@t1", gossh.PublicKeys(guesses...))
		switch {
		case err == nil:
			t.Fatal("a wrong key got in")
		case strings.Contains(err.Error(), "unable to authenticate"), strings.Contains(err.Error(), "too many authentication failures"):
			reached++
			for len(f.audit.find(audit.KindAuth, audit.OutcomeDenied)) == before && time.Since(start) < 10*time.Second {
				time.Sleep(5 * time.Millisecond) // the failure is counted when the server closes
			}
		default:
			blocked++
		}
	}
	if reached != def.MaxAuthFailures {
		t.Errorf("%d connections reached authentication, want %d", reached, def.MaxAuthFailures)
	}
	t.Logf("brute force from one address, %v: %d connections reached authentication (at most %d keys each: %d key guesses per %v), %d refused before the SSH banner",
		time.Since(start).Round(time.Millisecond), reached, 6, reached*6, def.AuthFailureWindow, blocked)

	// Six keys, alice's last: she gets in. Seven keys, alice's last: the
	// server has hung up before it is tried.
	g := newFixture(t, fixtureOpts{})
	if c, err := g.tryDial("root@t1", gossh.PublicKeys(append(guesses[:5:5], g.admin.Signer)...)); err != nil {
		t.Errorf("the sixth key was not tried: %v", err)
	} else {
		_ = c.Close()
	}
	if c, err := g.tryDial("root@t1", gossh.PublicKeys(append(guesses[:6:6], g.admin.Signer)...)); err == nil {
		_ = c.Close()
		t.Error("a seventh key was tried on one connection")
	}
	// A blocked address waits until its oldest failure leaves the window.
	window := 1500 * time.Millisecond
	h := newFixture(t, fixtureOpts{config: func(c *config.Config) { c.SSH.MaxAuthFailures, c.SSH.AuthFailureWindow = 3, window }})
	first := time.Now()
	for range 3 {
		_, _ = h.tryDial("root@t1", gossh.PublicKeys(guesses[0]))
	}
	for len(h.audit.find(audit.KindAuth, audit.OutcomeDenied)) < 3 && time.Since(first) < 5*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	blockedAt := time.Now()
	if bannerSeen(t, h.addr) {
		t.Fatal("not blocked after 3 failures")
	}
	for !bannerSeen(t, h.addr) {
		if time.Since(blockedAt) > window+3*time.Second {
			t.Fatal("still blocked long after the window")
		}
		time.Sleep(25 * time.Millisecond)
	}
	waited := time.Since(blockedAt)
	if since := time.Since(first); since < window {
		t.Errorf("unblocked %v after the first failure, window %v", since, window)
	}
	t.Logf("blocked address (3 per %v) let in again after %v blocked, %v after its first failure; with the defaults a blocked address waits up to %v",
		window, waited.Round(time.Millisecond), time.Since(first).Round(time.Millisecond), def.AuthFailureWindow)
}

// bannerSeen reports whether the bastion at addr admits a TCP connection
// far enough to send its SSH version line.
func bannerSeen(t *testing.T, addr string) bool {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4)
	_, err = io.ReadFull(conn, buf)
	return err == nil && string(buf) == "SSH-"
}
