package proxy

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	"github.com/jumpcast/jumpcast/store"
	gossh "golang.org/x/crypto/ssh"
)

// refusal runs "exec true" as login and returns what the admin saw.
func refusal(t *testing.T, f *fixture, login string) result {
	t.Helper()
	c := f.dial(t, login)
	s := openRaw(t, c)
	s.request("exec", true, execMsg{"true"})
	return s.wait()
}

func TestAdminErrors(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tests := []struct {
		name, login, want string
		reason            audit.Reason
	}{
		{"malformed login", "root@@t1", `jumpcast: malformed login name "root@@t1": more than one '@' or '+' (want REMOTEUSER@TARGET)`, audit.ReasonBadLogin},
		{"unknown target", "root@db9", "jumpcast: db9: no such target", ""},
		{"remote user not permitted", "postgres@t1", "jumpcast: t1: remote user postgres not permitted for alice", ""},
		{"raw host not permitted", "root@127.0.0.1", "jumpcast: 127.0.0.1: no such target", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := refusal(t, f, tt.login)
			if got := string(r.stderr); got != tt.want+"\n" {
				t.Errorf("stderr = %q, want %q", got, tt.want+"\n")
			}
			if r.exit != "exit-status" || r.status != 255 {
				t.Errorf("exit = %s %d, want exit-status 255", r.exit, r.status)
			}
		})
	}
	if ev := f.audit.find(audit.KindPolicy, audit.OutcomeDenied); len(ev) < 3 {
		t.Errorf("policy denials audited: %d, want 3", len(ev))
	}
	if ev := f.audit.find(audit.KindSession, audit.OutcomeDenied); len(ev) != 1 || ev[0].Reason != audit.ReasonBadLogin {
		t.Errorf("bad login audit = %+v", ev)
	}
	if !strings.Contains(f.logs.String(), "decision=denied reason=\"remote user postgres not permitted\"") {
		t.Errorf("no denial log line:\n%s", f.logs.String())
	}
}

func TestTargetUnreachable(t *testing.T) {
	f := newFixture(t, fixtureOpts{noTarget: true})
	r := refusal(t, f, "root@t1")
	addr := f.cfg.Targets["t1"].Address
	if want := "jumpcast: t1 (" + addr + "): connection refused\n"; string(r.stderr) != want || r.status != 255 {
		t.Errorf("stderr = %q status %d, want %q 255", r.stderr, r.status, want)
	}
	if ev := f.audit.waitEvent(t, audit.KindUpstream, audit.OutcomeError); ev.Reason != audit.ReasonUnreachable {
		t.Errorf("audit = %+v", ev)
	}
}

func TestTargetDNSFailure(t *testing.T) {
	f := newFixture(t, fixtureOpts{noTarget: true, config: func(c *config.Config) {
		c.Targets["t1"] = config.Target{Address: "no-such-host.invalid:22"}
	}})
	r := refusal(t, f, "root@t1")
	if want := "jumpcast: t1 (no-such-host.invalid:22): no such host\n"; string(r.stderr) != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
}

var fpRE = `SHA256:[A-Za-z0-9+/]{43}`

func TestHostKeyChangedConfigured(t *testing.T) {
	other := sshtest.NewKeyPair(t)
	f := newFixture(t, fixtureOpts{config: func(c *config.Config) {
		tg := c.Targets["t1"]
		tg.HostKeys = []string{other.AuthorizedLine}
		c.Targets["t1"] = tg
	}})
	r := refusal(t, f, "root@t1")
	want := regexp.MustCompile(`^jumpcast: t1 \(127\.0\.0\.1:\d+\): host key changed: expected ` + fpRE + ` got ` + fpRE + "\n$")
	if !want.Match(r.stderr) || r.status != 255 {
		t.Fatalf("stderr = %q (status %d)", r.stderr, r.status)
	}
	if !strings.Contains(string(r.stderr), gossh.FingerprintSHA256(other.Public)) ||
		!strings.Contains(string(r.stderr), gossh.FingerprintSHA256(f.target.HostKey)) {
		t.Errorf("message lacks one of the fingerprints: %q", r.stderr)
	}
}

func TestTOFUPinsThenRefusesAnotherKey(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	ctx := context.Background()
	if r := refusal(t, f, "root@t1"); r.status != 0 {
		t.Fatalf("first connection: status %d, stderr %q", r.status, r.stderr)
	}
	pin, err := f.pins.HostKeyPin(ctx, f.target.Addr)
	if err != nil || !bytes.Equal(pin.Key, f.target.HostKey.Marshal()) || pin.Type != f.target.HostKey.Type() {
		t.Fatalf("pin in the index: %+v, %v", pin, err)
	}
	if n := len(f.audit.find(audit.KindHostKey, audit.OutcomePinned)); n != 1 {
		t.Errorf("%d hostkey events after the first connection, want 1 (pinned)", n)
	}
	if r := refusal(t, f, "root@t1"); r.status != 0 {
		t.Fatalf("second connection: status %d, stderr %q", r.status, r.stderr)
	}
	if n := len(f.audit.find(audit.KindHostKey, audit.OutcomePinned)); n != 1 {
		t.Errorf("%d hostkey events after a second connection, want still 1", n)
	}
	// The target "changes" its key: another node pinned another one first.
	other := sshtest.NewKeyPair(t)
	if _, err := f.pins.DeleteHostKeyPin(ctx, f.target.Addr); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pins.PinHostKey(ctx, store.HostKeyPin{Addr: f.target.Addr, Key: other.Public.Marshal(), Type: other.Public.Type()}); err != nil {
		t.Fatal(err)
	}
	r := refusal(t, f, "root@t1")
	want := "jumpcast: t1 (" + f.target.Addr + "): host key changed: expected " + gossh.FingerprintSHA256(other.Public) +
		" got " + gossh.FingerprintSHA256(f.target.HostKey) + "\n"
	if string(r.stderr) != want || r.status != 255 {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
}

// TestPinsUnavailableRefuses: when the index that holds the pins does not
// answer, the key cannot be checked and the target is not reached.
func TestPinsUnavailableRefuses(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	if err := f.pins.Close(); err != nil {
		t.Fatal(err)
	}
	r := refusal(t, f, "root@t1")
	want := "jumpcast: t1 (" + f.target.Addr + "): cannot check its host key: index unavailable\n"
	if string(r.stderr) != want || r.status != 255 {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
}

func TestStrictRefusesUnknownHost(t *testing.T) {
	f := newFixture(t, fixtureOpts{config: func(c *config.Config) { c.Upstream.HostKeyPolicy = config.HostKeyStrict }})
	r := refusal(t, f, "root@t1")
	if !strings.Contains(string(r.stderr), "host key "+gossh.FingerprintSHA256(f.target.HostKey)+" is not known (host_key_policy is strict)") {
		t.Errorf("stderr = %q", r.stderr)
	}
	if pins, err := f.pins.HostKeyPins(context.Background()); err != nil || len(pins) != 0 {
		t.Errorf("strict mode pinned a key: %+v, %v", pins, err)
	}
}

func TestUpstreamAuthFailedNamesMethods(t *testing.T) {
	f := newFixture(t, fixtureOpts{noIDs: true})
	r := refusal(t, f, "root@t1")
	want := "jumpcast: t1 (" + f.target.Addr + "): authentication failed as root (tried none); password prompts need a terminal (ssh -t)\n"
	if string(r.stderr) != want || r.status != 255 {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
}

func TestWhoami(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "alice")
	s := openRaw(t, c)
	s.request("shell", true, nil)
	r := s.wait()
	out := string(r.stdout)
	for _, want := range []string{"you are alice (key " + gossh.FingerprintSHA256(f.admin.Public) + ")", "t1 (" + f.target.Addr + ") as root, deploy"} {
		if !strings.Contains(out, want) {
			t.Errorf("whoami output lacks %q:\n%s", want, out)
		}
	}
	if r.exit != "exit-status" || r.status != 0 {
		t.Errorf("exit = %s %d, want 0", r.exit, r.status)
	}
}

func TestDirectTCPIPRefusedByDefault(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "root@t1")
	_, err := c.Dial("tcp", "127.0.0.1:22")
	if err == nil || !strings.Contains(err.Error(), "administratively prohibited") || !strings.Contains(err.Error(), forwardRefused) {
		t.Errorf("forward: %v", err)
	}
	f.audit.waitEvent(t, audit.KindForward, audit.OutcomeDenied)
}

func TestDirectTCPIPAllowedThroughTarget(t *testing.T) {
	f := newFixture(t, fixtureOpts{target: sshtest.TargetOptions{AllowDirectTCPIP: true}, config: func(c *config.Config) {
		u := c.Users["alice"]
		u.Allow[0].PortForwarding = true
		c.Users["alice"] = u
	}})
	c := f.dial(t, "root@t1")
	// Forward to the target's own SSH port, dialled from the target.
	conn, err := c.Dial("tcp", f.target.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 8)
	if _, err := conn.Read(buf); err != nil || string(buf[:4]) != "SSH-" {
		t.Errorf("forwarded stream starts %q (%v), want an SSH banner", buf, err)
	}
	ev := f.audit.waitEvent(t, audit.KindForward, audit.OutcomeAllowed)
	if ev.Detail[audit.DetailDestination] != f.target.Addr {
		t.Errorf("forward audit = %+v", ev)
	}
}
