//go:build !linux

package bridge

import "net/netip"

// linuxPeerUID is only used on Linux (sockdiag_linux.go).
func linuxPeerUID(local, remote netip.AddrPort) (int, error) { return procPeerUID(local, remote) }
