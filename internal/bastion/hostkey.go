package bastion

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/sshkey"
	"github.com/jumpcast/jumpcast/store"
)

// HostKeyPath is where the generated host key lives (and its public half,
// with ".pub" added).
func HostKeyPath(cfg *config.Config) string {
	return filepath.Join(cfg.DataDir, "ssh_host_ed25519_key")
}

// loadHostKeys reads ssh.host_keys, or the default key in the data folder,
// generating it once (ed25519, 0600) so that admins see the same host key on
// every start.
func loadHostKeys(cfg *config.Config, log *slog.Logger) ([]gossh.Signer, error) {
	paths := cfg.SSH.HostKeys
	if len(paths) == 0 {
		p := HostKeyPath(cfg)
		created, err := ensureHostKey(p)
		if err != nil {
			return nil, err
		}
		if created {
			log.Info("generated host key", "path", p)
		}
		paths = []string{p}
	}
	return readHostKeys(paths)
}

// readHostKeys reads the private host keys at paths.
func readHostKeys(paths []string) ([]gossh.Signer, error) {
	var signers []gossh.Signer
	for _, p := range paths {
		s, err := sshkey.Read(p)
		if err != nil {
			return nil, fmt.Errorf("ssh.host_keys: %w", err)
		}
		signers = append(signers, s)
	}
	return signers, nil
}

// ensureHostKey creates an ed25519 key at path unless one exists. It
// reports whether it made one.
func ensureHostKey(path string) (bool, error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("host key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return false, fmt.Errorf("generate host key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "jumpcast host key")
	if err != nil {
		return false, fmt.Errorf("encode host key: %w", err)
	}
	// O_EXCL: two processes starting at once must not both write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("write host key: %w", err)
	}
	if err := pem.Encode(f, block); err != nil {
		_ = f.Close()
		return false, fmt.Errorf("write host key: %w", err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("write host key: %w", err)
	}
	signer, err := sshkey.Read(path)
	if err != nil {
		return false, err
	}
	pub := gossh.MarshalAuthorizedKey(signer.PublicKey())
	if err := os.WriteFile(path+".pub", pub, 0o644); err != nil {
		return false, fmt.Errorf("write host key: %w", err)
	}
	return true, nil
}

// HostKeyFingerprints returns the SHA256 fingerprints of keys (as
// ssh-keygen -l prints them), sorted: the form the node registry keeps.
func HostKeyFingerprints(keys []gossh.PublicKey) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, gossh.FingerprintSHA256(k))
	}
	slices.Sort(out)
	return out
}

// ConfiguredHostKeys returns the public halves of the host keys a node
// with cfg presents, without generating one: nil when ssh.host_keys is
// empty and the data folder has no key yet.
func ConfiguredHostKeys(cfg *config.Config) ([]gossh.PublicKey, error) {
	paths := cfg.SSH.HostKeys
	if len(paths) == 0 {
		p := HostKeyPath(cfg)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		paths = []string{p}
	}
	signers, err := readHostKeys(paths)
	keys := make([]gossh.PublicKey, 0, len(signers))
	for _, s := range signers {
		keys = append(keys, s.PublicKey())
	}
	return keys, err
}

// OtherHostKeys returns the registered nodes, other than self, whose host
// keys differ from fingerprints (HostKeyFingerprints' form). Nodes
// registered without keys (by an older jumpcast) are not compared. Behind
// one balancer every node must present the same keys, or admins see a
// changed host key when their next connection lands elsewhere.
func OtherHostKeys(self string, fingerprints []string, nodes []store.Node) []store.Node {
	var out []store.Node
	for _, n := range nodes {
		if n.ID != self && n.HostKeys != nil && !slices.Equal(n.HostKeys, fingerprints) {
			out = append(out, n)
		}
	}
	return out
}
