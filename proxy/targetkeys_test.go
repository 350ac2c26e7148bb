package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// TestTargetKeyFilesReadAtLoadAndReload: a target's identity_files are
// read when the config is loaded and again at each reload, never when
// dialing. A key file changed on disk is used only after a reload, and a
// key file removed after loading still logs in.
func TestTargetKeyFilesReadAtLoadAndReload(t *testing.T) {
	accepted, other := sshtest.NewKeyPair(t), sshtest.NewKeyPair(t)
	keyFile := filepath.Join(t.TempDir(), "t1_key")
	put := func(k *sshtest.KeyPair) {
		t.Helper()
		data, err := os.ReadFile(k.PrivatePath)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	put(other) // a key the target refuses
	f := newFixture(t, fixtureOpts{noIDs: true,
		target: sshtest.TargetOptions{AuthorizedKeys: []gossh.PublicKey{accepted.Public}},
		config: func(c *config.Config) {
			c.Upstream.ReuseIdle = 0 // every session dials
			c.Upstream.PasswordAuth = false
			t1 := c.Targets["t1"]
			t1.IdentityFiles = []string{keyFile}
			c.Targets["t1"] = t1
		}})
	loggedIn := func() bool {
		t.Helper()
		r := f.execOnce(t, "root@t1", "true")
		if r.status != 0 && !strings.Contains(string(r.stderr), "authentication failed") {
			t.Fatalf("session: status %d, stderr %q", r.status, r.stderr)
		}
		return r.status == 0
	}
	if loggedIn() {
		t.Fatal("logged in with a key the target refuses")
	}
	put(accepted)
	if loggedIn() {
		t.Error("a dial read the changed key file; only a reload may")
	}
	if err := f.srv.Reload(f.cfg); err != nil {
		t.Fatal(err)
	}
	if !loggedIn() {
		t.Error("after a reload the changed key file is not used")
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if !loggedIn() {
		t.Error("a dial read the key file again: removing it after the reload broke the login")
	}
	if err := f.srv.Reload(f.cfg); err != nil {
		t.Fatal(err)
	}
	if loggedIn() {
		t.Error("logged in with a key file that was removed before the reload")
	}
	if want := "private key " + keyFile + ": no such file or directory"; !strings.Contains(f.logs.String(), want) {
		t.Errorf("the reload did not log %q:\n%s", want, f.logs.String())
	}
}
