//go:build unix

package bastion

import (
	"io/fs"
	"syscall"
)

// ownerOf returns the user id that owns fi's file.
func ownerOf(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
