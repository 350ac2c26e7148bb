package proxy

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// execOnce opens a new admin connection as login, runs command and closes
// the connection, as one `ssh login@bastion command` does.
func (f *fixture) execOnce(tb testing.TB, login, command string) result {
	tb.Helper()
	c := f.dial(tb, login)
	s := openRaw(tb, c)
	s.request("exec", true, execMsg{command})
	r := s.wait()
	_ = c.Close()
	return r
}

// waitKept waits until the bastion keeps n target connections.
func (f *fixture) waitKept(tb testing.TB, n int) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.srv.pool.len() != n {
		if time.Now().After(deadline) {
			tb.Fatalf("bastion keeps %d target connections, want %d", f.srv.pool.len(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReuseSameUserSkipsTargetLogin(t *testing.T) {
	var mu sync.Mutex
	var dials []string
	f := newFixture(t, fixtureOpts{onDial: func(outcome string, _ time.Duration) {
		mu.Lock()
		dials = append(dials, outcome)
		mu.Unlock()
	}})
	for i, cmd := range []string{"echo one", "echo two; exit 3", "echo three"} {
		r := f.execOnce(t, "root@t1", cmd)
		want := []string{"one\n", "two\n", "three\n"}[i]
		if string(r.stdout) != want {
			t.Fatalf("session %d: stdout %q, want %q", i, r.stdout, want)
		}
		f.waitKept(t, 1)
	}
	if got := f.target.AuthLog(); len(got) != 1 || got[0] != "publickey:root" {
		t.Errorf("target logins %v: want one, the other sessions reusing it", got)
	}
	var logins []string
	for _, ev := range f.audit.find(audit.KindSession, audit.OutcomeStarted) {
		logins = append(logins, ev.Detail[audit.DetailTargetLogin])
	}
	if strings.Join(logins, " ") != "new reused reused" {
		t.Errorf("session audit events say target_login %v, want new reused reused", logins)
	}
	mu.Lock()
	if got := strings.Join(dials, " "); got != "ok reused reused" {
		t.Errorf("OnDial saw %q, want ok reused reused", got)
	}
	mu.Unlock()
	if n := strings.Count(f.logs.String(), "target connection reused"); n != 2 {
		t.Errorf("%d reuse log lines, want 2:\n%s", n, f.logs.String())
	}
	// Each session is still its own recording with its own exit status.
	f.rec.mu.Lock()
	n := len(f.rec.sessions)
	f.rec.mu.Unlock()
	if n != 3 {
		t.Errorf("%d recordings, want 3", n)
	}
	if last := f.rec.last(t); last.exit == nil || !last.exit.HasStatus || last.exit.Status != 0 {
		t.Errorf("last recording exit %+v", last.exit)
	}
}

func TestReuseOnlyForSameUserTargetAndRemoteUser(t *testing.T) {
	bob := sshtest.NewKeyPair(t)
	f := newFixture(t, fixtureOpts{config: func(c *config.Config) {
		u := c.Users["alice"]
		c.Users["bob"] = config.User{Keys: []string{bob.AuthorizedLine}, Allow: u.Allow}
	}})
	f.execOnce(t, "root@t1", "true")
	f.waitKept(t, 1)
	f.execOnce(t, "deploy@t1", "true") // another remote user: a login of its own
	f.waitKept(t, 2)

	// bob may reach root@t1 too, but not through alice's connection.
	c, err := f.tryDial("root@t1", gossh.PublicKeys(bob.Signer))
	if err != nil {
		t.Fatal(err)
	}
	s := openRaw(t, c)
	s.request("exec", true, execMsg{"echo bob"})
	if r := s.wait(); string(r.stdout) != "bob\n" {
		t.Fatalf("bob's session: %q %q", r.stdout, r.stderr)
	}
	_ = c.Close()
	f.waitKept(t, 3)
	want := []string{"publickey:root", "publickey:deploy", "publickey:root"}
	if got := f.target.AuthLog(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("target logins %v, want %v", got, want)
	}
}

func TestReuseOffAndIdleExpiry(t *testing.T) {
	f := newFixture(t, fixtureOpts{config: func(c *config.Config) { c.Upstream.ReuseIdle = 0 }})
	f.execOnce(t, "root@t1", "true")
	f.execOnce(t, "root@t1", "true")
	if got := f.target.AuthLog(); len(got) != 2 {
		t.Errorf("reuse_idle 0: target logins %v, want 2", got)
	}
	f.waitKept(t, 0)

	short := 150 * time.Millisecond
	g := newFixture(t, fixtureOpts{config: func(c *config.Config) { c.Upstream.ReuseIdle = short }})
	g.execOnce(t, "root@t1", "true")
	g.waitKept(t, 1)
	time.Sleep(short + 100*time.Millisecond)
	g.waitKept(t, 0)
	g.execOnce(t, "root@t1", "true")
	if got := g.target.AuthLog(); len(got) != 2 {
		t.Errorf("after the idle time: target logins %v, want 2", got)
	}
}

func TestReuseSurvivesTargetCrash(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.execOnce(t, "root@t1", "true")
	f.waitKept(t, 1)
	f.target.CloseConnections() // the target drops the kept connection
	r := f.execOnce(t, "root@t1", "echo fresh")
	if string(r.stdout) != "fresh\n" || r.status != 0 {
		t.Fatalf("after the target dropped the kept connection: stdout %q stderr %q status %d", r.stdout, r.stderr, r.status)
	}
	if got := f.target.AuthLog(); len(got) != 2 {
		t.Errorf("target logins %v, want a fresh one", got)
	}
	if f.audit.find(audit.KindUpstream, audit.OutcomeLost) != nil {
		t.Error("a kept connection's end was audited as a lost target")
	}
}

func TestReloadClosesKeptConnections(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.execOnce(t, "root@t1", "true")
	f.waitKept(t, 1)
	if err := f.srv.Reload(f.cfg); err != nil {
		t.Fatal(err)
	}
	f.waitKept(t, 0)
	f.execOnce(t, "root@t1", "true")
	if got := f.target.AuthLog(); len(got) != 2 {
		t.Errorf("after a reload: target logins %v, want 2", got)
	}
}

// A login made with the admin's own agent key is never kept: nobody,
// not even the same bastion user without that agent, may inherit it.
func TestReuseNeverKeepsAgentLogins(t *testing.T) {
	agentKey := sshtest.NewKeyPair(t)
	f := newFixture(t, fixtureOpts{noIDs: true, target: sshtest.TargetOptions{AuthorizedKeys: []gossh.PublicKey{agentKey.Public}}})
	c := f.dialWithAgent(t, "root@t1", agentKey)
	s := openRaw(t, c)
	s.request(reqAgent, true, nil)
	s.request("exec", true, execMsg{"true"})
	if r := s.wait(); r.status != 0 {
		t.Fatalf("agent session: %q status %d", r.stderr, r.status)
	}
	_ = c.Close()
	time.Sleep(50 * time.Millisecond)
	f.waitKept(t, 0)
	// Without the agent the same user cannot log in to the target.
	if r := f.execOnce(t, "root@t1", "true"); r.status != 255 || !strings.Contains(string(r.stderr), "authentication failed") {
		t.Errorf("without agent: status %d stderr %q, want an authentication failure", r.status, r.stderr)
	}
}

// With the real OpenSSH client and server: sequential ssh runs log in to
// sshd once, and each still gets its own exit status.
func TestReuseWithOpenSSH(t *testing.T) {
	rf := newRealFixture(t, fixtureOpts{})
	for i := range 3 {
		_, stderr, code := rf.ssh(t, nil, nil, rf.dest("@"), "exit "+[]string{"0", "5", "0"}[i])
		if want := []int{0, 5, 0}[i]; code != want {
			t.Fatalf("run %d: status %d, want %d (stderr %q)", i, code, want, stderr)
		}
		rf.waitKept(t, 1)
	}
	if n := strings.Count(rf.sshd.Log(), "Accepted publickey for "+rf.user); n != 1 {
		t.Errorf("sshd logged %d logins, want 1:\n%s", n, rf.sshd.Log())
	}
}

// holdPolicyEvents makes the audit store wait before storing a policy
// event until the returned function is called (at the latest when the
// test ends), like an index that is slow to commit.
func (f *fixture) holdPolicyEvents(tb testing.TB) (release func()) {
	ch := make(chan struct{})
	release = sync.OnceFunc(func() { close(ch) })
	tb.Cleanup(release)
	f.audit.setHold(func(ev audit.Event) {
		if ev.Kind == audit.KindPolicy {
			<-ch
		}
	})
	return release
}

// The login's and the decision's audit events are written while the
// target is dialed, not before; still, no byte of the session flows until
// both are stored.
func TestSessionWaitsForLoginAuditEvents(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	releaseOnce := f.holdPolicyEvents(t)
	c := f.dial(t, "root@t1")
	s := openRaw(t, c)
	s.request("exec", false, execMsg{"echo hi"})
	time.Sleep(300 * time.Millisecond)
	if got := s.stdout(); got != "" {
		t.Fatalf("output %q reached the admin before the policy decision was stored", got)
	}
	releaseOnce()
	if r := s.wait(); string(r.stdout) != "hi\n" {
		t.Fatalf("after the store caught up: stdout %q stderr %q", r.stdout, r.stderr)
	}
	f.audit.waitEvent(t, audit.KindAuth, audit.OutcomeOK)
	f.audit.waitEvent(t, audit.KindPolicy, audit.OutcomeAllowed)
}

// A refusal is told to the admin only once the decision behind it is
// stored: the audit trail never misses a denial the admin saw.
func TestRefusalWaitsForPolicyAuditEvent(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	releaseOnce := f.holdPolicyEvents(t)
	c := f.dial(t, "postgres@t1")
	s := openRaw(t, c)
	s.request("exec", false, execMsg{"true"})
	select {
	case r := <-s.done:
		t.Fatalf("refusal %q reached the admin before the denial was stored", r.stderr)
	case <-time.After(300 * time.Millisecond):
	}
	releaseOnce()
	select {
	case r := <-s.done:
		if r.status != 255 || !strings.Contains(string(r.stderr), "not permitted") {
			t.Fatalf("after the store caught up: status %d stderr %q", r.status, r.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no refusal 10 s after the denial was stored")
	}
	if ev := f.audit.find(audit.KindPolicy, audit.OutcomeDenied); len(ev) != 1 {
		t.Errorf("policy denials stored: %d, want 1", len(ev))
	}
}

// A target login made before a reload, still in use during it, is not
// kept when its admin leaves: the next connection logs in afresh under the
// new configuration.
func TestReuseNotAcrossReloadWhileInUse(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "root@t1")
	s := openRaw(t, c)
	s.request("exec", true, execMsg{"echo started; sleep 0.3"})
	s.waitFor("started")
	if err := f.srv.Reload(f.cfg); err != nil {
		t.Fatal(err)
	}
	s.wait()
	_ = c.Close()
	time.Sleep(50 * time.Millisecond)
	f.waitKept(t, 0)
	f.execOnce(t, "root@t1", "true")
	if got := f.target.AuthLog(); len(got) != 2 {
		t.Errorf("target logins %v: the pre-reload login was reused", got)
	}
}
