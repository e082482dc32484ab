//go:build !linux && !windows

package bridge

import "net/netip"

// portHolder: macOS and the BSDs are not looked at (proc_pidfdinfo would
// tell); a failed listen keeps its own error there.
func portHolder(netip.AddrPort) (*PortHeldError, bool) { return nil, false }
