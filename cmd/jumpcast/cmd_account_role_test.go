package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// roleConfig writes a config whose only bastion user is alice.
func roleConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "jumpcast.yaml")
	cfg := fmt.Sprintf("data_dir: %q\nusers:\n  alice:\n    keys: [%q]\n", filepath.Join(dir, "data"), testPubKey)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// accountRoles runs `auditor ls` and returns each account's role.
func accountRoles(t *testing.T, cfgPath string) map[string]string {
	t.Helper()
	out, errOut, code := runJumpcast(t, "", "auditor", "ls", "-c", cfgPath)
	if code != 0 {
		t.Fatalf("auditor ls: exit %d: %s", code, errOut)
	}
	roles := map[string]string{}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || strings.Join(strings.Fields(lines[0]), " ") != "NAME ROLE CREATED" {
		t.Fatalf("auditor ls header:\n%s", out)
	}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) == 3 {
			roles[f[0]] = f[1]
		}
	}
	return roles
}

// TestAuditorAddRole runs the real binary: --role user|auditor|admin, the
// --admin alias, a warning (not a failure) for a user account that is not
// a bastion user, and exit 2 naming the flag for a bad role.
func TestAuditorAddRole(t *testing.T) {
	cfg := roleConfig(t)
	const pw = "a long enough password\n"
	for _, tc := range []struct {
		name     string
		args     []string
		wantRole string
		warn     bool
	}{
		{"user", []string{"alice", "--role", "user"}, "user", false},
		{"user not in config", []string{"bob", "--role=user"}, "user", true},
		{"default", []string{"carol"}, "auditor", false},
		{"auditor", []string{"dave", "--role", "auditor"}, "auditor", false},
		{"admin", []string{"erin", "--role", "admin"}, "admin", false},
		{"admin alias", []string{"frank", "--admin"}, "admin", false},
		{"alias and role agree", []string{"gina", "--admin", "--role", "admin"}, "admin", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runJumpcast(t, pw, append([]string{"auditor", "add", "-c", cfg}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if !strings.Contains(out, "role "+tc.wantRole) {
				t.Errorf("output does not name role %s: %q", tc.wantRole, out)
			}
			warned := strings.Contains(errOut, "warning: "+tc.args[0]+" is not a bastion user in "+cfg)
			if warned != tc.warn {
				t.Errorf("warning on stderr = %v, want %v: %q", warned, tc.warn, errOut)
			}
		})
	}
	// "jumpcast account" is the same command.
	if out, errOut, code := runJumpcast(t, pw, "account", "add", "ivy", "--role", "user", "-c", cfg); code != 0 || !strings.Contains(out, "account ivy saved (role user)") {
		t.Errorf("account add ivy: exit %d, %q %q", code, out, errOut)
	}
	roles := accountRoles(t, cfg)
	for name, want := range map[string]string{"alice": "user", "bob": "user", "carol": "auditor", "dave": "auditor", "erin": "admin", "frank": "admin", "gina": "admin", "ivy": "user"} {
		if roles[name] != want {
			t.Errorf("auditor ls: %s has role %q, want %q", name, roles[name], want)
		}
	}

	// Usage errors: exit 2, naming the flag, and no account made or changed.
	for _, args := range [][]string{
		{"henry", "--role", "bogus"},
		{"henry", "--role", "Admin"},
		{"henry", "--role", ""},
		{"alice", "--role", "root"},
		{"henry", "--admin", "--role", "user"},
	} {
		_, errOut, code := runJumpcast(t, pw, append([]string{"auditor", "add", "-c", cfg}, args...)...)
		if code != 2 || !strings.Contains(errOut, "--role") {
			t.Errorf("auditor add %v: exit %d, stderr %q; want 2 naming --role", args, code, errOut)
		}
	}
	after := accountRoles(t, cfg)
	if _, ok := after["henry"]; ok || after["alice"] != "user" {
		t.Errorf("a refused auditor add changed the accounts: %v", after)
	}
}

// TestAuditorAddPasswordRule: the CLI applies the admin page's password
// rule (replayweb.CheckNewPassword) and says it in one line: exit 1, no
// account made; 15 characters are enough, counted as characters.
func TestAuditorAddPasswordRule(t *testing.T) {
	cfg := roleConfig(t)
	for _, tc := range []struct{ pw, wantErr string }{
		{"short", "jumpcast: the password has 5 characters; it needs at least 15 (a few words make one)\n"},
		{"0123456789", "jumpcast: the password has 10 characters; it needs at least 15 (a few words make one)\n"},
		{"fourteen chars", "jumpcast: the password has 14 characters; it needs at least 15 (a few words make one)\n"},
		{strings.Repeat("x", 1025), "jumpcast: the password has 1025 bytes; at most 1024 are accepted\n"},
	} {
		out, errOut, code := runJumpcast(t, tc.pw+"\n", "auditor", "add", "henry", "-c", cfg)
		if code != 1 || errOut != tc.wantErr || out != "" {
			t.Errorf("auditor add with a %d-byte password: exit %d, stdout %q, stderr %q; want exit 1 and %q", len(tc.pw), code, out, errOut, tc.wantErr)
		}
	}
	if _, ok := accountRoles(t, cfg)["henry"]; ok {
		t.Error("an account was made with a password the rule refuses")
	}
	for name, pw := range map[string]string{"ivan": "fifteen chars!!", "judy": strings.Repeat("é", 15)} {
		if _, errOut, code := runJumpcast(t, pw+"\n", "auditor", "add", name, "-c", cfg); code != 0 {
			t.Errorf("auditor add %s with %q: exit %d %s", name, pw, code, errOut)
		}
	}
}
