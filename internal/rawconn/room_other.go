//go:build !linux

package rawconn

import "net"

// SendRoom returns nil: the send queue is measured on Linux only.
func SendRoom(c net.Conn) func(n int) bool { return nil }
