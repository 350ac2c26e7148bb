//go:build unix

package proxy

import (
	"net"
	"os"
	"syscall"
)

// socketPair returns the two ends of a connected, buffered Unix stream
// socket pair. (A net.Pipe is unbuffered: both SSH ends send their version
// line first, and would wait for each other.)
func socketPair() (net.Conn, net.Conn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "web-terminal")
		c, err := net.FileConn(f) // dups fd
		_ = f.Close()
		if err != nil {
			if i == 1 {
				_ = conns[0].Close()
			} else {
				_ = syscall.Close(fds[1])
			}
			return nil, nil, err
		}
		conns[i] = c
	}
	return conns[0], conns[1], nil
}
