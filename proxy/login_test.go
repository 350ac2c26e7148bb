package proxy

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseLogin(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Login
	}{
		{"alias", "root@db1", Login{RemoteUser: "root", Target: "db1", Host: "db1", HasTarget: true}},
		{"plus form", "deploy+web1", Login{RemoteUser: "deploy", Target: "web1", Host: "web1", HasTarget: true}},
		{"host and port", "root@db.internal:2222", Login{RemoteUser: "root", Target: "db.internal:2222", Host: "db.internal", Port: 2222, HasTarget: true}},
		{"ipv4", "root@10.0.0.5", Login{RemoteUser: "root", Target: "10.0.0.5", Host: "10.0.0.5", HasTarget: true}},
		{"ipv4 port", "root+10.0.0.5:22", Login{RemoteUser: "root", Target: "10.0.0.5:22", Host: "10.0.0.5", Port: 22, HasTarget: true}},
		{"v6 with port", "root@[2001:db8::5]:22", Login{RemoteUser: "root", Target: "[2001:db8::5]:22", Host: "2001:db8::5", Port: 22, HasTarget: true}},
		{"v6 brackets", "root@[::1]", Login{RemoteUser: "root", Target: "[::1]", Host: "::1", HasTarget: true}},
		{"bare v6", "root@2001:db8::5", Login{RemoteUser: "root", Target: "2001:db8::5", Host: "2001:db8::5", HasTarget: true}},
		{"no target", "alice", Login{RemoteUser: "alice"}},
		{"dotted user", "first.last@db1", Login{RemoteUser: "first.last", Target: "db1", Host: "db1", HasTarget: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLogin(tt.in)
			if err != nil {
				t.Fatalf("ParseLogin(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseLogin(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseLoginRejects(t *testing.T) {
	tests := []struct {
		name, in, reason string
	}{
		{"empty", "", "empty"},
		{"empty user", "@db1", "empty remote user"},
		{"empty target", "root@", "empty target"},
		{"double at", "root@@db1", "more than one"},
		{"at and plus", "root@db1+x", "more than one"},
		{"space", "root@db 1", "whitespace"},
		{"tab", "root\t@db1", "control character"},
		{"newline", "root@db1\n", "control character"},
		{"escape", "root@\x1b[31mdb1", "control character"},
		{"nul", "ro\x00ot@db1", "control character"},
		{"slash", "root@db1/x", "slash"},
		{"backslash", `root@db1\x`, "slash"},
		{"too long", "root@" + strings.Repeat("a", 300), "longer than 256"},
		{"port zero", "root@db1:0", "port out of range"},
		{"port big", "root@db1:65536", "port out of range"},
		{"port text", "root@db1:ssh", "invalid port"},
		{"empty port", "root@db1:", "invalid port"},
		{"bad v6", "root@2001:db8:::5:x", "invalid IPv6"},
		{"unclosed bracket", "root@[::1:22", "unclosed"},
		{"v4 in brackets", "root@[10.0.0.1]:22", "IPv6"},
		{"junk after bracket", "root@[::1]x", "after ']'"},
		{"dash host", "root@-oProxyCommand", "starts with '-'"},
		{"dash user", "-l@db1", "starts with '-'"},
		{"shell user", "ro$ot@db1", "remote user contains"},
		{"bad host char", "root@db1;rm", "host contains"},
		{"invalid utf8", "root@db\xff", "UTF-8"},
		{"unicode space", "root@db\u00a01", "whitespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLogin(tt.in)
			if err == nil {
				t.Fatalf("ParseLogin(%q) = %+v, want an error", tt.in, got)
			}
			var le *LoginError
			if !errors.As(err, &le) {
				t.Fatalf("error %T is not a *LoginError", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.reason) {
				t.Errorf("error %q does not say %q", msg, tt.reason)
			}
			if strings.ContainsAny(msg, "\n\r\x1b") {
				t.Errorf("error %q is not one safe line", msg)
			}
		})
	}
}

// FuzzParseLogin: no input panics; an accepted name has a clean remote
// user and a target that reassembles to the input; a rejected one gets a
// one-line message without raw control characters.
func FuzzParseLogin(f *testing.F) {
	for _, s := range []string{"root@db1", "deploy+web1", "root@[2001:db8::5]:22", "root@2001:db8::5", "alice", "root@@db1", "root@db1:0", "@", "+", "root@\x1b]0;x\x07"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		l, err := ParseLogin(in)
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r\x00\x1b") || !utf8.ValidString(msg) {
				t.Fatalf("unsafe error message %q", msg)
			}
			return
		}
		if l.RemoteUser == "" || strings.ContainsAny(l.RemoteUser, "@+/ \t\n") {
			t.Fatalf("bad remote user %q from %q", l.RemoteUser, in)
		}
		if !l.HasTarget {
			if l.RemoteUser != in {
				t.Fatalf("no-target login %q lost text: %+v", in, l)
			}
			return
		}
		if l.Host == "" || l.Port < 0 || l.Port > 65535 || !strings.HasSuffix(in, l.Target) {
			t.Fatalf("bad target from %q: %+v", in, l)
		}
		if in != l.RemoteUser+"@"+l.Target && in != l.RemoteUser+"+"+l.Target {
			t.Fatalf("%q does not reassemble from %+v", in, l)
		}
	})
}
