package cluster

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"os"
)

// MinSecretLen is the shortest secret accepted, in bytes: 32 bytes of
// `openssl rand -base64 32` output or more.
const MinSecretLen = 32

// LoadSecret reads the shared secret from path: its content without
// surrounding white space. It refuses a file that group or others may
// read, and a secret shorter than MinSecretLen.
func LoadSecret(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cluster.secret_file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("cluster.secret_file %s: readable by group or others (mode %04o); chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cluster.secret_file: %w", err)
	}
	secret := bytes.TrimSpace(data)
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("cluster.secret_file %s: the secret has %d bytes, want at least %d (openssl rand -base64 32)", path, len(secret), MinSecretLen)
	}
	return secret, nil
}

// sameSecret compares a presented secret with the cluster's in constant
// time (over their SHA-256, so that not even the length leaks).
func sameSecret(got, want []byte) bool {
	a, b := sha256.Sum256(got), sha256.Sum256(want)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
