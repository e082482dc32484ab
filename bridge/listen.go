package bridge

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrPortHeld: another program listens on one of the agent's loopback
// addresses. The agent does not start beside it: browsers resolve
// localhost to both 127.0.0.1 and ::1, and a program holding either could
// serve pages that the user takes for the agent's (docs/daemon.md,
// "Shared machines").
var ErrPortHeld = errors.New("another program listens on the agent's port")

// errRetryPort: the other address family of a port the system picked is
// taken; pick another.
var errRetryPort = errors.New("companion port taken")

// Listen opens the configured loopback listeners, and for each port the
// other loopback address too (::1 beside 127.0.0.1 and the reverse),
// served like the first: then no other program, of this user or
// another, can bind the other address family of the agent's port and
// answer there for the agent (a page it served at http://localhost:PORT
// would otherwise be the "agent's own page" to the browser). Where the
// machine has no such address (IPv6 disabled) nobody can bind it and it
// is skipped. Port 0 picks a port free on both. A port held by another
// program is ErrPortHeld.
func (s *Server) Listen() error {
	if len(s.cfg.Listen) == 0 {
		return errors.New("bridge: no listen address")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for range 16 {
		var ls []net.Listener
		if ls, err = listenBoth(s.cfg.Listen); err == nil {
			s.listeners = ls
			return nil
		}
		if !errors.Is(err, errRetryPort) {
			return err
		}
	}
	return err
}

// listenBoth binds addrs and the other loopback family of each port.
func listenBoth(addrs []string) ([]net.Listener, error) {
	var ls []net.Listener
	fail := func(err error) ([]net.Listener, error) {
		for _, l := range ls {
			l.Close()
		}
		return nil, err
	}
	held := map[netip.AddrPort]bool{}
	var bound []netip.AddrPort
	picked := map[netip.AddrPort]bool{} // the system chose the port
	for _, a := range addrs {
		want, err := netip.ParseAddrPort(a)
		if err != nil {
			return fail(fmt.Errorf("%w: listen %q", ErrConfig, a))
		}
		if held[want] {
			continue
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				err = fmt.Errorf("%w: %s (`eid-agent doctor` names it): %v", ErrPortHeld, a, err)
			}
			return fail(err)
		}
		ls = append(ls, l)
		got := addrPortOf(l.Addr())
		held[got] = true
		bound = append(bound, got)
		picked[got] = want.Port() == 0
	}
	for _, ap := range bound {
		other := netip.AddrPortFrom(otherLoopback(ap.Addr()), ap.Port())
		if held[other] {
			continue
		}
		l, err := net.Listen("tcp", other.String())
		switch {
		case err == nil:
			ls = append(ls, l)
			held[other] = true
		case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EAFNOSUPPORT):
			// No such address on this machine: nobody can listen there.
		case errors.Is(err, syscall.EADDRINUSE) && picked[ap]:
			return fail(errRetryPort)
		case errors.Is(err, syscall.EADDRINUSE):
			return fail(fmt.Errorf("%w: %s, the other loopback address of %s (`eid-agent doctor` names it)", ErrPortHeld, other, ap))
		default:
			return fail(fmt.Errorf("listen %s: %w", other, err))
		}
	}
	return ls, nil
}

func otherLoopback(a netip.Addr) netip.Addr {
	if a.Unmap().Is4() {
		return netip.IPv6Loopback()
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if a == nil {
		return netip.AddrPort{}
	}
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// guardListener screens connections as they are accepted, before a byte
// of them is read. A peer of another OS user never reaches the server: its
// connection goes to answerOtherUser, which reads the request line and
// headers only and answers 403 OTHER_USER whatever was asked (it learns
// that it reached another user's agent, not which origins are allowed),
// with a small budget of its own (otherUserConns; past it the connection
// is closed at once), so another user holds none of this user's places.
// Past MaxHTTPConnections a new connection is closed rather than kept
// waiting, so slow clients cannot exhaust the process's descriptors.
type guardListener struct {
	net.Listener
	s    *Server
	open *atomic.Int64 // connections of all listeners of s
}

// otherUserConns bounds the connections of other users being answered.
const otherUserConns = 16

func (g guardListener) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		local, remote := addrPortOf(c.LocalAddr()), addrPortOf(c.RemoteAddr())
		if !remote.Addr().IsLoopback() {
			c.Close()
			g.s.refusals.log("connection refused", "reason", "peer is not on this machine")
			continue
		}
		if err := g.s.checkPeerUser(local, remote); err != nil {
			g.s.refusals.log("connection refused", "reason", "another OS user", "code", CodeOtherUser)
			if n := g.s.otherOpen.Add(1); n > otherUserConns {
				g.s.otherOpen.Add(-1)
				c.Close()
				continue
			}
			go g.s.answerOtherUser(c, err)
			continue
		}
		if n := g.open.Add(1); n > int64(g.s.cfg.Limits.MaxHTTPConnections) {
			g.open.Add(-1)
			c.Close()
			g.s.refusals.log("connection refused", "reason", "too many connections", "open", n-1)
			continue
		}
		return &guardedConn{Conn: c, open: g.open}, nil
	}
}

// guardedConn gives its place back when closed (also after a websocket
// upgrade: the hijacked connection is this one).
type guardedConn struct {
	net.Conn
	open *atomic.Int64
	once sync.Once
}

func (c *guardedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}

// screenedKey marks the request context of connections that came through
// a guardListener: their peer's OS user is already checked.
type screenedKey struct{}

func screened(ctx context.Context) bool {
	v, _ := ctx.Value(screenedKey{}).(bool)
	return v
}

// answerOtherUser answers a connection of another OS user: 403
// OTHER_USER to its first request, then closed. Only the request head is
// read, within ReadHeaderTimeout; nothing of it reaches the server.
func (s *Server) answerOtherUser(c net.Conn, why error) {
	defer s.otherOpen.Add(-1)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if s.cfg.TLS != nil {
		tc := s.cfg.TLS.Clone()
		tc.NextProtos = []string{"http/1.1"}
		t := tls.Server(c, tc)
		if t.Handshake() != nil {
			return
		}
		c = t
	}
	if _, err := http.ReadRequest(bufio.NewReaderSize(io.LimitReader(c, 16<<10), 4<<10)); err != nil {
		return
	}
	body, _ := json.Marshal(struct {
		Error *Error `json:"error"`
	}{NewError(CodeOtherUser, why.Error())})
	fmt.Fprintf(c, "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\n"+
		"X-Content-Type-Options: nosniff\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n", len(body)+1, body)
	// Let the client read the answer before the close, rather than
	// resetting the connection over request bytes left unread.
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}
}
