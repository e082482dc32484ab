package bridge

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The same-user check on Windows: GetExtendedTcpTable tells which process
// owns the client's end of the connection, and that process's token tells
// its user SID and Remote Desktop session, compared with the agent's own.
// The table decoding and the decision are in peeruser_wintable.go (tested
// on every OS); what is here is only compiled by the Windows cross build
// (scripts/cross-build), never run in this project's CI.

var (
	modIPHlpAPI             = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetExtendedTCPTable = modIPHlpAPI.NewProc("GetExtendedTcpTable")
)

// TCP_TABLE_CLASS values (iprtrmib.h).
const (
	tcpTableOwnerPIDListener    = 3
	tcpTableOwnerPIDConnections = 4
)

// tcpTable calls GetExtendedTcpTable for family (AF_INET or AF_INET6) and
// class, growing the buffer while the table grows between the calls.
func tcpTable(family, class uint32) ([]byte, error) {
	if err := procGetExtendedTCPTable.Find(); err != nil {
		return nil, err
	}
	size := uint32(16 << 10)
	for range 8 {
		buf := make([]byte, size)
		r, _, _ := procGetExtendedTCPTable.Call(
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)),
			0, // unsorted
			uintptr(family), uintptr(class), 0)
		switch syscall.Errno(r) {
		case windows.ERROR_SUCCESS:
			return buf[:min(int(size), len(buf))], nil
		case windows.ERROR_INSUFFICIENT_BUFFER:
			size += 4 << 10 // it may grow again before the next call
			continue
		default:
			return nil, fmt.Errorf("GetExtendedTcpTable: %w", syscall.Errno(r))
		}
	}
	return nil, errors.New("GetExtendedTcpTable: the table keeps growing")
}

// tcpRows reads the v4 or v6 owner table of class.
func tcpRows(v6 bool, class uint32) ([]tcpOwnerRow, error) {
	family := uint32(windows.AF_INET)
	if v6 {
		family = windows.AF_INET6
	}
	b, err := tcpTable(family, class)
	if err != nil {
		return nil, err
	}
	return parseTCPOwnerTable(b, v6)
}

var (
	selfOnce sync.Once
	self     winIdentity
	selfErr  error
)

// selfIdentity is the agent's own user and session, read once.
func selfIdentity() (winIdentity, error) {
	selfOnce.Do(func() { self, selfErr = tokenIdentity(windows.GetCurrentProcessToken()) })
	return self, selfErr
}

// processIdentity opens pid's token. Another user's process cannot be
// opened by a user without administrator rights: that failure is an
// answer too ("not ours"), reported as an error the caller refuses on.
func processIdentity(pid uint32) (winIdentity, error) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return winIdentity{}, fmt.Errorf("process %d cannot be opened (another user's?): %w", pid, err)
	}
	defer windows.CloseHandle(h)
	var tok windows.Token
	if err := windows.OpenProcessToken(h, windows.TOKEN_QUERY, &tok); err != nil {
		return winIdentity{}, fmt.Errorf("the token of process %d cannot be read (another user's, or elevated?): %w", pid, err)
	}
	defer tok.Close()
	return tokenIdentity(tok)
}

func tokenIdentity(tok windows.Token) (winIdentity, error) {
	u, err := tok.GetTokenUser()
	if err != nil {
		return winIdentity{}, fmt.Errorf("token user: %w", err)
	}
	var session, n uint32
	if err := windows.GetTokenInformation(tok, windows.TokenSessionId, (*byte)(unsafe.Pointer(&session)), uint32(unsafe.Sizeof(session)), &n); err != nil {
		return winIdentity{}, fmt.Errorf("token session: %w", err)
	}
	return winIdentity{SID: u.User.Sid.String(), Session: session}, nil
}

// defaultPeerCheck is the Windows same-user check (checkPeerUser): the
// process that owns the client's socket must run as this user, in this
// session. Anything that cannot be established is a refusal.
func defaultPeerCheck(local, remote netip.AddrPort) error {
	me, err := selfIdentity()
	if err != nil {
		return fmt.Errorf("%w: the agent's own identity: %v", ErrOtherUser, err)
	}
	// An IPv4 client's socket is in the IPv4 table; a dual-stack IPv6
	// socket talking IPv4 is in the IPv6 one, with mapped addresses.
	tables := []bool{false, true}
	if !remote.Addr().Unmap().Is4() {
		tables = []bool{true}
	}
	for _, v6 := range tables {
		rows, err := tcpRows(v6, tcpTableOwnerPIDConnections)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrOtherUser, err)
		}
		if pid, ok := connectionOwner(rows, local, remote); ok {
			if pid == windows.GetCurrentProcessId() {
				return nil
			}
			peer, err := processIdentity(pid)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrOtherUser, err)
			}
			return judgeWinPeer(me, peer, pid)
		}
	}
	return fmt.Errorf("%w: client socket not found in the TCP table", ErrOtherUser)
}

// portHolder says who listens on addr, for a listen that failed.
func portHolder(addr netip.AddrPort) (*PortHeldError, bool) {
	rows, err := tcpRows(!addr.Addr().Unmap().Is4(), tcpTableOwnerPIDListener)
	if err != nil {
		return nil, false
	}
	pid, ok := listenerOwner(rows, addr)
	if !ok {
		return nil, false
	}
	h := &PortHeldError{PID: int(pid), UID: -1}
	me, err := selfIdentity()
	if err != nil {
		return nil, false
	}
	peer, err := processIdentity(pid)
	switch {
	case err != nil:
		h.Holder = HolderOtherUser
	case peer.SID != me.SID:
		h.Holder = HolderOtherUser
	case peer.Session != me.Session:
		h.Holder, h.Session = HolderOtherSession, int(peer.Session)
	default:
		h.Holder = HolderSameUser
	}
	return h, true
}
