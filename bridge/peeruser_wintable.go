package bridge

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// The Windows same-user check (peeruser_windows.go) in pure Go, so that it
// is tested on every OS: the layout of the tables GetExtendedTcpTable
// fills, finding a socket's owning process in them, and the decision.
// Only the system calls stay in the Windows file.

// Row sizes and layout of the TCP_TABLE_OWNER_PID_* tables (iphlpapi.h,
// tcpmib.h): a DWORD row count, then the rows, all DWORD-aligned.
//
//	MIB_TCPROW_OWNER_PID  (24 bytes): dwState, dwLocalAddr, dwLocalPort,
//	    dwRemoteAddr, dwRemotePort, dwOwningPid
//	MIB_TCP6ROW_OWNER_PID (56 bytes): ucLocalAddr[16], dwLocalScopeId,
//	    dwLocalPort, ucRemoteAddr[16], dwRemoteScopeId, dwRemotePort,
//	    dwState, dwOwningPid
//
// Addresses are in network byte order (the bytes as written), ports in
// the low 16 bits of their DWORD in network byte order, the other DWORDs
// in the machine's (little-endian) order.
const (
	tcpRow4Size = 24
	tcpRow6Size = 56
	// mibTCPStateListen is MIB_TCP_STATE_LISTEN.
	mibTCPStateListen = 2
)

// tcpOwnerRow is one socket of a TCP owner-PID table.
type tcpOwnerRow struct {
	Local, Remote netip.AddrPort
	State         uint32
	PID           uint32
}

// parseTCPOwnerTable decodes a MIB_TCPTABLE_OWNER_PID (v6 false) or
// MIB_TCP6TABLE_OWNER_PID (v6 true) as GetExtendedTcpTable wrote it.
// A table shorter than its row count says is refused, not half read.
func parseTCPOwnerTable(b []byte, v6 bool) ([]tcpOwnerRow, error) {
	if len(b) < 4 {
		return nil, errors.New("TCP table: shorter than its row count")
	}
	n := int(binary.LittleEndian.Uint32(b))
	size := tcpRow4Size
	if v6 {
		size = tcpRow6Size
	}
	if n > (len(b)-4)/size {
		return nil, fmt.Errorf("TCP table: %d rows announced, room for %d", n, (len(b)-4)/size)
	}
	rows := make([]tcpOwnerRow, n)
	for i := range rows {
		r := b[4+i*size : 4+(i+1)*size]
		if v6 {
			rows[i] = tcpOwnerRow{
				Local:  netip.AddrPortFrom(netip.AddrFrom16([16]byte(r[0:16])), tablePort(r[20:24])),
				Remote: netip.AddrPortFrom(netip.AddrFrom16([16]byte(r[24:40])), tablePort(r[44:48])),
				State:  binary.LittleEndian.Uint32(r[48:52]),
				PID:    binary.LittleEndian.Uint32(r[52:56]),
			}
			continue
		}
		rows[i] = tcpOwnerRow{
			State:  binary.LittleEndian.Uint32(r[0:4]),
			Local:  netip.AddrPortFrom(netip.AddrFrom4([4]byte(r[4:8])), tablePort(r[8:12])),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte(r[12:16])), tablePort(r[16:20])),
			PID:    binary.LittleEndian.Uint32(r[20:24]),
		}
	}
	return rows, nil
}

// tablePort: the port is the first two bytes of its DWORD, big-endian.
func tablePort(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

// connectionOwner finds the process owning the client's end of the
// connection local (ours) <- remote (the client's): the row whose local
// address is the client's and whose remote address is ours. Both ends of
// a loopback connection are in the table; the agent's own row has them
// the other way round.
func connectionOwner(rows []tcpOwnerRow, local, remote netip.AddrPort) (pid uint32, found bool) {
	for _, r := range rows {
		if r.State != mibTCPStateListen && sameAP(r.Local, remote) && sameAP(r.Remote, local) {
			return r.PID, true
		}
	}
	return 0, false
}

// listenerOwner finds the process listening on addr, exactly or on the
// unspecified address of its family with the same port (which also keeps
// addr's port from being bound).
func listenerOwner(rows []tcpOwnerRow, addr netip.AddrPort) (pid uint32, found bool) {
	for _, r := range rows {
		if r.State != mibTCPStateListen || r.Local.Port() != addr.Port() {
			continue
		}
		if a := r.Local.Addr().Unmap(); a == addr.Addr().Unmap() || a.IsUnspecified() {
			return r.PID, true
		}
	}
	return 0, false
}

// winIdentity is who a Windows process runs as: its token's user SID and
// its Remote Desktop session.
type winIdentity struct {
	SID     string // S-1-5-21-...
	Session uint32
}

// judgeWinPeer is the decision of the Windows check: the client process
// must run as the agent's user in the agent's session. Another session
// of the same user is refused too: on a terminal server it has its own
// redirected readers, its own desktop for the PIN dialog and its own
// agent, and must not be served this session's card.
func judgeWinPeer(self, peer winIdentity, pid uint32) error {
	switch {
	case peer.SID != self.SID:
		return fmt.Errorf("%w: process %d runs as %s", ErrOtherUser, pid, peer.SID)
	case peer.Session != self.Session:
		return fmt.Errorf("%w: process %d is in session %d, the agent in session %d", ErrOtherUser, pid, peer.Session, self.Session)
	}
	return nil
}
