package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/pgtest"
	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// TestPostgresNodesShareHostKeyPins: two nodes on one PostgreSQL index
// trust the same pin. Node A pins the target's key on first use; after the
// target is re-keyed, node B — which never reached it before — refuses it
// as changed. Forgetting the pin on B lets A pin the new key. B's data
// folder held a pin file from before pins lived in the index: B imported
// it at start and kept it as known_hosts.imported.
func TestPostgresNodesShareHostKeyPins(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := startPostgresE2E(t, dsn)
	b := &e2e{key: a.key, sshd: a.sshd, client: a.client, dataDir: filepath.Join(t.TempDir(), "data")}
	b.cfgPath = writeConfig(t, b.dataDir, a.key.AuthorizedLine, a.key.PrivatePath, a.sshd.Addr, a.sshd.User(),
		"store:\n  driver: postgres\n  node_id: node-b\n")
	legacy := sshtest.NewKeyPair(t)
	if err := os.MkdirAll(b.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	pinFile := filepath.Join(b.dataDir, "known_hosts")
	if err := os.WriteFile(pinFile, []byte(knownhosts.Line([]string{"127.0.0.9:2200"}, legacy.Public)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b.srv = startServer(t, b.cfgPath)
	if _, err := os.Stat(pinFile + ".imported"); err != nil {
		t.Errorf("B's pin file was not kept as known_hosts.imported: %v", err)
	}

	if _, errOut, code := a.ssh(t, "", a.login(), "true"); code != 0 {
		t.Fatalf("through A: exit %d: %s", code, errOut)
	}
	ls, errOut, code := runJumpcast(t, "", "hostkeys", "ls", "-c", b.cfgPath)
	if code != 0 {
		t.Fatalf("hostkeys ls on B: exit %d: %s", code, errOut)
	}
	for _, want := range []string{a.sshd.Addr, gossh.FingerprintSHA256(a.sshd.HostKey), "127.0.0.9:2200", gossh.FingerprintSHA256(legacy.Public)} {
		if !strings.Contains(ls, want) {
			t.Errorf("hostkeys ls on B lacks %s:\n%s", want, ls)
		}
	}

	kh, errOut, code := runJumpcast(t, "", "hostkeys", "ls", "--known-hosts", "-c", a.cfgPath)
	if want := knownhosts.Line([]string{a.sshd.Addr}, a.sshd.HostKey); code != 0 || !strings.Contains(kh, want+"\n") {
		t.Errorf("hostkeys ls --known-hosts: exit %d %q %s; want the line %q", code, kh, errOut, want)
	}

	old := a.sshd.HostKey
	a.sshd.RotateHostKey(t)
	_, errOut, code = b.ssh(t, "", b.login(), "true")
	want := "host key changed: expected " + gossh.FingerprintSHA256(old) + " got " + gossh.FingerprintSHA256(a.sshd.HostKey)
	if code != 255 || !strings.Contains(errOut, want) {
		t.Fatalf("through B after the re-key: exit %d, stderr %q; want %q", code, errOut, want)
	}

	out, errOut, code := runJumpcast(t, "", "hostkeys", "forget", a.sshd.Addr, "-c", b.cfgPath)
	if code != 0 || !strings.Contains(out, "forgot the ssh-ed25519 key "+gossh.FingerprintSHA256(old)) {
		t.Fatalf("hostkeys forget: exit %d %q %s", code, out, errOut)
	}
	if _, errOut, code := runJumpcast(t, "", "hostkeys", "forget", a.sshd.Addr, "-c", b.cfgPath); code == 0 || !strings.Contains(errOut, "no host key is pinned for "+a.sshd.Addr) {
		t.Errorf("forgetting twice: exit %d %q", code, errOut)
	}
	if _, errOut, code := a.ssh(t, "", a.login(), "true"); code != 0 {
		t.Fatalf("through A after forget: exit %d: %s", code, errOut)
	}
	if _, errOut, code := b.ssh(t, "", b.login(), "true"); code != 0 {
		t.Fatalf("through B after A pinned the new key: exit %d: %s", code, errOut)
	}
	trail := auditLines(t, a.cfgPath, "--kind", string(audit.KindHostKey))
	if strings.Count(trail, string(audit.OutcomePinned)) != 2 || strings.Count(trail, string(audit.OutcomeForgotten)) != 1 {
		t.Errorf("hostkey audit trail: want 2 pinned and 1 forgotten:\n%s", trail)
	}
}
