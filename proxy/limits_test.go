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

func TestLimiterWindow(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(func() time.Time { return now })
	for range 3 {
		l.fail("192.0.2.1", time.Minute)
	}
	if ok, reason := l.admit("192.0.2.1", 10, 3, time.Minute); ok || reason != "too many failed authentications" {
		t.Errorf("admit after 3 failures = %v %q", ok, reason)
	}
	if ok, _ := l.admit("192.0.2.2", 10, 3, time.Minute); !ok {
		t.Error("another address throttled")
	}
	now = now.Add(61 * time.Second)
	if ok, _ := l.admit("192.0.2.1", 10, 3, time.Minute); !ok {
		t.Error("still throttled after the window")
	}
	if ok, reason := l.admit("192.0.2.3", 2, 3, time.Minute); ok || reason != "too many unauthenticated connections" {
		t.Errorf("third unauthenticated connection = %v %q", ok, reason)
	}
	l.release("192.0.2.2")
	if ok, _ := l.admit("192.0.2.3", 2, 3, time.Minute); !ok {
		t.Error("slot not given back")
	}
}

func TestFailedAuthThrottled(t *testing.T) {
	f := newFixture(t, fixtureOpts{config: func(c *config.Config) { c.SSH.MaxAuthFailures = 2 }})
	stranger := sshtest.NewKeyPair(t)
	for i := range 2 {
		if _, err := f.tryDial("root@t1", gossh.PublicKeys(stranger.Signer)); err == nil {
			t.Fatalf("attempt %d: a stranger's key was accepted", i)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && len(f.audit.find(audit.KindAuth, audit.OutcomeDenied)) < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := f.tryDial("root@t1", gossh.PublicKeys(f.admin.Signer)); err == nil {
		t.Error("the right key got in from a throttled address")
	}
	if !strings.Contains(f.logs.String(), "too many failed authentications") {
		t.Error("throttling not logged")
	}
}

func TestHandshakeTimeout(t *testing.T) {
	f := newFixture(t, fixtureOpts{config: func(c *config.Config) { c.SSH.HandshakeTimeout = 300 * time.Millisecond }})
	conn, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(conn) // the banner, then EOF when the server gives up
	if err != nil || time.Since(start) > 3*time.Second {
		t.Errorf("silent client kept for %v (%v)", time.Since(start), err)
	}
	// An authenticated connection outlives the timeout.
	c := f.dial(t, "root@t1")
	time.Sleep(500 * time.Millisecond)
	s := openRaw(t, c)
	s.request("exec", true, execMsg{"echo alive"})
	if r := s.wait(); string(r.stdout) != "alive\n" {
		t.Errorf("authenticated connection: %q", r.stdout)
	}
}

func TestUnauthenticatedCap(t *testing.T) {
	f := newFixture(t, fixtureOpts{config: func(c *config.Config) { c.SSH.MaxUnauthenticated = 1 }})
	idle, err := net.Dial("tcp", f.addr) // holds the only slot
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	buf := make([]byte, 4)
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(idle, buf); err != nil { // the server banner: the slot is taken
		t.Fatal(err)
	}
	if _, err := f.tryDial("root@t1", gossh.PublicKeys(f.admin.Signer)); err == nil {
		t.Error("second unauthenticated connection admitted")
	}
	_ = idle.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := f.tryDial("root@t1", gossh.PublicKeys(f.admin.Signer))
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot never given back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestUserCertificate(t *testing.T) {
	ca := sshtest.NewKeyPair(t)
	user := sshtest.NewKeyPair(t)
	f := newFixture(t, fixtureOpts{config: func(c *config.Config) {
		c.SSH.UserCAKeys = []string{ca.AuthorizedLine}
	}})
	sign := func(principals []string, source string) gossh.Signer {
		cert := &gossh.Certificate{
			Key: user.Public, CertType: gossh.UserCert, KeyId: "alice@laptop", ValidPrincipals: principals,
			ValidAfter: uint64(time.Now().Add(-time.Minute).Unix()), ValidBefore: uint64(time.Now().Add(time.Hour).Unix()),
		}
		if source != "" {
			cert.CriticalOptions = map[string]string{"source-address": source}
		}
		if err := cert.SignCert(rand.Reader, ca.Signer); err != nil {
			t.Fatal(err)
		}
		s, err := gossh.NewCertSigner(cert, user.Signer)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	c, err := f.tryDial("root@t1", gossh.PublicKeys(sign([]string{"alice"}, "127.0.0.0/8")))
	if err != nil {
		t.Fatalf("certificate for alice refused: %v", err)
	}
	s := openRaw(t, c)
	s.request("exec", true, execMsg{"echo cert"})
	if r := s.wait(); string(r.stdout) != "cert\n" {
		t.Errorf("session: %q %q", r.stdout, r.stderr)
	}
	_ = c.Close()
	if rec := f.rec.last(t); rec.info.User != "alice" || rec.info.KeyFingerprint != gossh.FingerprintSHA256(user.Public) {
		t.Errorf("session info = %+v", rec.info)
	}
	for name, signer := range map[string]gossh.Signer{
		"unknown principal": sign([]string{"mallory"}, ""),
		"other source":      sign([]string{"alice"}, "192.0.2.0/24"),
	} {
		if c, err := f.tryDial("root@t1", gossh.PublicKeys(signer)); err == nil {
			_ = c.Close()
			t.Errorf("%s: certificate accepted", name)
		}
	}
}

func TestOnlyTheSigningKeyIsRecorded(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	other := sshtest.NewKeyPair(t)
	// Offer a key alice does not have first, then hers: only hers signs.
	c, err := f.tryDial("root@t1", gossh.PublicKeys(other.Signer, f.admin.Signer))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := openRaw(t, c)
	s.request("exec", true, execMsg{"true"})
	s.wait()
	if rec := f.rec.last(t); rec.info.KeyFingerprint != gossh.FingerprintSHA256(f.admin.Public) {
		t.Errorf("recorded key %s, want alice's", rec.info.KeyFingerprint)
	}
}

// One source address may hold all but a quarter of the unauthenticated
// slots: a client that opens connections and never finishes the handshake
// cannot lock out admins coming from elsewhere.
func TestUnauthenticatedSharePerSource(t *testing.T) {
	f := newFixture(t, fixtureOpts{config: func(c *config.Config) { c.SSH.MaxUnauthenticated = 8 }})
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	admitted := 0
	for i := 0; i < 8; i++ {
		c, err := d.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err == nil && string(buf) == "SSH-" {
			admitted++
		}
	}
	if admitted != 6 {
		t.Errorf("127.0.0.2 holds %d unauthenticated slots, want 6 (all but a quarter of 8)", admitted)
	}
	c, err := f.tryDial("root@t1", gossh.PublicKeys(f.admin.Signer))
	if err != nil {
		t.Fatalf("an admin from 127.0.0.1 was locked out: %v", err)
	}
	_ = c.Close()
}
