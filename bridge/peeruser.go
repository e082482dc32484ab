package bridge

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// ErrOtherUser: the connection belongs to another OS user (terminal
// servers share one loopback between all sessions).
var ErrOtherUser = errors.New("connection from another user")

// errClientClosed: the client's socket was closed before its owner could
// be checked; the connection is refused (as another user's would be).
var errClientClosed = errors.New("client socket already closed")

// checkPeerUser refuses connections whose client socket belongs to another
// OS user. local is our end, remote the client's.
func (s *Server) checkPeerUser(local, remote netip.AddrPort) error {
	lookup := s.cfg.peerUID
	if lookup == nil {
		if runtime.GOOS != "linux" {
			// Windows: peeruser_windows.go; macOS: peeruser_other.go.
			return defaultPeerCheck(local, remote)
		}
		lookup = linuxPeerUID
	}
	uid, err := lookup(local, remote)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrOtherUser, err)
	}
	if uid != os.Getuid() {
		return fmt.Errorf("%w: uid %d", ErrOtherUser, uid)
	}
	return nil
}

// procPeerUID finds the uid owning the client's socket (the fallback where
// sock_diag is refused, sockdiag_linux.go): in /proc/net/tcp
// (or tcp6) it is the entry whose local address is the client's and whose
// remote address is ours.
func procPeerUID(local, remote netip.AddrPort) (int, error) {
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		uid, found, err := parseProcNetTCP(f, remote, local)
		f.Close()
		if err != nil {
			return 0, err
		}
		if found {
			return uid, nil
		}
	}
	return 0, errors.New("client socket not found in /proc/net/tcp{,6}")
}

// parseProcNetTCP scans a /proc/net/tcp or tcp6 table for the socket
// local -> remote and returns its uid. Lines look like
//
//	sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid ...
//	 0: 0100007F:1F90 0100007F:A2C4 01 00000000:00000000 00:00000000 00000000  1000 ...
//
// Addresses are hex in the kernel's byte order (32-bit words in host
// order), ports big-endian hex. IPv4 peers of an IPv6 socket appear as
// v4-mapped addresses, so both forms are compared unmapped.
func parseProcNetTCP(r io.Reader, local, remote netip.AddrPort) (uid int, found bool, err error) {
	// The table can hold thousands of sockets (TIME_WAIT included) and is
	// read for every connection: lines are checked in place, without
	// allocating, and only a line whose ports match is parsed in full.
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue // header
		}
		line := sc.Bytes()
		_, rest := nextField(line)  // "sl:"
		f1, rest := nextField(rest) // local_address
		f2, rest := nextField(rest) // rem_address
		if len(f1) == 0 && len(f2) == 0 {
			continue // blank line
		}
		lp, ok1 := hexAddrPortShape(f1)
		rp, ok2 := hexAddrPortShape(f2)
		if !ok1 || !ok2 {
			return 0, false, fmt.Errorf("malformed /proc/net/tcp line %q", line)
		}
		if lp != local.Port() || rp != remote.Port() {
			continue
		}
		l, err1 := parseHexAddrPort(string(f1))
		rm, err2 := parseHexAddrPort(string(f2))
		if err1 != nil || err2 != nil {
			return 0, false, fmt.Errorf("malformed /proc/net/tcp line %q", line)
		}
		if !sameAP(l, local) || !sameAP(rm, remote) {
			continue
		}
		fields := strings.Fields(string(rest))
		if len(fields) < 5 {
			return 0, false, fmt.Errorf("malformed /proc/net/tcp line %q", line)
		}
		u, err := strconv.Atoi(fields[4])
		if err != nil {
			return 0, false, fmt.Errorf("malformed uid %q", fields[4])
		}
		// A time-wait socket (its owner closed it) shows uid 0 and inode
		// 0: it has no owner to compare (sockdiag_linux.go).
		if len(fields) > 6 && fields[6] == "0" {
			return 0, false, errClientClosed
		}
		return u, true, nil
	}
	return 0, false, sc.Err()
}

// nextField returns the first space-separated field of b and what follows.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' {
		j++
	}
	return b[i:j], b[j:]
}

// hexAddrPortShape checks "HEX{8|32}:HEX{4}" and returns the port.
func hexAddrPortShape(b []byte) (port uint16, ok bool) {
	colon := -1
	for i, c := range b {
		if c == ':' {
			colon = i
			break
		}
		if !isHex(c) {
			return 0, false
		}
	}
	if (colon != 8 && colon != 32) || len(b)-colon-1 != 4 {
		return 0, false
	}
	for _, c := range b[colon+1:] {
		if !isHex(c) {
			return 0, false
		}
		port = port<<4 | uint16(hexVal(c))
	}
	return port, true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' || 'a' <= c && c <= 'f' }

func hexVal(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func sameAP(a, b netip.AddrPort) bool {
	return a.Port() == b.Port() && a.Addr().Unmap() == b.Addr().Unmap()
}

func parseHexAddrPort(s string) (netip.AddrPort, error) {
	hostHex, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, errors.New("no port")
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	raw, err := hex.DecodeString(hostHex)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, errors.New("bad address")
	}
	// Each 32-bit word was printed as a host-order integer: undo it.
	out := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		w := binary.BigEndian.Uint32(raw[i:])
		binary.NativeEndian.PutUint32(out[i:], w)
	}
	a, _ := netip.AddrFromSlice(out)
	return netip.AddrPortFrom(a, uint16(port)), nil
}
