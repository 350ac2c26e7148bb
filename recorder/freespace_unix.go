//go:build linux || darwin

package recorder

import (
	"fmt"
	"syscall"
)

// FreeSpace returns the bytes available to an unprivileged user on the
// file system holding the folder (statfs of the open folder).
func (d *Dir) FreeSpace() (uint64, error) {
	f, err := d.root.Open(".")
	if err != nil {
		return 0, fmt.Errorf("free space of recordings folder: %w", err)
	}
	defer func() { _ = f.Close() }()
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(int(f.Fd()), &st); err != nil {
		return 0, fmt.Errorf("free space of recordings folder: %w", err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil //nolint:unconvert // types differ by OS
}
