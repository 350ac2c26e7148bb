package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// KeyPair is an ed25519 key pair, in memory and written to files that the OpenSSH
// client and ssh-add accept.
type KeyPair struct {
	// Signer signs with the private key (for x/crypto clients and servers).
	Signer gossh.Signer
	// Public is Signer.PublicKey().
	Public gossh.PublicKey
	// Private is the raw private key (for agent.AddedKey and the like).
	Private ed25519.PrivateKey
	// PrivatePath is the private key in OpenSSH format, mode 0600.
	PrivatePath string
	// PublicPath is PrivatePath + ".pub", one authorized_keys line, mode 0600.
	PublicPath string
	// AuthorizedLine is the authorized_keys line without its trailing newline.
	AuthorizedLine string
}

// NewKeyPair generates an ed25519 key pair and writes it to a fresh t.TempDir().
func NewKeyPair(t testing.TB) *KeyPair {
	t.Helper()
	priv, signer, pemBlock := newEd25519(t)
	dir := t.TempDir()
	k := &KeyPair{
		Signer:      signer,
		Public:      signer.PublicKey(),
		Private:     priv,
		PrivatePath: filepath.Join(dir, "id_ed25519"),
		PublicPath:  filepath.Join(dir, "id_ed25519.pub"),
	}
	k.AuthorizedLine = authorizedLine(k.Public, "sshtest")
	writeFile(t, k.PrivatePath, pem.EncodeToMemory(pemBlock))
	writeFile(t, k.PublicPath, []byte(k.AuthorizedLine+"\n"))
	return k
}

// newEd25519 returns a fresh ed25519 signer and its private key as an OpenSSH PEM block.
func newEd25519(t testing.TB) (ed25519.PrivateKey, gossh.Signer, *pem.Block) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generate ed25519 key: %v", err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatalf("ed25519 signer: %v", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "sshtest")
	if err != nil {
		t.Fatalf("marshal ed25519 private key: %v", err)
	}
	return priv, signer, block
}

// authorizedLine is key in authorized_keys format with a comment and no newline.
func authorizedLine(key gossh.PublicKey, comment string) string {
	line := gossh.MarshalAuthorizedKey(key)
	return string(line[:len(line)-1]) + " " + comment
}

// writeFile writes data to path with mode 0600 or fails t.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatalf("chmod %s: %v", path, err)
	}
}
