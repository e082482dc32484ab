package bridge

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// ListeningSocket is a TCP socket in the LISTEN state and its owner, as
// the kernel reports it.
type ListeningSocket struct {
	Addr  netip.AddrPort // 127.0.0.1:8877, [::1]:8877, 0.0.0.0:8877, [::]:8877, ...
	UID   int
	Inode uint64 // to find the process holding it (/proc/PID/fd)
}

// ErrNoSocketTable: this system does not tell who holds a socket.
var ErrNoSocketTable = errors.New("the socket table is not available on this system")

// ListeningSockets lists the sockets listening on port (any address), so
// that `eid-agent doctor` can tell the agent from another program, of
// this user or another, holding the agent's port (a squatter answers
// HTTP exactly as it likes, so asking it over HTTP proves nothing).
// Linux only (/proc/net/tcp{,6}); elsewhere ErrNoSocketTable.
func ListeningSockets(port uint16) ([]ListeningSocket, error) {
	if runtime.GOOS != "linux" {
		return nil, ErrNoSocketTable
	}
	var out []ListeningSocket
	found := false
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		found = true
		ls, err := parseProcListeners(f, port)
		f.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, ls...)
	}
	if !found {
		return nil, ErrNoSocketTable
	}
	return out, nil
}

// parseProcListeners returns the LISTEN (state 0A) entries of a
// /proc/net/tcp or tcp6 table whose local port is port.
func parseProcListeners(r io.Reader, port uint16) ([]ListeningSocket, error) {
	var out []ListeningSocket
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue // header
		}
		line := sc.Bytes()
		_, rest := nextField(line)      // "sl:"
		local, rest := nextField(rest)  // local_address
		remote, rest := nextField(rest) // rem_address
		if len(local) == 0 && len(remote) == 0 {
			continue
		}
		lp, ok := hexAddrPortShape(local)
		if !ok {
			return nil, fmt.Errorf("malformed /proc/net/tcp line %q", line)
		}
		if lp != port {
			continue
		}
		fields := strings.Fields(string(rest))
		if len(fields) < 7 {
			return nil, fmt.Errorf("malformed /proc/net/tcp line %q", line)
		}
		if fields[0] != "0A" { // TCP_LISTEN
			continue
		}
		ap, err := parseHexAddrPort(string(local))
		if err != nil {
			return nil, fmt.Errorf("malformed /proc/net/tcp line %q", line)
		}
		uid, err1 := strconv.Atoi(fields[4])
		inode, err2 := strconv.ParseUint(fields[6], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("malformed /proc/net/tcp line %q", line)
		}
		out = append(out, ListeningSocket{Addr: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), UID: uid, Inode: inode})
	}
	return out, sc.Err()
}
