package proxy

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func TestRecordingFailClosedAtStart(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.rec.failStart = errors.New("disk full")
	r := refusal(t, f, "root@t1")
	if string(r.stderr) != "jumpcast: recording unavailable: disk full\n" || r.status != 255 {
		t.Errorf("stderr = %q status %d", r.stderr, r.status)
	}
	if ev := f.audit.waitEvent(t, audit.KindRecording, audit.OutcomeError); ev.Reason != "disk full" {
		t.Errorf("audit = %+v", ev)
	}
}

func TestRecordingFailOpenAtStart(t *testing.T) {
	f := newFixture(t, fixtureOpts{config: func(c *config.Config) { c.Recording.OnFailure = config.FailOpen }})
	f.rec.failStart = errors.New("disk full")
	c := f.dial(t, "root@t1")
	s := openRaw(t, c)
	s.request("exec", true, execMsg{"echo still here"})
	if r := s.wait(); string(r.stdout) != "still here\n" || r.status != 0 {
		t.Errorf("fail-open session: %q status %d stderr %q", r.stdout, r.status, r.stderr)
	}
	f.audit.waitEvent(t, audit.KindRecording, audit.OutcomeError)
}

func TestRecordingFailsMidway(t *testing.T) {
	for _, policy := range []string{config.FailClosed, config.FailOpen} {
		t.Run(policy, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{config: func(c *config.Config) { c.Recording.OnFailure = policy }})
			f.rec.failOutputAfter = 1000
			c := f.dial(t, "root@t1")
			s := openRaw(t, c)
			s.request("exec", true, execMsg{"echo begin; sleep 0.3; head -c 200000 /dev/zero; sleep 0.3; echo end"})
			r := s.wait()
			if policy == config.FailClosed {
				if !strings.Contains(string(r.stderr), "jumpcast: recording failed; session ended") || r.status != 255 {
					t.Errorf("fail-closed: stderr %q status %d", r.stderr, r.status)
				}
				if strings.HasSuffix(string(r.stdout), "end\n") {
					t.Error("fail-closed session ran to its end")
				}
			} else if !strings.HasSuffix(string(r.stdout), "end\n") || r.status != 0 || len(r.stderr) != 0 {
				t.Errorf("fail-open: %d bytes, status %d, stderr %q", len(r.stdout), r.status, r.stderr)
			}
			ev := f.audit.waitEvent(t, audit.KindRecording, audit.OutcomeError)
			if ev.Detail[audit.DetailOnFailure] != policy {
				t.Errorf("audit = %+v", ev)
			}
			if rec := f.rec.last(t); rec.closes != 1 {
				t.Errorf("recorder closed %d times", rec.closes)
			}
		})
	}
}

func TestPasswordPromptRelayedWithPTY(t *testing.T) {
	f := newFixture(t, fixtureOpts{noIDs: true, target: sshtest.TargetOptions{Password: "s3cret"}})
	c := f.dial(t, "root@t1")
	s := openRaw(t, c)
	// The terminal is answered at once; the target is reached at the start
	// request, whose reply comes after the login.
	if !s.pty("xterm", 80, 24) {
		t.Fatal("pty-req refused")
	}
	r := execAnsweringPrompt(t, s, "echo logged in", "(root@t1) Password: ", "s3cret")
	if !strings.Contains(string(r.stdout), "logged in") || r.status != 0 {
		t.Errorf("stdout %q status %d", r.stdout, r.status)
	}
	if strings.Contains(f.logs.String(), "s3cret") {
		t.Error("the password reached the log")
	}
	rec := f.rec.last(t)
	if strings.Contains(rec.input.String()+rec.output.String(), "s3cret") {
		t.Error("the password reached the recording")
	}
}

// TestShapeKnownAtStart: clients send the requests that shape a session
// in their own order — PuTTY's simple@putty.projects.tartarus.org and
// OpenSSH -X's x11-req before pty-req. The bastion refuses what it does
// not pass on without deciding anything, so the session still has its
// terminal (the password prompt of a password-only target is relayed),

// execAnsweringPrompt sends exec command on a session whose terminal is
// already requested, waits for the relayed prompt on stderr, types
// password and returns how the session ended. The start request's reply
// comes only after the login, so it waits on its own goroutine, which
// hands back its outcome (it must not call t.Fatal).
func execAnsweringPrompt(t *testing.T, s *rawSession, command, prompt, password string) result {
	t.Helper()
	startErr := make(chan error, 1)
	go func() { // owner: test; ends when the bastion replies
		ok, err := s.ch.SendRequest("exec", true, gossh.Marshal(execMsg{command}))
		if err == nil && !ok {
			err = errors.New("exec refused")
		}
		startErr <- err
	}()
	// The prompt arrives on stderr, which the session's collector reads;
	// reading the channel here too would race it for the bytes.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(s.stderrNow(), prompt) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := s.stderrNow(); got != prompt {
		t.Fatalf("prompt = %q, want %q", got, prompt)
	}
	if _, err := s.ch.Write([]byte(password + "\r")); err != nil {
		t.Fatal(err)
	}
	if err := <-startErr; err != nil {
		t.Fatal(err)
	}
	return s.wait()
}

// its size and its environment when the start request arrives.
func TestShapeKnownAtStart(t *testing.T) {
	f := newFixture(t, fixtureOpts{noIDs: true, target: sshtest.TargetOptions{Password: "s3cret"},
		config: func(c *config.Config) { c.SSH.EnvAllow = []string{"LC_*"} }})
	s := openRaw(t, f.dial(t, "root@t1"))
	if s.request("simple@putty.projects.tartarus.org", true, nil) {
		t.Error("PuTTY's simple request accepted")
	}
	if s.request("x11-req", true, struct {
		Single        bool
		Proto, Cookie string
		Screen        uint32
	}{false, "MIT-MAGIC-COOKIE-1", "00", 0}) {
		t.Error("x11-req accepted")
	}
	if !s.pty("xterm", 80, 24) {
		t.Fatal("pty-req refused")
	}
	s.request("window-change", false, windowChange{Columns: 132, Rows: 43})
	if !s.request("env", true, envReq{Name: "LC_SHAPE", Value: "kept"}) {
		t.Error("env LC_SHAPE refused")
	}
	r := execAnsweringPrompt(t, s, "stty size; echo lc=$LC_SHAPE", "(root@t1) Password: ", "s3cret")
	if out := string(r.stdout); !strings.Contains(out, "43 132") || !strings.Contains(out, "lc=kept") || r.status != 0 {
		t.Errorf("stdout %q status %d; want the size 43 132 and lc=kept", r.stdout, r.status)
	}
	if rec := f.rec.last(t); !rec.info.PTY || rec.info.Width != 132 || rec.info.Height != 43 {
		t.Errorf("recorded info %+v", rec.info)
	}
}

func TestAgentAuthAndForwarding(t *testing.T) {
	agentKey := sshtest.NewKeyPair(t)
	f := newFixture(t, fixtureOpts{noIDs: true, target: sshtest.TargetOptions{AuthorizedKeys: []gossh.PublicKey{agentKey.Public}}})
	c := f.dialWithAgent(t, "root@t1", agentKey)
	s := openRaw(t, c)
	if !s.request(reqAgent, true, nil) {
		t.Fatal("agent forwarding refused")
	}
	s.request("exec", true, execMsg{`test -n "$SSH_AUTH_SOCK" && ssh-add -l`})
	r := s.wait()
	if !strings.Contains(string(r.stdout), gossh.FingerprintSHA256(agentKey.Public)) || r.status != 0 {
		t.Errorf("ssh-add -l on the target: %q %q status %d", r.stdout, r.stderr, r.status)
	}
	if !strings.Contains(f.logs.String(), `methods=agent`) {
		t.Errorf("target login did not use the agent:\n%s", f.logs.String())
	}
}

func TestAgentForwardingForbiddenByPolicy(t *testing.T) {
	agentKey := sshtest.NewKeyPair(t)
	f := newFixture(t, fixtureOpts{noIDs: true, target: sshtest.TargetOptions{AuthorizedKeys: []gossh.PublicKey{agentKey.Public}},
		config: func(c *config.Config) {
			u := c.Users["alice"]
			u.Allow[0].AgentAuth, u.Allow[0].AgentForwarding = false, false
			c.Users["alice"] = u
		}})
	keyring := agent.NewKeyring()
	_ = keyring.Add(agent.AddedKey{PrivateKey: agentKeyPrivate(t, agentKey)})
	c := f.dial(t, "root@t1")
	_ = agent.ForwardToAgent(c, keyring)
	s := openRaw(t, c)
	if s.request(reqAgent, true, nil) {
		t.Error("agent forwarding accepted against policy")
	}
	s.request("exec", true, execMsg{"true"})
	if r := s.wait(); r.status != 255 || !strings.Contains(string(r.stderr), "authentication failed") {
		t.Errorf("status %d stderr %q, want an authentication failure", r.status, r.stderr)
	}
}

func TestShutdownTellsAdmins(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	s := f.openReadyShell(t)
	if n := f.srv.ActiveSessions(); n != 1 {
		t.Errorf("ActiveSessions = %d, want 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := f.srv.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want deadline exceeded", err)
	}
	r := s.wait()
	if !strings.Contains(string(r.stderr), "jumpcast: bastion shutting down\r\n") || r.status != 255 {
		t.Errorf("stderr %q status %d", r.stderr, r.status)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if rec := f.rec.last(t); rec.exit == nil || rec.exit.Reason != string(audit.ReasonShutdown) {
		t.Errorf("recorded exit = %+v", rec.exit)
	}
	if _, err := net.DialTimeout("tcp", f.addr, time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

func TestShutdownWaitsForSessions(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "root@t1")
	s := openRaw(t, c)
	s.request("exec", true, execMsg{"sleep 0.3; echo done"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if r := s.wait(); string(r.stdout) != "done\n" || r.status != 0 {
		t.Errorf("session cut short: %q %d", r.stdout, r.status)
	}
}

// TestReloadChangesPolicyForNewConnections: a reload's policy applies to
// new connections, and an open session it still allows keeps running
// (access_test.go has those it no longer allows).
func TestReloadChangesPolicyForNewConnections(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "deploy@t1")
	s := openRaw(t, c)
	s.request("exec", true, execMsg{"sleep 0.3; echo kept"})
	cfg, err := config.Parse([]byte("users:\n  alice:\n    keys: [\""+f.admin.AuthorizedLine+"\"]\n    allow:\n      - targets: [t1]\n        as: [deploy]\ntargets:\n  t1:\n    address: \""+f.target.Addr+"\"\n"), "reload.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if r := s.wait(); string(r.stdout) != "kept\n" {
		t.Errorf("open session after reload: %q", r.stdout)
	}
	if r := refusal(t, f, "root@t1"); !strings.Contains(string(r.stderr), "not permitted") {
		t.Errorf("after reload: %q", r.stderr)
	}
}

// agentKeyPrivate reads a test key's private half for an in-memory agent.
// dialWithAgent connects as login with alice's key and serves, to the
// bastion's agent channels, an agent that holds key.
func (f *fixture) dialWithAgent(tb testing.TB, login string, key *sshtest.KeyPair) *gossh.Client {
	tb.Helper()
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: agentKeyPrivate(tb, key)}); err != nil {
		tb.Fatal(err)
	}
	c := f.dial(tb, login)
	if err := agent.ForwardToAgent(c, keyring); err != nil {
		tb.Fatal(err)
	}
	return c
}

func agentKeyPrivate(t testing.TB, k *sshtest.KeyPair) any {
	t.Helper()
	data, err := os.ReadFile(k.PrivatePath)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := gossh.ParseRawPrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}
