package bastion

import (
	"fmt"
	"os"
)

// openDataDir creates the data folder (0700) when it is missing, and
// refuses one that other local users could read, change or own, as OpenSSH
// refuses a writable home or an unprotected private key. The folder holds
// the bastion's private host key, the index of who did what where, and the
// admin socket, whose 0600 mode is set only once it exists: a folder open
// to others leaks or exposes all three.
//
// It refuses rather than tightens: the folder may be shared with things
// that are not jumpcast's (data_dir: .), and a folder others could write
// may already hold what they put there. Every documented way to run
// jumpcast makes it 0700 (the default ./data, the systemd unit's
// StateDirectoryMode, the container image), so only a folder made by hand
// is refused, with the command that fixes it.
func openDataDir(path string) error {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data_dir %s is not a folder", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("data_dir %s has mode %04o: other local users could read or change the index, the host key and the admin socket; make it private: chmod 700 %s", path, perm, path)
	}
	if uid, ok := ownerOf(fi); ok && uid != os.Geteuid() && uid != 0 {
		return fmt.Errorf("data_dir %s belongs to user %d, not to the user jumpcast runs as (%d) or root: that user could change it; chown %d %s", path, uid, os.Geteuid(), os.Geteuid(), path)
	}
	return nil
}
