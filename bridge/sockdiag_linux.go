package bridge

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// errNoSockDiag: the kernel's socket-diagnostics interface is not available
// (kernel without inet_diag, a seccomp or namespace sandbox refusing
// AF_NETLINK); the caller falls back to /proc/net/tcp.
var errNoSockDiag = errors.New("sock_diag not available")

// linuxPeerUID is the same-user lookup on Linux: one exact query to the
// kernel (sock_diag) for the client's socket, so its cost does not grow
// with the number of sockets on the machine. A user flooding the port with
// connections grew /proc/net/tcp, which the previous lookup read in full
// for every connection, and slowed every handshake (docs/daemon.md, threat
// model). /proc/net/tcp stays the fallback where sock_diag is refused.
func linuxPeerUID(local, remote netip.AddrPort) (int, error) {
	uid, err := sockDiagPeerUID(local, remote)
	if errors.Is(err, errNoSockDiag) {
		return procPeerUID(local, remote)
	}
	return uid, err
}

// Layouts from linux/inet_diag.h and linux/netlink.h (all fields in host
// order except ports and addresses, which are in network order).
const (
	nlmsgHdrLen       = 16
	inetDiagReqV2Len  = 56                         // family, protocol, ext, pad, states, sockid (48)
	inetDiagSockIDLen = 48                         // sport, dport, src[16], dst[16], if, cookie[2]
	inetDiagMsgLen    = 72                         // family, state, timer, retrans, sockid, expires, rqueue, wqueue, uid, inode
	inetDiagUIDOffset = 4 + inetDiagSockIDLen + 12 // the inode follows
	inetDiagNoCookie  = 0xFFFFFFFF
)

// sockDiagPeerUID asks the kernel for the socket whose local end is the
// client's address (remote) and whose peer is ours (local): without
// NLM_F_DUMP the kernel looks the exact four-tuple up in its hash table
// (inet_diag_find_one_icsk) instead of listing sockets. The answer's
// four-tuple is checked again here: a uid is only taken for the socket
// asked about.
func sockDiagPeerUID(local, remote netip.AddrPort) (int, error) {
	src, dst := remote.Addr().Unmap(), local.Addr().Unmap()
	family := uint8(unix.AF_INET6)
	if src.Is4() && dst.Is4() {
		family = unix.AF_INET
	} else {
		// An IPv6 socket with an IPv4 peer knows it as v4-mapped.
		src, dst = as16(src), as16(dst)
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errNoSockDiag, err)
	}
	defer unix.Close(fd)
	// A reply that never comes must not hold the accept path.
	tv := unix.Timeval{Sec: 1}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return 0, fmt.Errorf("%w: %v", errNoSockDiag, err)
	}
	const seq = 1
	req := sockDiagRequest(family, seq, remote.Port(), local.Port(), src, dst)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("%w: %v", errNoSockDiag, err)
	}
	buf := make([]byte, 8192)
	n, from, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("sock_diag: %v", err)
	}
	// Only the kernel (port 0) answers for a socket's owner.
	if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
		return 0, errors.New("sock_diag: answer not from the kernel")
	}
	return parseSockDiagReply(buf[:n], seq, remote.Port(), local.Port(), src, dst)
}

func as16(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.AddrFrom16(a.As16())
	}
	return a
}

// sockDiagRequest builds SOCK_DIAG_BY_FAMILY for one TCP socket.
func sockDiagRequest(family uint8, seq uint32, sport, dport uint16, src, dst netip.Addr) []byte {
	b := make([]byte, nlmsgHdrLen+inetDiagReqV2Len)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(b[8:], seq)
	r := b[nlmsgHdrLen:]
	r[0] = family
	r[1] = unix.IPPROTO_TCP
	ne.PutUint32(r[4:], 0xFFFFFFFF) // every state
	putSockID(r[8:], sport, dport, src, dst)
	return b
}

func putSockID(b []byte, sport, dport uint16, src, dst netip.Addr) {
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	copy(b[4:20], src.AsSlice())
	copy(b[20:36], dst.AsSlice())
	ne := binary.NativeEndian
	ne.PutUint32(b[40:], inetDiagNoCookie)
	ne.PutUint32(b[44:], inetDiagNoCookie)
}

// parseSockDiagReply reads the kernel's answer: one inet_diag_msg, or an
// error message (ENOENT: no such socket, it is already gone).
func parseSockDiagReply(b []byte, seq uint32, sport, dport uint16, src, dst netip.Addr) (int, error) {
	ne := binary.NativeEndian
	if len(b) < nlmsgHdrLen {
		return 0, errors.New("sock_diag: short reply")
	}
	n := int(ne.Uint32(b[0:]))
	typ := ne.Uint16(b[4:])
	if n < nlmsgHdrLen || n > len(b) || ne.Uint32(b[8:]) != seq {
		return 0, errors.New("sock_diag: malformed reply")
	}
	body := b[nlmsgHdrLen:n]
	switch typ {
	case unix.NLMSG_ERROR:
		if len(body) < 4 {
			return 0, errors.New("sock_diag: malformed error")
		}
		errno := -int32(ne.Uint32(body))
		if syscall.Errno(errno) == unix.ENOENT {
			return 0, errors.New("client socket not found (sock_diag)")
		}
		if errno == int32(unix.EPERM) || errno == int32(unix.EACCES) || errno == int32(unix.EOPNOTSUPP) || errno == int32(unix.EINVAL) {
			return 0, fmt.Errorf("%w: %v", errNoSockDiag, syscall.Errno(errno))
		}
		return 0, fmt.Errorf("sock_diag: %v", syscall.Errno(errno))
	case unix.SOCK_DIAG_BY_FAMILY:
	default:
		return 0, fmt.Errorf("sock_diag: unexpected message type %d", typ)
	}
	if len(body) < inetDiagMsgLen {
		return 0, errors.New("sock_diag: short socket record")
	}
	// The answer's four-tuple must be the one asked about. A dual-stack
	// client (an IPv6 socket speaking IPv4, Java's default) is found by an
	// AF_INET query and answered as AF_INET6 with v4-mapped addresses:
	// addresses are compared unmapped.
	gotFamily, id := body[0], body[4:4+inetDiagSockIDLen]
	var gotSrc, gotDst netip.Addr
	switch gotFamily {
	case unix.AF_INET:
		gotSrc, gotDst = netip.AddrFrom4([4]byte(id[4:8])), netip.AddrFrom4([4]byte(id[20:24]))
	case unix.AF_INET6:
		gotSrc, gotDst = netip.AddrFrom16([16]byte(id[4:20])).Unmap(), netip.AddrFrom16([16]byte(id[20:36])).Unmap()
	default:
		return 0, errors.New("sock_diag: the kernel answered for another socket")
	}
	if binary.BigEndian.Uint16(id[0:]) != sport || binary.BigEndian.Uint16(id[2:]) != dport ||
		gotSrc != src.Unmap() || gotDst != dst.Unmap() {
		return 0, errors.New("sock_diag: the kernel answered for another socket")
	}
	// A socket its owner has closed no longer has an owner: the kernel
	// reports a time-wait socket with uid 0 and no inode, which an agent
	// running as root would take for its own user (red team, 2026-12-04).
	// Such a connection cannot read an answer anyway.
	if ne.Uint32(body[inetDiagUIDOffset+4:]) == 0 {
		return 0, errClientClosed
	}
	return int(ne.Uint32(body[inetDiagUIDOffset:])), nil
}
