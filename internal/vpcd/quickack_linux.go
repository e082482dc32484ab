package vpcd

import (
	"net"
	"syscall"
)

// quickAck puts the socket in TCP quick-ACK mode. The kernel leaves that
// mode on its own, so callers set it before every read.
func quickAck(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		// Best effort: without it the card still works, only slower.
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
