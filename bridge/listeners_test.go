package bridge_test

import (
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/eid-agent/eid-agent/bridge"
)

func TestParseProcListeners(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" && runtime.GOARCH != "386" {
		t.Skip("sample lines are little-endian")
	}
	ls, err := bridge.ParseProcListeners(strings.NewReader(procTCP), 8885)
	if err != nil || len(ls) != 1 || ls[0].Addr != netip.MustParseAddrPort("127.0.0.1:8885") || ls[0].UID != 1000 || ls[0].Inode != 77359 {
		t.Errorf("tcp: %+v %v", ls, err)
	}
	ls, err = bridge.ParseProcListeners(strings.NewReader(procTCP6), 8885)
	if err != nil || len(ls) != 1 || ls[0].Addr != netip.MustParseAddrPort("[::1]:8885") || ls[0].UID != 1000 {
		t.Errorf("tcp6: %+v %v", ls, err)
	}
	if ls, err := bridge.ParseProcListeners(strings.NewReader(procTCP), 41668); err != nil || len(ls) != 0 {
		t.Errorf("an established socket taken for a listener: %+v %v", ls, err)
	}
	if _, err := bridge.ParseProcListeners(strings.NewReader("h\n 0: 0100007F:22B5 00000000:0000 0A\n"), 8885); err == nil {
		t.Error("short line accepted")
	}
}

// TestListeningSocketsLive finds this process's own listeners.
func TestListeningSocketsLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Logf("%s: %v", addr, err)
			continue
		}
		defer l.Close()
		ap := netip.MustParseAddrPort(l.Addr().String())
		ls, err := bridge.ListeningSockets(ap.Port())
		if err != nil || len(ls) != 1 || ls[0].Addr != ap || ls[0].UID != os.Getuid() || ls[0].Inode == 0 {
			t.Errorf("%s: %+v %v", ap, ls, err)
		}
	}
}

func FuzzParseProcListeners(f *testing.F) {
	f.Add(procTCP, uint16(8885))
	f.Add(procTCP6, uint16(8885))
	f.Add("h\n 0: 0100007F:22B5 00000000:0000 0A 0 0 0 1 0 5\n", uint16(8885))
	f.Fuzz(func(t *testing.T, table string, port uint16) {
		ls, err := bridge.ParseProcListeners(strings.NewReader(table), port)
		if err != nil {
			return
		}
		for _, l := range ls {
			if l.Addr.Port() != port {
				t.Fatalf("listener %+v for port %d", l, port)
			}
		}
	})
}
