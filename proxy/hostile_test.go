package proxy

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// Hostile input from authenticated admins: login names, environment
// variables and port forwards. Each refusal is asserted as the one line
// the admin's terminal shows. Authentication itself is in
// hostile_auth_test.go.

func TestHostileLoginNames(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	long := "root@" + strings.Repeat("a", 10<<10)
	tests := []struct{ name, login, want string }{
		{"escape sequence", "root\x1b[31m@t1", `malformed login name "root\x1b[31m@t1": contains a control character`},
		{"title escape", "root@t1\x1b]0;pwned\x07", `malformed login name "root@t1\x1b]0;pwned\a": contains a control character`},
		{"CR LF", "root@t1\r\njumpcast: fake", `malformed login name "root@t1\r\njumpcast: fake": contains a control character`},
		{"NUL", "root\x00@t1", `malformed login name "root\x00@t1": contains a control character`},
		{"DEL", "root@t1\x7f", `malformed login name "root@t1\x7f": contains a control character`},
		{"bidi override", "root\u202e@t1", `malformed login name "root\u202e@t1": contains an invisible or unassigned character`},
		{"zero width", "ro\u200bot@t1", `malformed login name "ro\u200bot@t1": contains an invisible or unassigned character`},
		{"path traversal", "root@../../etc/passwd", `malformed login name "root@../../etc/passwd": contains a slash`},
		{"backslash", `root@t1\..\x`, `malformed login name "root@t1\\..\\x": contains a slash`},
		{"dot dot host", "root@..", `malformed login name "root@..": host starts with '-' or '.'`},
		{"10 KB", long, `malformed login name "` + long[:64] + `…": longer than 256 bytes`},
		{"double at", "root@@t1", `malformed login name "root@@t1": more than one '@' or '+' (want REMOTEUSER@TARGET)`},
		{"three parts", "root@t1@t1", `malformed login name "root@t1@t1": more than one '@' or '+' (want REMOTEUSER@TARGET)`},
		{"empty user", "@t1", `malformed login name "@t1": empty remote user (want REMOTEUSER@TARGET)`},
		{"empty target", "root@", `malformed login name "root@": empty target (want REMOTEUSER@TARGET)`},
		{"lone at", "@", `malformed login name "@": empty remote user (want REMOTEUSER@TARGET)`},
		{"empty plus", "root+", `malformed login name "root+": empty target (want REMOTEUSER@TARGET)`},
		{"glob target", "root@t*", `malformed login name "root@t*": host contains '*'`},
		{"option user", "-oProxyCommand=x@t1", `malformed login name "-oProxyCommand=x@t1": remote user starts with '-'`},
		{"fullwidth digit", "root@t\uff11", `malformed login name "root@t１": host contains '１'`},
		{"v6 bracket port", "root@[::1]:22", "[::1]:22: no such target"},
		{"v6 bracket", "root@[::1]", "[::1]: no such target"},
		{"v6 bare", "root@::1", "::1: no such target"},
		{"v6 mapped v4", "root@[::ffff:127.0.0.1]:22", "[::ffff:127.0.0.1]:22: no such target"},
		{"v6 zone", "root@fe80::1%eth0", `malformed login name "root@fe80::1%eth0": invalid IPv6 address (write [v6]:port for a port)`},
		{"v6 unclosed", "root@[::1:22", `malformed login name "root@[::1:22": unclosed '[' in target`},
		{"v4 in brackets", "root@[127.0.0.1]:22", `malformed login name "root@[127.0.0.1]:22": brackets need an IPv6 address`},
		{"alias with port", "root@t1:2222", "t1:2222: no such target"},
		{"dot dot user", "..@t1", "t1: remote user .. not permitted for alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := refusal(t, f, tt.login)
			if got, want := string(r.stderr), "jumpcast: "+tt.want+"\n"; got != want {
				t.Errorf("stderr = %q\n  want %q", got, want)
			}
			if r.exit != "exit-status" || r.status != 255 || len(r.stdout) != 0 {
				t.Errorf("exit = %s %d, stdout %q; want exit-status 255 and nothing else", r.exit, r.status, r.stdout)
			}
		})
	}
	if logs := f.logs.String(); strings.ContainsAny(logs, "\x1b\x00\r\x07") || strings.Contains(logs, "\njumpcast: fake") {
		t.Error("a login name reached the log unescaped")
	}
	if n := f.rec.count(); n != 0 {
		t.Errorf("%d refused sessions were recorded", n)
	}
}

func TestHostileEnv(t *testing.T) {
	for _, allow := range [][]string{nil, {"*"}} {
		name := "default env_allow"
		if allow != nil {
			name = "env_allow *"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{config: func(c *config.Config) {
				if allow != nil {
					c.SSH.EnvAllow = allow
				}
			}})
			c := f.dial(t, "root@t1")
			s := openRaw(t, c)
			refused := []envReq{
				{"LD_PRELOAD", "/tmp/evil.so"}, {"LD_LIBRARY_PATH", "/tmp"}, {"LD_AUDIT", "/tmp/a.so"},
				{"BASH_ENV", "/tmp/rc"}, {"ENV", "/tmp/rc"}, {"BASH_FUNC_id%%", "() { echo pwned; }"},
				{"PATH", "/tmp"}, {"IFS", "/"}, {"SHELLOPTS", "xtrace"}, {"PS4", "$(id)"}, {"PROMPT_COMMAND", "id"},
				{"PYTHONSTARTUP", "/tmp/x.py"}, {"PERL5OPT", "-Mevil"}, {"NODE_OPTIONS", "--require /tmp/x"},
				{"GCONV_PATH", "/tmp"}, {"GLIBC_TUNABLES", "glibc.malloc.mxfast=x"}, {"HOME", "/tmp"},
				{"SSH_AUTH_SOCK", "/tmp/agent"}, {"SSH_ORIGINAL_COMMAND", "id"}, {"XDG_CONFIG_HOME", "/tmp"},
				{"LANG=x", "y"}, {"LC_ALL", "C\x00LD_PRELOAD=/tmp/evil.so"}, {"LC_CTYPE", strings.Repeat("x", 9000)}, {"", "x"},
			}
			if allow == nil {
				refused = append(refused, envReq{"SECRET", "x"}, envReq{"JUMPCAST_X", "y"})
			}
			for _, e := range refused {
				if s.request("env", true, e) {
					t.Errorf("env %q accepted", e.Name)
				}
			}
			accepted := map[string]string{"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "xterm", "TZ": "UTC"}
			for k, v := range accepted {
				if !s.request("env", true, envReq{k, v}) {
					t.Errorf("env %s refused", k)
				}
			}
			s.request("exec", true, execMsg{"env"})
			r := s.wait()
			got := f.target.LastEnv()
			if len(got) != len(accepted) {
				t.Errorf("the target received %v, want exactly %v", sortedNames(got), sortedNames(accepted))
			}
			for k, v := range accepted {
				if got[k] != v {
					t.Errorf("target env %s = %q, want %q", k, got[k], v)
				}
			}
			for _, line := range strings.Split(string(r.stdout), "\n") {
				for _, e := range refused {
					_, ok := accepted[e.Name]
					if e.Name != "" && !ok && e.Name != "HOME" && e.Name != "PATH" && strings.HasPrefix(line, e.Name+"=") {
						t.Errorf("the target's process has %q", line)
					}
				}
				if strings.HasPrefix(line, "PATH=/tmp") || strings.HasPrefix(line, "HOME=/tmp") {
					t.Errorf("the target's process has %q", line)
				}
			}
		})
	}
}

func sortedNames(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestHostileForwardWithoutTarget is the "ssh -J alice@bastion" path: a
// direct-tcpip channel on a connection that logged in without a target.
// The destination must be a target one of the user's rules allows port
// forwarding to; anything else is refused with the recorded way in.
func TestHostileForwardWithoutTarget(t *testing.T) {
	closed := newFixture(t, fixtureOpts{})
	c := closed.dial(t, "alice")
	if _, err := c.Dial("tcp", "t1:22"); !isProhibited(err) {
		t.Errorf("default policy: forward to t1:22: %v", err)
	}
	closed.audit.waitEvent(t, audit.KindForward, audit.OutcomeDenied)

	f := newFixture(t, fixtureOpts{config: func(c *config.Config) {
		u := c.Users["alice"]
		u.Allow[0].PortForwarding = true
		c.Users["alice"] = u
	}})
	c = f.dial(t, "alice")
	conn, err := c.Dial("tcp", "t1:22") // the alias, dialled from the bastion at its configured address
	if err != nil {
		t.Fatalf("allowed forward: %v", err)
	}
	buf := make([]byte, 4)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(buf); err != nil || string(buf) != "SSH-" {
		t.Errorf("forwarded stream starts %q (%v)", buf, err)
	}
	_ = conn.Close()
	if ev := f.audit.waitEvent(t, audit.KindForward, audit.OutcomeAllowed); ev.Detail[audit.DetailVia] != "bastion" || ev.Detail[audit.DetailDestination] != "t1:22" {
		t.Errorf("audit %+v", ev)
	}
	for _, dst := range []string{
		f.target.Addr,    // the target's real address: not an alias, no hosts rule
		"t1:2222",        // an alias with another port
		"db9:22",         // no such target
		"localhost:22",   // the bastion's own services
		"127.0.0.1:2222", // idem
		"t1\x00x:22",     // a NUL in the host
	} {
		if conn, err := c.Dial("tcp", dst); !isProhibited(err) {
			if conn != nil {
				_ = conn.Close()
			}
			t.Errorf("forward to %q: %v, want prohibited", dst, err)
		}
	}
	// A malformed login never forwards, even where the rule would allow it.
	bad := f.dial(t, "root@@t1")
	if _, err := bad.Dial("tcp", "t1:22"); !isProhibited(err) {
		t.Errorf("malformed login: %v", err)
	}
}

func isProhibited(err error) bool {
	var oe *gossh.OpenChannelError
	return errors.As(err, &oe) && oe.Reason == gossh.Prohibited && oe.Message == forwardRefused
}

// TestHostileOpenSSHJump drives the real "ssh -J alice@bastion root@t1":
// refused by default with OpenSSH's own words, and end to end (unrecorded,
// audited) where policy allows port forwarding.
func TestHostileOpenSSHJump(t *testing.T) {
	sshtest.RequireBinary(t, "ssh")
	run := func(t *testing.T, f *fixture) (string, string, int) {
		t.Helper()
		client := sshtest.NewClientConfig(t, f.admin)
		client.TrustHostKey(t, f.addr, f.hostKey)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, errOut, code, err := sshtest.Run(ctx, nil, "ssh", "-F", client.ConfigPath,
			"-J", "alice@"+f.addr, "root@t1", "echo jumped")
		if err != nil {
			t.Fatal(err)
		}
		return string(out), string(errOut), code
	}
	f := newFixture(t, fixtureOpts{})
	if _, stderr, code := run(t, f); code != 255 || !strings.Contains(stderr, "stdio forwarding failed") {
		t.Errorf("refused jump: code %d stderr %q", code, stderr)
	}
	admin := sshtest.NewKeyPair(t)
	g := newFixture(t, fixtureOpts{target: sshtest.TargetOptions{AuthorizedKeys: []gossh.PublicKey{admin.Public}}, config: func(c *config.Config) {
		u := c.Users["alice"]
		u.Keys = []string{admin.AuthorizedLine}
		u.Allow[0].PortForwarding = true
		c.Users["alice"] = u
	}})
	g.admin = admin
	out, stderr, code := run(t, g)
	if code != 0 || out != "jumped\n" {
		t.Errorf("allowed jump: code %d stdout %q stderr %q", code, out, stderr)
	}
	if ev := g.audit.waitEvent(t, audit.KindForward, audit.OutcomeAllowed); ev.User != "alice" || ev.Detail[audit.DetailDestination] != "t1:22" {
		t.Errorf("audit %+v", ev)
	}
	if n := g.rec.count(); n != 0 {
		t.Errorf("%d sessions recorded for a jump (its inner session is end-to-end encrypted)", n)
	}
}

// count returns how many sessions were started.
func (r *spyRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions)
}
