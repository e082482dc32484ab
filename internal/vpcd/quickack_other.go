//go:build !linux

package vpcd

import "net"

// quickAck is Linux-only (TCP_QUICKACK); elsewhere the delayed-ACK stall
// of the testing doc §5 remains.
func quickAck(net.Conn) {}
