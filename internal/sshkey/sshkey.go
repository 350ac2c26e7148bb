// Package sshkey reads the private keys a config file names: the bastion's
// host keys (ssh.host_keys), its upstream identities
// (upstream.identity_files) and each target's own
// (targets.NAME.identity_files). It is the one loader for all of them, so
// an unusable key file is reported one way wherever it is named.
//
// It imports nothing of ours.
package sshkey

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	gossh "golang.org/x/crypto/ssh"
)

// Read reads an unencrypted private key (OpenSSH or PEM format) from path.
// A key protected by a passphrase is an error: the bastion runs unattended
// and cannot ask for one.
//
// Every error reads "private key PATH: WHAT", e.g.
// "private key /etc/jumpcast/id: no such file or directory"; callers put
// the config key in front. A missing file still matches fs.ErrNotExist.
func Read(path string) (gossh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is named once, below
		}
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	s, err := gossh.ParsePrivateKey(data)
	if err != nil {
		var pm *gossh.PassphraseMissingError
		if errors.As(err, &pm) {
			err = errEncrypted
		}
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return s, nil
}

// ReadAll reads every key in paths, in order, and stops at the first that
// cannot be used.
func ReadAll(paths []string) ([]gossh.Signer, error) {
	out := make([]gossh.Signer, 0, len(paths))
	for _, p := range paths {
		s, err := Read(p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// errEncrypted is the reason given for a key that has a passphrase.
var errEncrypted = errors.New("encrypted keys are not supported")
