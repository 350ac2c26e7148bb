package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/lock"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	gossh "golang.org/x/crypto/ssh"
)

// reloadWith reloads f's bastion with the fixture's configuration as edit
// changes it.
func (f *fixture) reloadWith(t *testing.T, edit func(*config.Config)) {
	t.Helper()
	cfg, err := config.Parse([]byte(`
users:
  alice:
    keys: ["`+f.admin.AuthorizedLine+`"]
    allow:
      - targets: ["t1"]
        as: ["root", "deploy"]
targets:
  t1:
    address: "`+f.cfg.Targets["t1"].Address+`"
`), "reload.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Upstream = f.cfg.Upstream
	edit(cfg)
	if err := f.srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
}

// TestReloadClosesWhatItNoLongerAllows: a reload checks every open
// connection again; one whose key was revoked, whose user or key left the
// configuration or whose target is no longer granted is closed at once,
// its running session told why in one line and the closing audited, while
// a connection the new configuration still allows goes on.
func TestReloadClosesWhatItNoLongerAllows(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(f *fixture, cfg *config.Config)
		reason audit.Reason
		line   string
		kept   string // a login whose connection the reload keeps; "" for none
	}{
		{"key revoked", func(f *fixture, cfg *config.Config) { cfg.SSH.RevokedKeys = []string{f.admin.AuthorizedLine} },
			audit.ReasonKeyRevoked, "jumpcast: access revoked: key SHA256:", ""},
		{"user removed", func(_ *fixture, cfg *config.Config) { delete(cfg.Users, "alice") },
			audit.ReasonKeyNotAuthorized, "jumpcast: access revoked: key not authorized for any user", ""},
		{"grant removed", func(_ *fixture, cfg *config.Config) { cfg.Users["alice"].Allow[0].As = []string{"deploy"} },
			audit.ReasonNotPermitted, "jumpcast: access revoked: t1 is no longer permitted for alice", "deploy@t1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{})
			c := f.dial(t, "root@t1")
			s := openRaw(t, c)
			s.request("exec", true, execMsg{"echo started; sleep 30"})
			s.waitFor("started")
			var kept *gossh.Client
			if tt.kept != "" {
				kept = f.dial(t, tt.kept)
				if r := runExec(t, kept, "echo before"); string(r.stdout) != "before\n" {
					t.Fatalf("before the reload: %q", r.stdout)
				}
			}
			start := time.Now()
			f.reloadWith(t, func(cfg *config.Config) { tt.edit(f, cfg) })
			r := s.wait()
			if !strings.HasPrefix(string(r.stderr), tt.line) || r.status != 255 {
				t.Errorf("the running session saw %q, exit %d; want %q…, 255", r.stderr, r.status, tt.line)
			}
			if !sshtest.ConnEnds(c, time.Second) {
				t.Fatal("the connection is still open a second after the reload")
			}
			t.Logf("closed %v after the reload", time.Since(start).Round(time.Millisecond))
			ev := f.audit.waitEvent(t, audit.KindConnection, audit.OutcomeTerminated)
			if ev.Reason != tt.reason || ev.User != "alice" || ev.Detail[audit.DetailBy] != "reload" ||
				!strings.HasPrefix("jumpcast: "+ev.Detail[audit.DetailMessage], tt.line) || ev.Detail[audit.DetailSessions] != "1" {
				t.Errorf("audit event %+v", ev)
			}
			if exit := f.rec.exitOf(t, 0); exit == nil || !strings.HasPrefix("jumpcast: "+exit.Reason, tt.line) {
				t.Errorf("recorded exit %+v, want the line as its reason", exit)
			}
			if kept != nil {
				if r := runExec(t, kept, "echo after"); string(r.stdout) != "after\n" {
					t.Errorf("a connection the new configuration allows, after the reload: %q %q", r.stdout, r.stderr)
				}
			}
		})
	}
}

// exitOf waits until the i-th recording is closed and returns its exit.
func (r *spyRecorder) exitOf(t *testing.T, i int) *asciicast.Exit {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		r.mu.Lock()
		if i < len(r.sessions) && r.sessions[i].closes > 0 {
			exit := *r.sessions[i].exit
			r.mu.Unlock()
			return &exit
		}
		r.mu.Unlock()
	}
	t.Fatalf("recording %d never closed", i)
	return nil
}

// runExec runs command on a new session channel of c.
func runExec(t *testing.T, c *gossh.Client, command string) result {
	t.Helper()
	s := openRaw(t, c)
	s.request("exec", true, execMsg{command})
	return s.wait()
}

// TestRunningSessionKeepsItsRecordingPolicy: a session started under
// recording.on_failure fail-closed stays fail-closed when a reload
// switches the setting to fail-open: its recording's failure still ends
// it. A session started after the reload is fail-open.
func TestRunningSessionKeepsItsRecordingPolicy(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	old := f.openReadyShell(t)
	f.reloadWith(t, func(cfg *config.Config) { cfg.Recording.OnFailure = config.FailOpen })
	newer := f.openReadyShell(t)
	f.rec.mu.Lock()
	f.rec.failOutputAfter = 1
	f.rec.mu.Unlock()
	for _, s := range []*rawSession{old, newer} {
		if _, err := s.ch.Write([]byte("echo more output\n")); err != nil {
			t.Fatal(err)
		}
	}
	r := old.wait()
	if !strings.Contains(string(r.stdout)+string(r.stderr), "jumpcast: recording failed; session ended") || r.status != 255 {
		t.Errorf("the session started under fail-closed: %q %q exit %d", r.stdout, r.stderr, r.status)
	}
	newer.waitFor("more output")
	if _, err := newer.ch.Write([]byte("echo still-here\n")); err != nil {
		t.Fatal(err)
	}
	newer.waitFor("still-here")
	var policies []string
	for _, ev := range f.audit.find(audit.KindRecording, audit.OutcomeError) {
		policies = append(policies, ev.Detail[audit.DetailOnFailure])
	}
	if strings.Join(policies, ",") != config.FailClosed+","+config.FailOpen &&
		strings.Join(policies, ",") != config.FailOpen+","+config.FailClosed {
		t.Errorf("recording failures audited with policies %v, want one of each", policies)
	}
}

// TestLocks: a lock closes the open connections it names, refuses new ones
// with its line, stops applying when it expires or is removed, and never
// touches a connection it does not name.
func TestLocks(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "root@t1")
	s := f.openReadyShellOn(t, c)
	other := f.dial(t, "deploy@t1")
	now := time.Now()

	// Expired, or naming someone else: nothing happens.
	f.srv.ApplyLocks([]lock.Lock{
		{ID: "old", Target: lock.Target{User: "alice"}, Expires: now.Add(-time.Minute)},
		{ID: "bob", Target: lock.Target{User: "bob"}},
		{ID: "t2", Target: lock.Target{Target: "t2"}},
	})
	if sshtest.ConnEnds(c, 200*time.Millisecond) {
		t.Fatal("an expired lock, or one naming others, closed alice's connection")
	}

	key := gossh.FingerprintSHA256(f.admin.Signer.PublicKey())
	start := time.Now()
	f.srv.ApplyLocks([]lock.Lock{{ID: "k1", Target: lock.Target{Key: key}, Reason: "incident 42"}})
	r := s.wait()
	want := "jumpcast: access locked (key " + key + "): incident 42"
	if !strings.Contains(string(r.stdout)+string(r.stderr), want) || r.status != 255 {
		t.Errorf("the running shell saw %q %q exit %d; want %q", r.stdout, r.stderr, r.status, want)
	}
	for _, cc := range []*gossh.Client{c, other} {
		if !sshtest.ConnEnds(cc, time.Second) {
			t.Fatal("a connection the lock names is open a second later")
		}
	}
	t.Logf("closed %v after the lock", time.Since(start).Round(time.Millisecond))
	if ev := f.audit.waitEvent(t, audit.KindConnection, audit.OutcomeTerminated); ev.Reason != audit.ReasonLocked ||
		ev.Detail[audit.DetailBy] != "lock k1" {
		t.Errorf("audit event %+v", ev)
	}
	if r := refusal(t, f, "root@t1"); string(r.stderr) != want+"\n" || r.status != 255 {
		t.Errorf("a new login under the lock: %q exit %d", r.stderr, r.status)
	}
	if ev := f.audit.waitEvent(t, audit.KindSession, audit.OutcomeDenied); ev.Reason != audit.ReasonLocked {
		t.Errorf("the refused login's audit event: %+v", ev)
	}

	// A target lock with an expiry, then none.
	f.srv.ApplyLocks([]lock.Lock{{ID: "t1", Target: lock.Target{Target: "t1"}, Expires: time.Now().Add(time.Hour)}})
	if r := refusal(t, f, "root@t1"); string(r.stderr) != "jumpcast: access locked (target t1)\n" {
		t.Errorf("under a target lock: %q", r.stderr)
	}
	f.srv.ApplyLocks(nil)
	if r := runExec(t, f.dial(t, "root@t1"), "echo free"); string(r.stdout) != "free\n" {
		t.Errorf("after the locks were removed: %q %q", r.stdout, r.stderr)
	}
}

// TestEndConnection: ending the connection of one session ends every
// session on it and closes it, so no further command runs over it (what
// an OpenSSH ControlMaster would do next).
func TestEndConnection(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "root@t1")
	a := openRaw(t, c)
	a.request("exec", true, execMsg{"echo a; sleep 30"})
	a.waitFor("a")
	b := openRaw(t, c)
	b.request("exec", true, execMsg{"echo b; sleep 30"})
	b.waitFor("b")
	f.rec.mu.Lock()
	id := f.rec.sessions[0].info.ID
	f.rec.mu.Unlock()
	if err := f.srv.EndConnection(id, "auditor bob", "change freeze"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*rawSession{a, b} {
		if r := s.wait(); string(r.stderr) != "jumpcast: connection ended by auditor bob: change freeze\n" || r.status != 255 {
			t.Errorf("a session on the ended connection: %q exit %d", r.stderr, r.status)
		}
	}
	if !sshtest.ConnEnds(c, time.Second) {
		t.Fatal("the connection is open a second after EndConnection")
	}
	if ev := f.audit.waitEvent(t, audit.KindConnection, audit.OutcomeTerminated); ev.Reason != audit.ReasonEndedOnRequest ||
		ev.Detail[audit.DetailBy] != "auditor bob" || ev.Detail[audit.DetailSessions] != "2" {
		t.Errorf("audit event %+v", ev)
	}
	if err := f.srv.EndConnection(id, "auditor bob", ""); err != ErrNoLiveSession {
		t.Errorf("EndConnection of an ended session: %v", err)
	}
}

// TestRefusedStartIsTheChannelsOnlyStart: a start request the target
// refuses closes the recording opened for it, with the refusal as its
// exit reason, audits the refusal and ends the channel; more requests on
// the channel never reach the target or open a recording.
func TestRefusedStartIsTheChannelsOnlyStart(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	s := openRaw(t, f.dial(t, "root@t1"))
	if ok, err := s.ch.SendRequest("subsystem", true, gossh.Marshal(execMsg{"nosuch"})); ok || err != nil {
		t.Fatalf("subsystem nosuch: %v %v, want refused", ok, err)
	}
	for i := 0; i < 100; i++ {
		if ok, _ := s.ch.SendRequest("subsystem", true, gossh.Marshal(execMsg{"nosuch"})); ok {
			t.Fatalf("request %d accepted", i)
		}
	}
	r := s.wait()
	const want = `: subsystem "nosuch" refused by the target`
	if !strings.Contains(string(r.stderr), want) || r.status != 255 {
		t.Errorf("the channel ended with %q exit %d; want …%s, 255", r.stderr, r.status, want)
	}
	rec := f.rec.last(t)
	f.rec.mu.Lock()
	n := len(f.rec.sessions)
	f.rec.mu.Unlock()
	if n != 1 || rec.closes != 1 || rec.exit == nil || !strings.Contains(rec.exit.Reason, want) {
		t.Errorf("%d recordings; the last closed %d times with %+v", n, rec.closes, rec.exit)
	}
	if ev := f.audit.waitEvent(t, audit.KindSession, audit.OutcomeDenied); ev.Reason != audit.ReasonChannelRefused ||
		!strings.Contains(ev.Detail[audit.DetailMessage], want) {
		t.Errorf("audit event %+v", ev)
	}
	if got := f.audit.find(audit.KindSession, audit.OutcomeStarted); len(got) != 0 {
		t.Errorf("a refused start audited as started: %+v", got)
	}
}

// TestRefusedStartsAreBoundedPerConnection: a client that opens channel
// after channel, each with a start the target refuses, has its connection
// closed at the maxRefusedStarts-th, with a line for its open session and
// one audit event; it made no more recordings than that.
func TestRefusedStartsAreBoundedPerConnection(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "root@t1")
	other := f.openReadyShellOn(t, c) // a session of the same connection, running
	for i := 1; i < maxRefusedStarts; i++ {
		s := openRaw(t, c)
		if ok, _ := s.ch.SendRequest("subsystem", true, gossh.Marshal(execMsg{"nosuch"})); ok {
			t.Fatalf("start %d accepted", i)
		}
		s.wait()
	}
	if ev := f.audit.find(audit.KindConnection, audit.OutcomeTerminated); len(ev) != 0 {
		t.Fatalf("connection closed after %d refused starts: %+v", maxRefusedStarts-1, ev)
	}
	last := openRaw(t, c)
	_, _ = last.ch.SendRequest("subsystem", true, gossh.Marshal(execMsg{"nosuch"}))
	if !sshtest.ConnEnds(c, 2*time.Second) {
		t.Fatalf("the connection is open 2 s after its %dth refused start", maxRefusedStarts)
	}
	const line = "jumpcast: 10 session starts refused on this connection; closing it"
	if r := other.wait(); !strings.Contains(string(r.stdout)+string(r.stderr), line) {
		t.Errorf("the running session saw %q %q, want %q", r.stdout, r.stderr, line)
	}
	if ev := f.audit.waitEvent(t, audit.KindConnection, audit.OutcomeTerminated); ev.Reason != audit.ReasonTooManyRefusedStarts {
		t.Errorf("audit event %+v", ev)
	}
	if n := len(f.audit.find(audit.KindSession, audit.OutcomeDenied)); n != maxRefusedStarts {
		t.Errorf("%d refused starts audited, want %d", n, maxRefusedStarts)
	}
	f.rec.mu.Lock()
	n := len(f.rec.sessions)
	f.rec.mu.Unlock()
	if n != maxRefusedStarts+1 {
		t.Errorf("%d recordings, want %d refused + 1 running", n, maxRefusedStarts)
	}
}

// TestLockClosesAClientThatStopsReading: an admin whose client no longer
// reads (its channel window full of output) cannot hold a lock up: its
// connection and every other one the lock names close all the same.
func TestLockClosesAClientThatStopsReading(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	stuck := f.dial(t, "root@t1")
	ch, reqs, err := stuck.OpenChannel("session", nil)
	if err != nil {
		t.Fatal(err)
	}
	go gossh.DiscardRequests(reqs) // owner: the test; ends with the connection
	if ok, err := ch.SendRequest("exec", true, gossh.Marshal(execMsg{"yes"})); !ok || err != nil {
		t.Fatalf("exec: %v %v", ok, err)
	}
	time.Sleep(300 * time.Millisecond) // the output fills the window the client never opens again
	other := f.dial(t, "deploy@t1")
	s := f.openReadyShellOn(t, other)
	f.srv.ApplyLocks([]lock.Lock{{ID: "u", Target: lock.Target{User: "alice"}}})
	if !sshtest.ConnEnds(other, time.Second) {
		t.Error("a reading client's connection is open a second after the lock")
	}
	if !sshtest.ConnEnds(stuck, 2*time.Second) {
		t.Error("the connection of a client that stopped reading is open two seconds after the lock")
	}
	if r := s.wait(); !strings.Contains(string(r.stdout)+string(r.stderr), "jumpcast: access locked (user alice)") {
		t.Errorf("the reading client saw %q %q", r.stdout, r.stderr)
	}
}
