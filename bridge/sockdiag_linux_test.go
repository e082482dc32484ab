package bridge

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/eid-agent/eid-agent/internal/lab"
)

// dial connects to a fresh listener on address: the client's end c, the
// agent's end s, and the ends' addresses as the agent sees them (local:
// its end, remote: the client's).
func dial(t testing.TB, address string) (l net.Listener, c, s net.Conn, local, remote netip.AddrPort) {
	t.Helper()
	l, err := net.Listen("tcp", address)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = net.Dial("tcp", l.Addr().String()); err != nil {
		t.Fatal(err)
	}
	if s, err = l.Accept(); err != nil {
		t.Fatal(err)
	}
	local = netip.MustParseAddrPort(s.LocalAddr().String())
	remote = netip.MustParseAddrPort(s.RemoteAddr().String())
	return l, c, s, local, remote
}

// pair is dial with one function that closes everything.
func pair(t testing.TB, address string) (local, remote netip.AddrPort, closeAll func()) {
	t.Helper()
	l, c, s, local, remote := dial(t, address)
	return local, remote, func() { c.Close(); s.Close(); l.Close() }
}

// TestSockDiagPeerUID: the kernel's answer for a connection of this
// process is this uid, over IPv4 and IPv6, the same as /proc/net/tcp says;
// the agent's own end is found too (swapping the ends asks about it); a
// connection that is gone is an error, never a uid.
func TestSockDiagPeerUID(t *testing.T) {
	for _, address := range []string{"127.0.0.1:0", "[::1]:0"} {
		local, remote, closeAll := pair(t, address)
		uid, err := sockDiagPeerUID(local, remote)
		if err != nil || uid != os.Getuid() {
			t.Errorf("%s: uid %d err %v, want %d", address, uid, err, os.Getuid())
		}
		if p, err := procPeerUID(local, remote); err != nil || p != uid {
			t.Errorf("%s: /proc says %d (%v), sock_diag %d", address, p, err, uid)
		}
		if uid, err := sockDiagPeerUID(remote, local); err != nil || uid != os.Getuid() {
			t.Errorf("%s, the server's end: uid %d err %v", address, uid, err)
		}
		closeAll()
		gone := netip.AddrPortFrom(remote.Addr(), remote.Port()+1)
		if uid, err := sockDiagPeerUID(local, gone); err == nil || errors.Is(err, errNoSockDiag) {
			t.Errorf("%s: a socket nobody has: uid %d err %v", address, uid, err)
		}
	}
}

// TestSockDiagOtherUser: a client socket another user created is reported
// with that user's uid. The socket's owner is the file-system uid of the
// thread that creates it (setfsuid is per thread), so one locked thread
// plays the other user without a second process. Needs root, as CI runs.
func TestSockDiagOtherUser(t *testing.T) {
	if os.Getuid() != 0 {
		lab.Require(t, "creating another user's socket needs root (CI runs the tests as root)")
		return
	}
	const nobody = 65534
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan net.Conn, 1)
	go func() {
		runtime.LockOSThread() // the thread is thrown away when this returns
		unix.Setfsuid(nobody)
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Error(err)
		}
		done <- c
	}()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c := <-done; c != nil {
		defer c.Close()
	}
	local := netip.MustParseAddrPort(s.LocalAddr().String())
	remote := netip.MustParseAddrPort(s.RemoteAddr().String())
	if uid, err := sockDiagPeerUID(local, remote); err != nil || uid != nobody {
		t.Errorf("another user's socket: uid %d err %v, want %d", uid, err, nobody)
	}
	if uid, err := linuxPeerUID(local, remote); err != nil || uid != nobody {
		t.Errorf("linuxPeerUID: uid %d err %v", uid, err)
	}
}

// TestPeerUIDDualStack: a client whose socket is IPv6 but which connects
// to the agent's IPv4 address through a v4-mapped one (Java's default) is
// the agent's own user on both lookups (red team, 2026-12-04: sock_diag
// refused it as another user's).
func TestPeerUIDDualStack(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
		t.Fatal(err)
	}
	to := &unix.SockaddrInet6{Port: l.Addr().(*net.TCPAddr).Port, Addr: netip.MustParseAddr("::ffff:127.0.0.1").As16()}
	if err := unix.Connect(fd, to); err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	local := netip.MustParseAddrPort(s.LocalAddr().String())
	remote := netip.MustParseAddrPort(s.RemoteAddr().String())
	if uid, err := sockDiagPeerUID(local, remote); err != nil || uid != os.Getuid() {
		t.Errorf("sock_diag: uid %d err %v, want %d", uid, err, os.Getuid())
	}
	if uid, err := procPeerUID(local, remote); err != nil || uid != os.Getuid() {
		t.Errorf("/proc: uid %d err %v, want %d", uid, err, os.Getuid())
	}
}

// TestPeerUIDClosedClient: a client that closed its socket before the
// check is never taken for anyone (its time-wait socket says uid 0, which
// is root's: an agent running as root admitted other users' closed
// connections).
func TestPeerUIDClosedClient(t *testing.T) {
	for _, address := range []string{"127.0.0.1:0", "[::1]:0"} {
		l, c, s, local, remote := dial(t, address)
		c.Close()
		// The client's socket becomes a time-wait one once the agent's
		// side has acknowledged its FIN: wait for that, not for a time.
		for {
			b := make([]byte, 1)
			if _, err := s.Read(b); err != nil {
				break
			}
		}
		for name, lookup := range map[string]func(local, remote netip.AddrPort) (int, error){"sock_diag": sockDiagPeerUID, "/proc": procPeerUID} {
			if uid, err := lookup(local, remote); err == nil {
				t.Errorf("%s %s: a closed client is uid %d", address, name, uid)
			}
		}
		s.Close()
		l.Close()
	}
}

// reply builds a kernel answer for the table below.
func reply(typ uint16, seq uint32, body []byte) []byte {
	b := make([]byte, nlmsgHdrLen+len(body))
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], typ)
	ne.PutUint32(b[8:], seq)
	copy(b[nlmsgHdrLen:], body)
	return b
}

func TestParseSockDiagReply(t *testing.T) {
	src, dst := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.1")
	record := func(family uint8, sport uint16, uid uint32) []byte {
		b := make([]byte, inetDiagMsgLen)
		b[0] = family
		if family == unix.AF_INET6 {
			putSockID(b[4:], sport, 8877, as16(src), as16(dst))
		} else {
			putSockID(b[4:], sport, 8877, src, dst)
		}
		binary.NativeEndian.PutUint32(b[inetDiagUIDOffset:], uid)
		binary.NativeEndian.PutUint32(b[inetDiagUIDOffset+4:], 77400) // inode
		return b
	}
	timeWait := record(unix.AF_INET, 40000, 0)
	binary.NativeEndian.PutUint32(timeWait[inetDiagUIDOffset+4:], 0)
	v6Other := record(unix.AF_INET6, 40000, 1000)
	v6Other[4+4+15] = 2 // ::ffff:127.0.0.2
	errno := func(e unix.Errno) []byte {
		b := make([]byte, 20)
		binary.NativeEndian.PutUint32(b, uint32(-int32(e)))
		return b
	}
	for _, tc := range []struct {
		name    string
		b       []byte
		uid     int
		err     string
		fallbak bool
	}{
		{"the socket", reply(unix.SOCK_DIAG_BY_FAMILY, 1, record(unix.AF_INET, 40000, 1000)), 1000, "", false},
		{"another socket", reply(unix.SOCK_DIAG_BY_FAMILY, 1, record(unix.AF_INET, 40001, 1000)), 0, "another socket", false},
		// A dual-stack client socket (IPv6 speaking IPv4) is answered as
		// AF_INET6 with v4-mapped addresses: the same socket.
		{"dual-stack client", reply(unix.SOCK_DIAG_BY_FAMILY, 1, record(unix.AF_INET6, 40000, 1000)), 1000, "", false},
		{"dual-stack, another address", reply(unix.SOCK_DIAG_BY_FAMILY, 1, v6Other), 0, "another socket", false},
		{"another family", reply(unix.SOCK_DIAG_BY_FAMILY, 1, record(unix.AF_UNIX, 40000, 1000)), 0, "another socket", false},
		// Closed by its owner: uid 0, no inode; never taken for root's.
		{"time-wait", reply(unix.SOCK_DIAG_BY_FAMILY, 1, timeWait), 0, "already closed", false},
		{"another sequence", reply(unix.SOCK_DIAG_BY_FAMILY, 2, record(unix.AF_INET, 40000, 1000)), 0, "malformed", false},
		{"gone", reply(unix.NLMSG_ERROR, 1, errno(unix.ENOENT)), 0, "not found", false},
		{"refused", reply(unix.NLMSG_ERROR, 1, errno(unix.EPERM)), 0, "not available", true},
		{"short record", reply(unix.SOCK_DIAG_BY_FAMILY, 1, make([]byte, 10)), 0, "short", false},
		{"short", []byte{1, 2, 3}, 0, "short", false},
		{"length past the end", reply(unix.SOCK_DIAG_BY_FAMILY, 1, record(unix.AF_INET, 40000, 1000))[:40], 0, "malformed", false},
		{"other type", reply(3, 1, nil), 0, "unexpected", false},
	} {
		uid, err := parseSockDiagReply(tc.b, 1, 40000, 8877, src, dst)
		if tc.err == "" {
			if err != nil || uid != tc.uid {
				t.Errorf("%s: uid %d err %v", tc.name, uid, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) || errors.Is(err, errNoSockDiag) != tc.fallbak {
			t.Errorf("%s: uid %d err %v, want %q (fallback %v)", tc.name, uid, err, tc.err, tc.fallbak)
		}
	}
}

func FuzzParseSockDiagReply(f *testing.F) {
	f.Add(reply(unix.SOCK_DIAG_BY_FAMILY, 1, make([]byte, inetDiagMsgLen)))
	f.Add(reply(unix.NLMSG_ERROR, 1, []byte{0xfe, 0xff, 0xff, 0xff}))
	src := netip.MustParseAddr("127.0.0.1")
	f.Fuzz(func(t *testing.T, b []byte) {
		uid, err := parseSockDiagReply(b, 1, 0, 0, src, src)
		if err != nil && uid != 0 {
			t.Fatalf("uid %d with error %v", uid, err)
		}
	})
}

// BenchmarkPeerUID: one same-user lookup with 2,000 other connections on
// the machine (what a user flooding the port leaves in the socket table),
// through /proc/net/tcp (the fallback) and through sock_diag (the
// default). scripts/bench prints the ratio.
func BenchmarkPeerUID(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for range 2000 {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
	}
	local, remote, closeAll := pair(b, "127.0.0.1:0")
	defer closeAll()
	for _, bc := range []struct {
		name   string
		lookup func(local, remote netip.AddrPort) (int, error)
	}{{"proc", procPeerUID}, {"sockdiag", sockDiagPeerUID}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if uid, err := bc.lookup(local, remote); err != nil || uid != os.Getuid() {
					b.Fatal(uid, err)
				}
			}
		})
	}
}
