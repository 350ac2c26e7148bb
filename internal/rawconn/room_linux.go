package rawconn

import (
	"net"
	"syscall"
	"unsafe"
)

// SendRoom returns a function reporting whether n more bytes fit in c's
// socket send buffer now, so that a Write of n bytes will not wait for the
// peer: the bytes queued and not yet acknowledged (SIOCOUTQ) plus n are at
// most half the buffer (SO_SNDBUF; the kernel counts its own overhead
// against it too), and false on an error. Both calls are raw system calls,
// like Read and Write. c is a conn from Wrap or one with a Raw method
// giving a *net.TCPConn (a PROXY protocol conn); for any other conn
// SendRoom returns nil.
func SendRoom(c net.Conn) func(n int) bool {
	var rc syscall.RawConn
	switch v := c.(type) {
	case *conn:
		rc = v.rc
	case interface{ Raw() net.Conn }:
		tc, ok := v.Raw().(*net.TCPConn)
		if !ok {
			return nil
		}
		var err error
		if rc, err = tc.SyscallConn(); err != nil {
			return nil
		}
	default:
		return nil
	}
	return func(n int) bool {
		room := false
		err := rc.Control(func(fd uintptr) {
			var queued, size int32
			if _, _, e := syscall.RawSyscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&queued))); e != 0 {
				return
			}
			l := uint32(unsafe.Sizeof(size))
			if _, _, e := syscall.RawSyscall6(syscall.SYS_GETSOCKOPT, fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF,
				uintptr(unsafe.Pointer(&size)), uintptr(unsafe.Pointer(&l)), 0); e != 0 {
				return
			}
			room = int64(queued)+int64(n) <= int64(size)/2
		})
		return err == nil && room
	}
}
