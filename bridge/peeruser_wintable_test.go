package bridge

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tcp4Table is a MIB_TCPTABLE_OWNER_PID as GetExtendedTcpTable lays it
// out, written byte by byte: the agent (PID 100) listening on
// 127.0.0.1:8877 (0x22AD) and its end of a connection from port 50000,
// the client's end of it (PID 200), and a second client from port 50001
// (PID 300) whose port DWORD carries junk in its upper half (the API
// leaves it uninitialised).
const tcp4Table = `
04000000
02000000 7F000001 22AD0000 00000000 00000000 64000000
05000000 7F000001 22AD0000 7F000001 C3500000 64000000
05000000 7F000001 C3500000 7F000001 22AD0000 C8000000
05000000 7F000001 C351BEEF 7F000001 22AD0000 2C010000
`

// tcp6Table is a MIB_TCP6TABLE_OWNER_PID: a client on ::1 port 50002 to
// [::1]:8877 (PID 400), a dual-stack socket's IPv4 client with mapped
// addresses (PID 500), and a listener on [::]:8878 (PID 600).
const tcp6Table = `
03000000
00000000000000000000000000000001 00000000 C3520000 00000000000000000000000000000001 00000000 22AD0000 05000000 90010000
00000000000000000000FFFF7F000001 00000000 C3530000 00000000000000000000FFFF7F000001 00000000 22AD0000 05000000 F4010000
00000000000000000000000000000000 00000000 22AE0000 00000000000000000000000000000000 00000000 00000000 02000000 58020000
`

func TestParseTCPOwnerTable(t *testing.T) {
	ap := netip.MustParseAddrPort
	v4, err := parseTCPOwnerTable(unhex(t, tcp4Table), false)
	if err != nil || len(v4) != 4 {
		t.Fatalf("v4: %d rows, %v", len(v4), err)
	}
	if r := v4[3]; r.Local != ap("127.0.0.1:50001") || r.Remote != ap("127.0.0.1:8877") || r.State != 5 || r.PID != 300 {
		t.Errorf("v4 row 3: %+v", r)
	}
	v6, err := parseTCPOwnerTable(unhex(t, tcp6Table), true)
	if err != nil || len(v6) != 3 {
		t.Fatalf("v6: %d rows, %v", len(v6), err)
	}
	if r := v6[0]; r.Local != ap("[::1]:50002") || r.Remote != ap("[::1]:8877") || r.PID != 400 {
		t.Errorf("v6 row 0: %+v", r)
	}

	for _, tc := range []struct {
		rows          []tcpOwnerRow
		local, remote string // ours, the client's
		pid           uint32
		found         bool
	}{
		{v4, "127.0.0.1:8877", "127.0.0.1:50000", 200, true}, // not 100: that row is the agent's end
		{v4, "127.0.0.1:8877", "127.0.0.1:50001", 300, true},
		{v4, "127.0.0.1:8877", "127.0.0.1:50009", 0, false},
		{v4, "127.0.0.1:8878", "127.0.0.1:50000", 0, false},
		{v6, "[::1]:8877", "[::1]:50002", 400, true},
		{v6, "127.0.0.1:8877", "127.0.0.1:50003", 500, true},
		{v6, "[::ffff:127.0.0.1]:8877", "[::ffff:127.0.0.1]:50003", 500, true},
		{v6, "[::1]:8877", "[::1]:50003", 0, false},
	} {
		pid, found := connectionOwner(tc.rows, ap(tc.local), ap(tc.remote))
		if pid != tc.pid || found != tc.found {
			t.Errorf("%s <- %s: pid %d found %v, want %d %v", tc.local, tc.remote, pid, found, tc.pid, tc.found)
		}
	}
	for _, tc := range []struct {
		rows  []tcpOwnerRow
		addr  string
		pid   uint32
		found bool
	}{
		{v4, "127.0.0.1:8877", 100, true},
		{v4, "127.0.0.1:50000", 0, false}, // a connected socket is no listener
		{v6, "[::1]:8878", 600, true},     // held through [::]
		{v6, "[::1]:8877", 0, false},
	} {
		pid, found := listenerOwner(tc.rows, ap(tc.addr))
		if pid != tc.pid || found != tc.found {
			t.Errorf("listener %s: pid %d found %v, want %d %v", tc.addr, pid, found, tc.pid, tc.found)
		}
	}

	for _, bad := range []struct {
		b  []byte
		v6 bool
	}{
		{nil, false},
		{[]byte{1, 0}, false},
		{unhex(t, tcp4Table)[:4+3*tcpRow4Size+10], false}, // 4 rows announced, 3.4 present
		{unhex(t, tcp6Table)[:4+tcpRow6Size], true},
		{unhex(t, "FFFFFFFF"), false},
	} {
		if rows, err := parseTCPOwnerTable(bad.b, bad.v6); err == nil {
			t.Errorf("%x: %d rows, want an error", bad.b, len(rows))
		}
	}
}

func TestJudgeWinPeer(t *testing.T) {
	me := winIdentity{SID: "S-1-5-21-1-2-3-1001", Session: 2}
	for _, tc := range []struct {
		peer winIdentity
		ok   bool
		want string
	}{
		{me, true, ""},
		{winIdentity{SID: "S-1-5-21-1-2-3-1002", Session: 2}, false, "runs as S-1-5-21-1-2-3-1002"},
		{winIdentity{SID: "S-1-5-21-1-2-3-1002", Session: 3}, false, "runs as"},
		{winIdentity{SID: me.SID, Session: 3}, false, "session 3, the agent in session 2"},
		{winIdentity{SID: "S-1-5-18", Session: 0}, false, "runs as S-1-5-18"}, // a service
	} {
		err := judgeWinPeer(me, tc.peer, 4242)
		if tc.ok != (err == nil) || (err != nil && (!errors.Is(err, ErrOtherUser) || !strings.Contains(err.Error(), tc.want))) {
			t.Errorf("%+v: %v", tc.peer, err)
		}
	}
}

// FuzzParseTCPOwnerTable: any bytes give rows or an error, never a panic
// or more rows than fit.
func FuzzParseTCPOwnerTable(f *testing.F) {
	f.Add(unhex(f, tcp4Table), false)
	f.Add(unhex(f, tcp6Table), true)
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0x7F}, true)
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		rows, err := parseTCPOwnerTable(b, v6)
		if err != nil {
			return
		}
		size := tcpRow4Size
		if v6 {
			size = tcpRow6Size
		}
		if len(rows) != int(binary.LittleEndian.Uint32(b)) || 4+len(rows)*size > len(b) {
			t.Fatalf("%d rows from %d bytes", len(rows), len(b))
		}
		for _, r := range rows {
			connectionOwner(rows, r.Remote, r.Local)
			listenerOwner(rows, r.Local)
		}
	})
}
