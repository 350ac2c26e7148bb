package proxy

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/lock"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// webFixture is a fixture whose alice may open root@t1 from the web
// (web_terminal) and deploy@t1 only over ssh.
func webFixture(t *testing.T) *fixture {
	return newFixture(t, fixtureOpts{config: func(c *config.Config) {
		u := c.Users["alice"]
		u.Allow = []config.Rule{
			{Targets: []string{"t1"}, As: []string{"root"}, WebTerminal: true, AgentAuth: true},
			{Targets: []string{"t1"}, As: []string{"deploy"}},
		}
		c.Users["alice"] = u
	}})
}

// webDial opens a web connection as the web site does for user, and
// logs in on it with signer as login.
func (f *fixture) webDial(t *testing.T, user string, key gossh.PublicKey, login string, signer gossh.Signer) (*gossh.Client, error) {
	t.Helper()
	b, err := f.srv.OpenWebConn(WebLogin{User: user, Account: user, Key: key,
		RemoteAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 4242}})
	if err != nil {
		t.Fatal(err)
	}
	conf := &gossh.ClientConfig{User: login, Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.FixedHostKey(f.hostKey), Timeout: 5 * time.Second}
	cc, chans, reqs, err := gossh.NewClientConn(b, "web", conf)
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	c := gossh.NewClient(cc, chans, reqs)
	t.Cleanup(func() { _ = c.Close() })
	return c, nil
}

// webShell opens alice's web connection as root@t1 with a shell on it.
func (f *fixture) webShell(t *testing.T) (*gossh.Client, *rawSession) {
	t.Helper()
	k := sshtest.NewKeyPair(t)
	c, err := f.webDial(t, "alice", k.Public, "root@t1", k.Signer)
	if err != nil {
		t.Fatalf("web login: %v", err)
	}
	return c, f.openReadyShellOn(t, c)
}

// TestWebConnIsAnSSHLogin: a connection the web site hands over runs
// through the same policy, recorder and audit trail as one from the
// listener, marked via web, with the key the web made for it.
func TestWebConnIsAnSSHLogin(t *testing.T) {
	f := webFixture(t)
	_, s := f.webShell(t)
	if _, err := s.ch.Write([]byte("exit 7\n")); err != nil {
		t.Fatal(err)
	}
	if r := s.wait(); r.status != 7 {
		t.Errorf("exit status %d, want 7", r.status)
	}
	rec := f.rec.last(t)
	if rec.info.User != "alice" || rec.info.KeyFingerprint != "web:alice" || !strings.HasPrefix(rec.info.ClientAddr, "127.0.0.9") {
		t.Errorf("recording info %+v", rec.info)
	}
	for _, kind := range []struct {
		k audit.Kind
		o audit.Outcome
	}{{audit.KindAuth, audit.OutcomeOK}, {audit.KindPolicy, audit.OutcomeAllowed},
		{audit.KindSession, audit.OutcomeStarted}, {audit.KindSession, audit.OutcomeEnded}} {
		ev := f.audit.waitEvent(t, kind.k, kind.o)
		if ev.Detail[audit.DetailVia] != audit.ViaWeb || ev.User != "alice" {
			t.Errorf("%s %s event %+v: want via web, user alice", kind.k, kind.o, ev)
		}
	}
}

// TestWebConnRefusals: the web needs web_terminal in the matching rule;
// only the handed key opens a web connection, and that key opens nothing
// on the listener.
func TestWebConnRefusals(t *testing.T) {
	f := webFixture(t)
	k := sshtest.NewKeyPair(t)

	c, err := f.webDial(t, "alice", k.Public, "deploy@t1", k.Signer)
	if err != nil {
		t.Fatalf("web login: %v", err)
	}
	s := openRaw(t, c)
	s.pty("xterm", 80, 24)
	s.request("shell", true, nil)
	r := s.wait()
	if want := "jumpcast: t1: web terminal not granted for alice"; !strings.Contains(string(r.stderr), want) || r.status != 255 {
		t.Errorf("deploy@t1 from the web: stderr %q status %d, want %q and 255", r.stderr, r.status, want)
	}
	if ev := f.audit.waitEvent(t, audit.KindPolicy, audit.OutcomeDenied); ev.Reason != audit.ReasonWebTerminalNotGranted ||
		ev.Detail[audit.DetailVia] != audit.ViaWeb {
		t.Errorf("policy event %+v", ev)
	}

	if _, err := f.webDial(t, "alice", k.Public, "root@t1", f.admin.Signer); err == nil {
		t.Error("a web connection accepted alice's own key instead of the handed one")
	}
	if _, err := f.tryDial("root@t1", gossh.PublicKeys(k.Signer)); err == nil {
		t.Error("the listener accepted a web terminal's key")
	}
	if _, err := f.webDial(t, "mallory", k.Public, "root@t1", k.Signer); err == nil {
		t.Error("a web connection for an unknown user logged in")
	}
}

// TestWebConnLocked: a lock on the user closes a web terminal within a
// second, with the lock's line.
func TestWebConnLocked(t *testing.T) {
	f := webFixture(t)
	c, s := f.webShell(t)
	f.srv.ApplyLocks([]lock.Lock{{ID: "u1", Target: lock.Target{User: "alice"}, Reason: "gone"}})
	r := s.wait()
	if !strings.Contains(string(r.stderr), "access locked") || r.status != 255 {
		t.Errorf("locked web shell: stderr %q status %d", r.stderr, r.status)
	}
	if !sshtest.ConnEnds(c, time.Second) {
		t.Fatal("the web connection is open a second after the lock")
	}
}

// TestWebConnReload: a reload that keeps the grant keeps a web terminal
// open (its key is in no user's keys, and must not count as revoked); one
// that drops web_terminal closes it.
func TestWebConnReload(t *testing.T) {
	f := webFixture(t)
	c, s := f.webShell(t)
	same := *f.cfg
	if err := f.srv.Reload(&same); err != nil {
		t.Fatal(err)
	}
	if sshtest.ConnEnds(c, 300*time.Millisecond) {
		t.Fatal("a reload that changed nothing closed the web terminal")
	}
	dropped := *f.cfg
	dropped.Users = map[string]config.User{}
	for name, u := range f.cfg.Users {
		u.Allow = []config.Rule{{Targets: []string{"t1"}, As: []string{"root"}, AgentAuth: true}}
		dropped.Users[name] = u
	}
	if err := f.srv.Reload(&dropped); err != nil {
		t.Fatal(err)
	}
	r := s.wait()
	if !strings.Contains(string(r.stderr), "no longer permitted") || r.status != 255 {
		t.Errorf("after web_terminal was dropped: stderr %q status %d", r.stderr, r.status)
	}
	if !sshtest.ConnEnds(c, time.Second) {
		t.Fatal("the web terminal is open a second after its grant was dropped")
	}
}
