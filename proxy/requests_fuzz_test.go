package proxy

import (
	"path"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// FuzzKindOf: any start request (type and raw payload) is classified as
// shell, exec, sftp or another subsystem, or refused; only the subsystem
// named exactly "sftp" is labelled sftp; the command is exactly what the
// client sent.
func FuzzKindOf(f *testing.F) {
	for _, s := range []struct{ typ, cmd string }{
		{"shell", ""}, {"exec", "uname -a"}, {"subsystem", "sftp"}, {"subsystem", "/usr/lib/openssh/sftp-server"},
		{"subsystem", "x/sftp"}, {"subsystem", "../sftp"}, {"subsystem", "SFTP"}, {"subsystem", "sftp\x00"},
		{"exec", "sftp"}, {"exec", "scp -t /tmp"}, {"subsystem", "netconf"}, {"pty-req", "xterm"}, {"x11-req", ""},
	} {
		f.Add(s.typ, s.cmd, gossh.Marshal(stringReq{s.cmd}))
	}
	f.Add("exec", "", []byte{0, 0, 0, 9, 'a'}) // length past the end
	f.Add("subsystem", "", []byte{0xff, 0xff}) // short
	f.Fuzz(func(t *testing.T, typ, cmd string, payload []byte) {
		for _, p := range [][]byte{payload, gossh.Marshal(stringReq{cmd})} {
			kind, command, ok := kindOf(&gossh.Request{Type: typ, Payload: p})
			var sent stringReq
			decoded := gossh.Unmarshal(p, &sent) == nil
			switch {
			case !ok:
				if typ == "shell" || (typ == "exec" || typ == "subsystem") && decoded {
					t.Fatalf("%s %q refused", typ, p)
				}
			case typ == "shell":
				if kind != "shell" || command != "" {
					t.Fatalf("shell classified %s %q", kind, command)
				}
			case typ == "exec":
				if kind != "exec" || !decoded || command != sent.Value {
					t.Fatalf("exec %q classified %s %q", p, kind, command)
				}
			case typ == "subsystem":
				want := "subsystem"
				if sent.Value == "sftp" {
					want = "sftp"
				}
				if kind != want || !decoded || command != sent.Value {
					t.Fatalf("subsystem %q classified %s %q, want %s", sent.Value, kind, command, want)
				}
			default:
				t.Fatalf("request %q started a session as %s", typ, kind)
			}
		}
	})
}

// FuzzEnvAllowed: whatever ssh.env_allow says (even "*"), no loader,
// shell-startup or identity variable reaches the target, nor a name with
// '=' or NUL, nor an oversized value; the default list is a subset of "*".
func FuzzEnvAllowed(f *testing.F) {
	for _, n := range []string{"LANG", "LC_ALL", "TERM", "LD_PRELOAD", "BASH_FUNC_x%%", "PATH", "A=B", "LC_\x00", "PYTHONPATH", "ld_preload", "SSH_AUTH_SOCK", "TZ"} {
		f.Add(n, "v")
	}
	defaults := []string{"LANG", "LC_*", "TERM", "TZ", "COLORTERM"}
	f.Fuzz(func(t *testing.T, name, value string) {
		all := envAllowed([]string{"*"}, name, value)
		if envAllowed(defaults, name, value) && !all {
			t.Fatalf("%q allowed by the defaults but not by *", name)
		}
		if !all {
			return
		}
		if name == "" || strings.ContainsAny(name, "=\x00") || strings.ContainsRune(value, 0) || len(value) > 8192 || len(name) > 256 {
			t.Fatalf("env %q=%q allowed", name, value)
		}
		for _, g := range alwaysRefusedEnv {
			if ok, _ := path.Match(g, name); ok {
				t.Fatalf("env %q allowed although %q is always refused", name, g)
			}
		}
		for _, p := range []string{"LD_", "DYLD_", "BASH_FUNC_", "PYTHON", "MALLOC_", "SSH_", "XDG_"} {
			if strings.HasPrefix(name, p) {
				t.Fatalf("env %q allowed", name)
			}
		}
	})
}
