package bridge

import (
	"net/netip"
	"os"
)

// portHolder finds the listening socket of addr (or of its family's
// unspecified address, same port) in /proc/net/tcp{,6} and compares its
// uid with ours. Linux tells the uid, not the process.
func portHolder(addr netip.AddrPort) (*PortHeldError, bool) {
	uid, found := listenerUID(addr)
	if !found {
		return nil, false
	}
	h := &PortHeldError{UID: uid, Holder: HolderSameUser}
	if uid != os.Getuid() {
		h.Holder = HolderOtherUser
	}
	return h, true
}

// listenerUID: a listening socket's remote address is the unspecified
// address of its table's family, port 0.
func listenerUID(addr netip.AddrPort) (int, bool) {
	port := addr.Port()
	locals := []netip.AddrPort{addr, netip.AddrPortFrom(netip.IPv4Unspecified(), port), netip.AddrPortFrom(netip.IPv6Unspecified(), port)}
	remotes := []netip.AddrPort{netip.AddrPortFrom(netip.IPv4Unspecified(), 0), netip.AddrPortFrom(netip.IPv6Unspecified(), 0)}
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		for _, l := range locals {
			for _, r := range remotes {
				f, err := os.Open(name)
				if err != nil {
					continue
				}
				uid, found, err := parseProcNetTCP(f, l, r)
				f.Close()
				if err == nil && found {
					return uid, true
				}
			}
		}
	}
	return 0, false
}
