//go:build !linux

package rawconn

import "net"

// HasRoom reports false: the send queue is measured on Linux only.
func HasRoom(c net.Conn, n int) bool { return false }
