package bridge_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/eid-agent/eid-agent/bridge"
)

const procTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:22B5 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 77359 1 000000003bcfd005 100 0 0 10 0
   1: 0100007F:A2C4 0100007F:22B5 01 00000000:00000000 00:00000000 00000000  1001        0 77400 1 000000003bcfd006 20 4 30 10 -1
   2: 0100007F:22B5 0100007F:A2C4 01 00000000:00000000 00:00000000 00000000  1000        0 77401 1 000000003bcfd007 20 4 30 10 -1
`

const procTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:22B5 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0
   1: 00000000000000000000000001000000:C001 00000000000000000000000001000000:22B5 01 00000000:00000000 00:00000000 00000000  0        0 2 1 0 20 4 30 10 -1
   2: 0000000000000000FFFF00000100007F:C002 0000000000000000FFFF00000100007F:22B5 01 00000000:00000000 00:00000000 00000000  33        0 3 1 0 20 4 30 10 -1
`

func TestParseProcNetTCP(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" && runtime.GOARCH != "386" {
		t.Skip("sample lines are little-endian")
	}
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		table         string
		local, remote string
		uid           int
		found         bool
	}{
		{procTCP, "127.0.0.1:41668", "127.0.0.1:8885", 1001, true},
		{procTCP, "127.0.0.1:8885", "127.0.0.1:41668", 1000, true},
		{procTCP, "127.0.0.1:41669", "127.0.0.1:8885", 0, false},
		{procTCP6, "[::1]:49153", "[::1]:8885", 0, true},
		{procTCP6, "127.0.0.1:49154", "127.0.0.1:8885", 33, true},
		{procTCP6, "[::ffff:127.0.0.1]:49154", "[::ffff:127.0.0.1]:8885", 33, true},
		{procTCP6, "[::1]:49154", "[::1]:8885", 0, false},
	} {
		uid, found, err := bridge.ParseProcNetTCP(strings.NewReader(tc.table), ap(tc.local), ap(tc.remote))
		if err != nil || uid != tc.uid || found != tc.found {
			t.Errorf("%s -> %s: uid %d found %v err %v", tc.local, tc.remote, uid, found, err)
		}
	}
	bad := "header\n 0: XYZ:1 0100007F:22B5 01 0 0 0 1000 0\n"
	if _, _, err := bridge.ParseProcNetTCP(strings.NewReader(bad), ap("127.0.0.1:1"), ap("127.0.0.1:2")); err == nil {
		t.Error("malformed line accepted")
	}
}

// TestProcPeerUIDLive: a connection made by this process is found, with
// this process's uid, over IPv4 and IPv6.
func TestProcPeerUIDLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	for _, network := range []string{"127.0.0.1:0", "[::1]:0"} {
		l, err := net.Listen("tcp", network)
		if err != nil {
			t.Logf("%s: %v", network, err)
			continue
		}
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, _ := l.Accept()
		local := netip.MustParseAddrPort(s.LocalAddr().String())
		remote := netip.MustParseAddrPort(s.RemoteAddr().String())
		uid, err := bridge.ProcPeerUID(local, remote)
		if err != nil || uid != os.Getuid() {
			t.Errorf("%s: uid %d err %v, want %d", network, uid, err, os.Getuid())
		}
		c.Close()
		s.Close()
		l.Close()
	}
}

func TestCheckHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		port int
		ok   bool
	}{
		{"127.0.0.1:8885", 8885, true},
		{"localhost:8885", 8885, true},
		{"LOCALHOST:8885", 8885, true},
		{"[::1]:8885", 8885, true},
		{"127.0.0.1", 80, true},
		{"[::1]", 80, true},
		{"127.0.0.1", 8885, false},
		{"127.0.0.1:8886", 8885, false},
		{"evil.example:8885", 8885, false},
		{"127.0.0.1.evil.example:8885", 8885, false},
		{"localhost.evil.example:8885", 8885, false},
		{"127.1:8885", 8885, false},
		{"2130706433:8885", 8885, false},
		{"[::ffff:127.0.0.1]:8885", 8885, false},
		{"", 8885, false},
	} {
		if got := bridge.CheckHost(tc.host, tc.port); got != tc.ok {
			t.Errorf("%q port %d: %v", tc.host, tc.port, got)
		}
	}
}

func TestConfigRefusesUnsafe(t *testing.T) {
	be := &fakeBackend{}
	for _, tc := range []struct {
		name string
		cfg  bridge.Config
	}{
		{"all interfaces", bridge.Config{Listen: []string{":8885"}}},
		{"any v4", bridge.Config{Listen: []string{"0.0.0.0:8885"}}},
		{"any v6", bridge.Config{Listen: []string{"[::]:8885"}}},
		{"lan", bridge.Config{Listen: []string{"192.168.1.2:8885"}}},
		{"name", bridge.Config{Listen: []string{"localhost:8885"}}},
		{"127.0.0.2", bridge.Config{Listen: []string{"127.0.0.2:8885"}}},
		{"wildcard origin", bridge.Config{AllowedOrigins: []string{"*"}}},
		{"suffix origin", bridge.Config{AllowedOrigins: []string{"https://*.example"}}},
		{"origin path", bridge.Config{AllowedOrigins: []string{"https://app.example/"}}},
		{"http origin", bridge.Config{AllowedOrigins: []string{"http://app.example"}}},
		{"http loopback without dev", bridge.Config{AllowedOrigins: []string{"http://localhost:3000"}}},
		{"short token", bridge.Config{Tokens: []bridge.AppToken{{Name: "a", Token: "short"}}}},
		{"unnamed token", bridge.Config{Tokens: []bridge.AppToken{{Token: appToken}}}},
	} {
		tc.cfg.Backend = be
		if _, err := bridge.New(tc.cfg); !errors.Is(err, bridge.ErrConfig) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	ok := bridge.Config{Backend: be, Listen: []string{"127.0.0.1:0", "[::1]:0"},
		AllowedOrigins: []string{"http://localhost:3000"}, AllowHTTPLoopbackOrigins: true}
	if _, err := bridge.New(ok); err != nil {
		t.Error(err)
	}
}
