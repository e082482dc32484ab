package bridge_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/internal/lab"
)

// A helper process: with EID_TEST_LISTEN set, the test binary listens on
// that address, prints it, and holds it until its stdin closes.
func init() {
	addr := os.Getenv("EID_TEST_LISTEN")
	if addr == "" {
		return
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(l.Addr())
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// ListenAsOtherUser starts a process of uid 65534 (nobody) listening on
// addr, and returns the address it holds. It needs root, and copies the
// test binary where nobody may run it.
func listenAsOtherUser(t *testing.T, addr string) string {
	t.Helper()
	if os.Getuid() != 0 {
		lab.Require(t, "running a listener as another user needs root")
	}
	dir, err := os.MkdirTemp("", "eid-portholder")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "helper")
	self, _ := os.ReadFile(os.Args[0])
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{"EID_TEST_LISTEN=" + addr}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error") {
		t.Fatalf("helper: %q %v", line, err)
	}
	return strings.TrimSpace(line)
}

// TestExplainListenError (the Linux lookup; Windows has its own,
// compile-checked only): a listen that fails on a port another program
// holds says whose it is: this user's (is the agent already running?) or
// another user's, which is what the second user's agent on a shared
// machine meets; that one matches ErrOtherUser and tells how to give each
// session its own port. A failure with nobody on the port is left alone.
func TestExplainListenError(t *testing.T) {
	for _, network := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(network, func(t *testing.T) {
			mine, err := net.Listen("tcp", network)
			if err != nil {
				t.Logf("no %s here: %v", network, err)
				return
			}
			defer mine.Close()
			addr := mine.Addr().String()
			_, lerr := net.Listen("tcp", addr)
			if lerr == nil {
				t.Fatal("second listen succeeded")
			}
			err = bridge.ExplainListenError(lerr, []string{addr})
			var ph *bridge.PortHeldError
			if !errors.As(err, &ph) || ph.Holder != bridge.HolderSameUser || ph.UID != os.Getuid() || errors.Is(err, bridge.ErrOtherUser) {
				t.Fatalf("own port: %v (%+v)", err, ph)
			}
			if !errors.Is(err, lerr) || !strings.Contains(err.Error(), "already running") {
				t.Errorf("own port: %v", err)
			}

			other := listenAsOtherUser(t, network)
			_, lerr = net.Listen("tcp", other)
			err = bridge.ExplainListenError(lerr, []string{"127.0.0.1:1", other})
			if !errors.As(err, &ph) || ph.Holder != bridge.HolderOtherUser || ph.UID != 65534 || !errors.Is(err, bridge.ErrOtherUser) {
				t.Fatalf("other user's port: %v (%+v)", err, ph)
			}
			for _, want := range []string{other, "another user's program (uid 65534)", "its own port", "docs/installer.md"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message lacks %q: %v", want, err)
				}
			}
			t.Log(err)

			// The agent holds both loopback families of its port: when the
			// other family's address is the one held, that holder is named.
			ap := netip.MustParseAddrPort(other)
			sibling := netip.AddrPortFrom(netip.MustParseAddr("::1"), ap.Port())
			if ap.Addr().Is6() {
				sibling = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port())
			}
			err = bridge.ExplainListenError(lerr, []string{sibling.String()})
			if !errors.As(err, &ph) || ph.Holder != bridge.HolderOtherUser || ph.Addr != other {
				t.Errorf("held on the other family: %v (%+v)", err, ph)
			}
		})
	}
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := free.Addr().String()
	free.Close()
	plain := errors.New("some other failure")
	if err := bridge.ExplainListenError(plain, []string{addr, "127.0.0.1:0", "not an address"}); err != plain {
		t.Errorf("nobody on the port: %v", err)
	}
	if bridge.ExplainListenError(nil, []string{addr}) != nil {
		t.Error("nil error explained")
	}
}
