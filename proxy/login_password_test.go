package proxy

import (
	"strings"
	"sync"
	"testing"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// kiAnswers answers keyboard-interactive rounds from a list and keeps
// what it was shown.
type kiAnswers struct {
	mu      sync.Mutex
	answers []string
	shown   []string // instruction + prompt of each round
}

func (k *kiAnswers) challenge(name, instruction string, questions []string, echos []bool) ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(questions) == 0 {
		return nil, nil
	}
	k.shown = append(k.shown, instruction+"|"+strings.Join(questions, ","))
	if len(k.answers) == 0 {
		return nil, gossh.ErrNoAuth
	}
	a := k.answers[0]
	k.answers = k.answers[1:]
	return []string{a}, nil
}

func (k *kiAnswers) rounds() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.shown...)
}

func passwordOnlyFixture(t *testing.T) *fixture {
	return newFixture(t, fixtureOpts{noIDs: true,
		target: sshtest.TargetOptions{Password: "s3cret-pw", PasswordOnly: true}})
}

// checkNoSecret fails when the password reached the log or a recording.
func checkNoSecret(t *testing.T, f *fixture, secret string) {
	t.Helper()
	if strings.Contains(f.logs.String(), secret) {
		t.Error("the password reached the log")
	}
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	for _, s := range f.rec.sessions {
		if strings.Contains(s.input.String()+s.output.String(), secret) {
			t.Error("the password reached a recording")
		}
	}
	for _, ev := range f.audit.all() {
		for _, v := range ev.Detail {
			if strings.Contains(v, secret) {
				t.Error("the password reached the audit trail")
			}
		}
	}
}

// TestPasswordAskedAtLogin: a password-only target's password is asked as
// keyboard-interactive during the admin's own login, after the key, with
// the target's prompt; a session without a terminal then runs, and the
// password is nowhere but at the target.
func TestPasswordAskedAtLogin(t *testing.T) {
	f := passwordOnlyFixture(t)
	ki := &kiAnswers{answers: []string{"s3cret-pw"}}
	c, err := f.tryDial("root@t1", gossh.PublicKeys(f.admin.Signer), gossh.KeyboardInteractive(ki.challenge))
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	defer c.Close()
	if got := ki.rounds(); len(got) != 1 || got[0] != "|(root@t1) Password: " {
		t.Errorf("rounds shown %q", got)
	}
	if r := runExec(t, c, "echo in-$((6*7))"); !strings.Contains(string(r.stdout), "in-42") || r.status != 0 {
		t.Fatalf("exec without a terminal: %q %q %d", r.stdout, r.stderr, r.status)
	}
	checkNoSecret(t, f, "s3cret-pw")
}

// TestPasswordAtLoginRetries: a wrong answer is refused by the target,
// which asks again; the admin sees ssh's "Permission denied, please try
// again." and the next answer gets in.
func TestPasswordAtLoginRetries(t *testing.T) {
	f := passwordOnlyFixture(t)
	ki := &kiAnswers{answers: []string{"wrong-one", "s3cret-pw"}}
	c, err := f.tryDial("root@t1", gossh.PublicKeys(f.admin.Signer), gossh.KeyboardInteractive(ki.challenge))
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	defer c.Close()
	got := ki.rounds()
	if len(got) != 2 || got[1] != "Permission denied, please try again.|(root@t1) Password: " {
		t.Errorf("rounds shown %q", got)
	}
	if r := runExec(t, c, "echo ok"); !strings.Contains(string(r.stdout), "ok") || r.status != 0 {
		t.Errorf("exec: %q %q %d", r.stdout, r.stderr, r.status)
	}
	checkNoSecret(t, f, "wrong-one")
}

// TestPasswordMethodAtLogin: clients given a password (paramiko's
// connect(password=…), asyncssh) send it with the "password" method as
// the second step; it answers the target's prompt.
func TestPasswordMethodAtLogin(t *testing.T) {
	f := passwordOnlyFixture(t)
	c, err := f.tryDial("root@t1", gossh.PublicKeys(f.admin.Signer), gossh.Password("s3cret-pw"))
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	defer c.Close()
	if r := runExec(t, c, "echo ok"); !strings.Contains(string(r.stdout), "ok") || r.status != 0 {
		t.Errorf("exec: %q %q %d", r.stdout, r.stderr, r.status)
	}
	checkNoSecret(t, f, "s3cret-pw")
}

// TestPasswordAtLoginRefused: when every answer is wrong the login fails
// with the target's refusal as a banner line, and the failure is audited
// as the target's.
func TestPasswordAtLoginRefused(t *testing.T) {
	f := passwordOnlyFixture(t)
	ki := &kiAnswers{answers: []string{"no1", "no2", "no3", "no4", "no5", "no6"}} // 3 keyboard-interactive, 3 password
	var banner strings.Builder
	conn, err := f.tryDialBanner("root@t1", &banner, gossh.PublicKeys(f.admin.Signer), gossh.KeyboardInteractive(ki.challenge))
	if err == nil {
		conn.Close()
		t.Fatal("login with wrong passwords succeeded")
	}
	want := "jumpcast: t1 (" + f.target.Addr + "): authentication failed as root (tried keyboard-interactive"
	if !strings.Contains(banner.String(), want) {
		t.Errorf("banner %q, want %q…", banner.String(), want)
	}
	if ev := f.audit.waitEvent(t, audit.KindUpstream, audit.OutcomeError); ev.Reason != audit.ReasonUpstreamAuth {
		t.Errorf("audit %+v", ev)
	}
	checkNoSecret(t, f, "no2")
}

// TestKeyTargetNotAskedAtLogin: a target that takes the bastion's key is
// connected during the login without asking anything, and a client that
// offers only its key logs in as before.
func TestKeyTargetNotAskedAtLogin(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "root@t1")
	if r := runExec(t, c, "echo ok"); !strings.Contains(string(r.stdout), "ok") || r.status != 0 {
		t.Errorf("exec: %q %q %d", r.stdout, r.stderr, r.status)
	}
}

func (a *memAudit) all() []audit.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]audit.Event(nil), a.events...)
}

// tryDialBanner is tryDial that keeps the banners the bastion sends.
func (f *fixture) tryDialBanner(login string, banner *strings.Builder, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	return f.tryDialConfig(&gossh.ClientConfig{User: login, Auth: auth,
		BannerCallback: func(m string) error { banner.WriteString(m); return nil }})
}
