package sshkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// TestReadErrorsSayOneThing: whatever is wrong with a key file, the error
// is "private key PATH: WHAT", naming the path once.
func TestReadErrorsSayOneThing(t *testing.T) {
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	locked, err := gossh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", pem.EncodeToMemory(plain))
	if _, err := Read(good); err != nil {
		t.Fatalf("a good key: %v", err)
	}
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing", missing, "private key " + missing + ": no such file or directory"},
		{"a folder", dir, "private key " + dir + ": is a directory"},
		{"encrypted", write("locked", pem.EncodeToMemory(locked)), "private key " + filepath.Join(dir, "locked") + ": encrypted keys are not supported"},
		{"not a key", write("junk", []byte("hello\n")), "private key " + filepath.Join(dir, "junk") + ": ssh: no key found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(tc.path)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Read: %v\nwant: %s", err, tc.want)
			}
			if _, errAll := ReadAll([]string{good, tc.path}); errAll == nil || errAll.Error() != tc.want {
				t.Errorf("ReadAll: %v\nwant: %s", errAll, tc.want)
			}
		})
	}
	if _, err := Read(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file is not fs.ErrNotExist: %v", err)
	}
}
