package hostpins

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/jumpcast/jumpcast/store"
)

func newKey(t *testing.T) gossh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestImportFile: the pin file as earlier versions wrote it (OpenSSH's
// "host" for port 22, "[host]:port" otherwise, IPv6 too) lands in the
// index under the addresses the proxy dials, once; a pin the index holds
// already with another key stays.
func TestImportFile(t *testing.T) {
	ctx := context.Background()
	ix, err := store.Open(filepath.Join(t.TempDir(), "jumpcast.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ix.Close() }()
	k1, k2, k3, k4 := newKey(t), newKey(t), newKey(t), newKey(t)
	if _, err := ix.PinHostKey(ctx, store.HostKeyPin{Addr: "db3:22", Key: k4.Marshal(), Type: k4.Type()}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "known_hosts")
	lines := knownhosts.Line([]string{"db1:22"}, k1) + "\n" + knownhosts.Line([]string{"[2001:db8::1]:2222"}, k2) + "\n" +
		"# a comment\n\n" + knownhosts.Line([]string{"db3:22"}, k3) + "\n"
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ImportFile(ctx, path, ix, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	pins := Index{Index: ix}
	for addr, want := range map[string]gossh.PublicKey{"db1:22": k1, "[2001:db8::1]:2222": k2, "db3:22": k4} {
		got, err := pins.PinnedKey(ctx, addr)
		if err != nil || got == nil || gossh.FingerprintSHA256(got) != gossh.FingerprintSHA256(want) {
			t.Errorf("pin of %s: %v, %v; want %s", addr, got, err, gossh.FingerprintSHA256(want))
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the pin file is still there: %v", err)
	}
	if _, err := os.Stat(path + ".imported"); err != nil {
		t.Errorf("the pin file was not kept: %v", err)
	}
	// Pin says whether it was this call that pinned.
	k5 := newKey(t)
	if got, created, err := pins.Pin(ctx, "db5:22", k5); err != nil || !created || gossh.FingerprintSHA256(got) != gossh.FingerprintSHA256(k5) {
		t.Errorf("first Pin: %v %v %v", got, created, err)
	}
	if got, created, err := pins.Pin(ctx, "db5:22", newKey(t)); err != nil || created || gossh.FingerprintSHA256(got) != gossh.FingerprintSHA256(k5) {
		t.Errorf("Pin of another key: %v %v %v; want the first key, not created", got, created, err)
	}
}
