package vpcd_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/internal/vpcd"
)

// recorder is a Card that logs what vpcd asked of it.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) log(s string) { r.mu.Lock(); r.calls = append(r.calls, s); r.mu.Unlock() }
func (r *recorder) ATR() []byte  { r.log("atr"); return []byte{0x3B, 0x00} }
func (r *recorder) PowerOn()     { r.log("on") }
func (r *recorder) PowerOff()    { r.log("off") }
func (r *recorder) Reset()       { r.log("reset") }
func (r *recorder) Transmit(apdu []byte) []byte {
	r.log("apdu")
	return append(append([]byte{}, apdu...), 0x90, 0x00) // echo
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// fakeVPCD is the listening side of the protocol, as vpcd has it.
type fakeVPCD struct {
	t    *testing.T
	ln   net.Listener
	conn net.Conn
}

func newFakeVPCD(t *testing.T) *fakeVPCD {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeVPCD{t: t, ln: ln}
}

func (f *fakeVPCD) accept() {
	c, err := f.ln.Accept()
	if err != nil {
		f.t.Fatal(err)
	}
	// vpcd's socket has Nagle on and writes length and payload apart.
	c.(*net.TCPConn).SetNoDelay(false)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	f.conn = c
	f.t.Cleanup(func() { c.Close() })
}

func (f *fakeVPCD) send(payload ...byte) {
	var hdr [2]byte
	binary.BigEndian.PutUint16(hdr[:], uint16(len(payload)))
	if _, err := f.conn.Write(hdr[:]); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.conn.Write(payload); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeVPCD) recv() ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(f.conn, hdr[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	_, err := io.ReadFull(f.conn, b)
	return b, err
}

func (f *fakeVPCD) mustRecv() []byte {
	b, err := f.recv()
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func TestProtocol(t *testing.T) {
	f := newFakeVPCD(t)
	card := &recorder{}
	in, err := vpcd.Insert(t.Context(), f.ln.Addr().String(), card)
	if err != nil {
		t.Fatal(err)
	}
	f.accept()
	f.send(0x04)
	if got := f.mustRecv(); !bytes.Equal(got, []byte{0x3B, 0x00}) {
		t.Fatalf("ATR frame %X", got)
	}
	f.send(0x01) // power on: no reply
	f.send(0x02) // reset: no reply
	f.send(0x00, 0xA4, 0x00, 0x00)
	if got := f.mustRecv(); !bytes.Equal(got, []byte{0x00, 0xA4, 0x00, 0x00, 0x90, 0x00}) {
		t.Fatalf("APDU reply %X", got)
	}
	f.send(0x00) // power off
	f.send(0x04)
	f.mustRecv()
	want := []string{"atr", "on", "reset", "apdu", "off", "atr"}
	if got := card.seen(); !slices.Equal(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
	if in.APDUs() != 1 {
		t.Fatalf("APDUs %d", in.APDUs())
	}
	if err := in.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after Remove the reader got %v, want EOF", err)
	}
	if in.Err() != nil {
		t.Fatalf("Err after Remove: %v", in.Err())
	}
	if err := in.Remove(); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
}

func TestYankAfter(t *testing.T) {
	f := newFakeVPCD(t)
	in, err := vpcd.Insert(t.Context(), f.ln.Addr().String(), &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	f.accept()
	f.send(0x00, 0xB0, 0x00, 0x00, 0x10)
	f.mustRecv()
	in.YankAfter(2)
	f.send(0x04) // control frames do not count
	f.mustRecv()
	f.send(0x00, 0xB0, 0x00, 0x10, 0x10)
	f.mustRecv()
	f.send(0x00, 0xB0, 0x00, 0x20, 0x10)
	if b, err := f.recv(); err == nil {
		t.Fatalf("yanked APDU answered: %X", b)
	}
	<-in.Done()
	if !errors.Is(in.Err(), vpcd.ErrYanked) || in.APDUs() != 3 {
		t.Fatalf("Err %v, APDUs %d", in.Err(), in.APDUs())
	}
}

func TestReaderCloses(t *testing.T) {
	f := newFakeVPCD(t)
	in, err := vpcd.Insert(t.Context(), f.ln.Addr().String(), &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	f.accept()
	f.conn.Close()
	select {
	case <-in.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not done after the reader closed")
	}
	if !errors.Is(in.Err(), io.EOF) {
		t.Fatalf("Err %v, want EOF", in.Err())
	}
}

func TestInsertDialError(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := vpcd.Insert(t.Context(), addr, &recorder{}); err == nil {
		t.Fatal("insert into a closed port succeeded")
	}
}

// TestQuickAck measures APDU round trips against a peer that, like vpcd,
// writes the length and the payload in two segments with Nagle on. Without
// TCP_QUICKACK each frame stalls ~40 ms on the delayed ACK (testing doc §5).
func TestQuickAck(t *testing.T) {
	f := newFakeVPCD(t)
	in, err := vpcd.Insert(t.Context(), f.ln.Addr().String(), &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Remove()
	f.accept()
	var d []time.Duration
	for i := 0; i < 40; i++ {
		start := time.Now()
		f.send(0x00, 0xB0, 0x00, 0x00, 0x10)
		f.mustRecv()
		d = append(d, time.Since(start))
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	t.Logf("round trip: median %v, p90 %v", d[len(d)/2], d[len(d)*9/10])
	if d[len(d)/2] > 20*time.Millisecond {
		t.Fatalf("median round trip %v: the delayed-ACK stall is back", d[len(d)/2])
	}
}

// --- Against the real pcscd of the lab ---

// waitReaders polls GetStatusChange until every reader is present (or
// empty), feeding EventState back as CurrentState; no fixed sleeps.
func waitReaders(t *testing.T, ctx *scard.Context, readers []string, present bool, timeout time.Duration) {
	t.Helper()
	states := make([]scard.ReaderState, len(readers))
	for i, r := range readers {
		states[i] = scard.ReaderState{Reader: r, CurrentState: scard.StateUnaware}
	}
	deadline := time.Now().Add(timeout)
	for {
		err := ctx.GetStatusChange(states, 2*time.Second)
		if err != nil && !errors.Is(err, scard.ErrTimeout) {
			t.Fatalf("GetStatusChange: %v", err)
		}
		done := true
		for i := range states {
			ev := states[i].EventState
			states[i].CurrentState = ev
			if present && ev&scard.StatePresent == 0 || !present && ev&scard.StateEmpty == 0 {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("readers %q not %s after %v (slot used by another test?)", readers, map[bool]string{true: "present", false: "empty"}[present], timeout)
		}
	}
}

func transmit(t *testing.T, c *scard.Card, cmd []byte, want uint16) []byte {
	t.Helper()
	resp, err := c.Transmit(cmd)
	if err != nil {
		t.Fatalf("transmit %X: %v", cmd, err)
	}
	if len(resp) < 2 || binary.BigEndian.Uint16(resp[len(resp)-2:]) != want {
		t.Fatalf("%X -> %X, want SW %04X", cmd, resp, want)
	}
	return resp[:len(resp)-2]
}

// readFile reads a file through PC/SC the way the reference's reader
// algorithm does (ref §13): SELECT by path, 252-byte blocks, stop on a short
// block, 6B 00, or a 6C xx re-read. It holds a PC/SC transaction, so that
// another client (OpenSC in a parallel test) cannot select another file in
// between.
func readFile(t *testing.T, c *scard.Card, path []byte) []byte {
	t.Helper()
	if err := c.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	defer c.EndTransaction(scard.LeaveCard)
	transmit(t, c, append([]byte{0x00, 0xA4, 0x08, 0x0C, byte(len(path))}, path...), 0x9000)
	var out []byte
	for {
		off := len(out)
		resp, err := c.Transmit([]byte{0x00, 0xB0, byte(off >> 8), byte(off), 252})
		if err != nil {
			t.Fatal(err)
		}
		sw := binary.BigEndian.Uint16(resp[len(resp)-2:])
		switch {
		case sw == 0x9000:
			out = append(out, resp[:len(resp)-2]...)
			if len(resp)-2 < 252 {
				return out
			}
		case sw == 0x6B00:
			return out
		case sw&0xFF00 == 0x6C00:
			return append(out, transmit(t, c, []byte{0x00, 0xB0, byte(off >> 8), byte(off), byte(sw)}, 0x9000)...)
		default:
			t.Fatalf("READ BINARY at %d: %X", off, resp)
		}
	}
}

func establish(t *testing.T) *scard.Context {
	t.Helper()
	ctx, err := scard.EstablishContext()
	if err != nil {
		lab.Require(t, "no PC/SC service: "+err.Error())
	}
	t.Cleanup(func() { ctx.Release() })
	return ctx
}

// TestLabTwoSlots inserts two cards at once (an applet 1.1 dump and a
// generated 1.8 card) in the first two slots, reads them through pcscd
// with T=0, then removes one and checks the stale handle fails.
func TestLabTwoSlots(t *testing.T) {
	slots := lab.Slots(t)
	if len(slots) < 2 {
		t.Skip("needs two lab slots")
	}
	slots = slots[:2]
	alice, err := virtual.LoadDump(filepath.Join(lab.SharedTestdata(t), "cards", "alice-v11-rsa"))
	if err != nil {
		t.Fatal(err)
	}
	kids, err := virtual.Preset("kids-1.8")
	if err != nil {
		t.Fatal(err)
	}
	profiles := []*virtual.Profile{alice, kids}
	ctx := establish(t)
	readers := []string{slots[0].Reader, slots[1].Reader}
	waitReaders(t, ctx, readers, false, 5*time.Second)

	ins := make([]*vpcd.Insertion, 2)
	for i, s := range slots {
		in, err := vpcd.Insert(t.Context(), s.Addr, virtual.New(profiles[i]))
		if err != nil {
			t.Fatal(err)
		}
		ins[i] = in
		t.Cleanup(func() { in.Remove() })
	}
	waitReaders(t, ctx, readers, true, 5*time.Second)

	cards := make([]*scard.Card, 2)
	for i, r := range readers {
		// T=0 only, as eid-mw connects (ref §1.3): this fails unless
		// pcscd negotiated T=0 from the emulated ATR.
		c, err := ctx.Connect(r, scard.ShareShared, scard.ProtocolT0)
		if err != nil {
			t.Fatalf("%s: connect T=0: %v", r, err)
		}
		cards[i] = c
		defer c.Disconnect(scard.LeaveCard)
		if c.ActiveProtocol() != scard.ProtocolT0 {
			t.Fatalf("%s: protocol %v", r, c.ActiveProtocol())
		}
		st, err := c.Status()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(st.Atr, profiles[i].ATR) {
			t.Fatalf("%s: ATR %X, want %X", r, st.Atr, profiles[i].ATR)
		}
	}
	// Interleave the two cards: each must keep its own state.
	paths := []struct {
		name string
		path []byte
	}{
		{virtual.PathIdentity, []byte{0x3F, 0x00, 0xDF, 0x01, 0x40, 0x31}},
		{virtual.PathAddress, []byte{0x3F, 0x00, 0xDF, 0x01, 0x40, 0x33}},
		{virtual.PathPhoto, []byte{0x3F, 0x00, 0xDF, 0x01, 0x40, 0x35}},
		{virtual.PathAuthCert, []byte{0x3F, 0x00, 0xDF, 0x00, 0x50, 0x38}},
	}
	for _, p := range paths {
		for i, c := range cards {
			if got, want := readFile(t, c, p.path), profiles[i].Files[p.name]; !bytes.Equal(got, want) {
				t.Errorf("%s %s: read %d bytes, want %d", readers[i], p.name, len(got), len(want))
			}
		}
	}
	cd := transmit(t, cards[1], []byte{0x80, 0xE4, 0x00, 0x01, 0x1F}, 0x9000)
	if cd[21] != 0x18 || cd[28] != 3 {
		t.Errorf("1.8 card data %X", cd)
	}

	// Pull the first card: the reader empties, the stale handle fails.
	if err := ins[0].Remove(); err != nil {
		t.Fatal(err)
	}
	waitReaders(t, ctx, readers[:1], false, 5*time.Second)
	_, err = cards[0].Transmit([]byte{0x80, 0xE4, 0x00, 0x00, 0x1C})
	if err == nil {
		t.Fatal("transmit to a removed card succeeded")
	}
	if !errors.Is(err, scard.ErrRemovedCard) {
		t.Logf("stale handle error: %v (not ErrRemovedCard)", err)
	}
	// The other card is untouched.
	transmit(t, cards[1], []byte{0x80, 0xE4, 0x00, 0x00, 0x1C}, 0x9000)
}

// TestLabYank pulls the card out when an APDU arrives, mid-read.
func TestLabYank(t *testing.T) {
	slots := lab.Slots(t)
	s := slots[0]
	p, err := virtual.Preset("citizen-1.8")
	if err != nil {
		t.Fatal(err)
	}
	ctx := establish(t)
	waitReaders(t, ctx, []string{s.Reader}, false, 5*time.Second)
	in, err := vpcd.Insert(t.Context(), s.Addr, virtual.New(p))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Remove()
	waitReaders(t, ctx, []string{s.Reader}, true, 5*time.Second)
	c, err := ctx.Connect(s.Reader, scard.ShareShared, scard.ProtocolT0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(scard.LeaveCard)
	// A transaction keeps other PC/SC clients (OpenSC in a parallel test)
	// from slipping APDUs in between and shifting the count.
	if err := c.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	transmit(t, c, []byte{0x00, 0xA4, 0x08, 0x0C, 0x06, 0x3F, 0x00, 0xDF, 0x01, 0x40, 0x35}, 0x9000)
	in.YankAfter(2)
	transmit(t, c, []byte{0x00, 0xB0, 0x00, 0x00, 0xFC}, 0x9000)
	// vpcd reports the lost connection of a yank as an empty response with
	// no PC/SC error: a reader must treat an answer without a status word
	// as a removed card.
	resp, err := c.Transmit([]byte{0x00, 0xB0, 0x00, 0xFC, 0xFC})
	if err == nil && len(resp) >= 2 {
		t.Fatalf("transmit during the yank answered %X", resp)
	}
	t.Logf("transmit during the yank: %X, %v", resp, err)
	select {
	case <-in.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("insertion not done after the yank")
	}
	if !errors.Is(in.Err(), vpcd.ErrYanked) {
		t.Fatalf("Err %v", in.Err())
	}
	waitReaders(t, ctx, []string{s.Reader}, false, 5*time.Second)
	if _, err := c.Transmit([]byte{0x80, 0xE4, 0x00, 0x00, 0x1C}); err == nil {
		t.Fatal("transmit after the yank succeeded")
	} else {
		t.Logf("transmit after the yank: %v", err)
	}

	// Re-inserting is dialling again.
	in2, err := vpcd.Insert(t.Context(), s.Addr, virtual.New(p))
	if err != nil {
		t.Fatal(err)
	}
	defer in2.Remove()
	waitReaders(t, ctx, []string{s.Reader}, true, 5*time.Second)
	c2, err := ctx.Connect(s.Reader, scard.ShareShared, scard.ProtocolT0)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Disconnect(scard.LeaveCard)
	transmit(t, c2, []byte{0x80, 0xE4, 0x00, 0x00, 0x1C}, 0x9000)
}

// TestLabFullReadTiming reads every file of an applet 1.7 card through
// pcscd and logs the time: the cost of a complete read on loopback.
func TestLabFullReadTiming(t *testing.T) {
	slots := lab.Slots(t)
	s := slots[1%len(slots)]
	p, err := virtual.Preset("citizen-1.7")
	if err != nil {
		t.Fatal(err)
	}
	ctx := establish(t)
	waitReaders(t, ctx, []string{s.Reader}, false, 5*time.Second)
	card := virtual.New(p)
	in, err := vpcd.Insert(context.Background(), s.Addr, card)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Remove()
	waitReaders(t, ctx, []string{s.Reader}, true, 5*time.Second)
	c, err := ctx.Connect(s.Reader, scard.ShareShared, scard.ProtocolT0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(scard.LeaveCard)
	names := []string{
		virtual.PathIdentity, virtual.PathIdentitySig, virtual.PathAddress, virtual.PathAddressSig, virtual.PathPhoto,
		virtual.PathAuthCert, virtual.PathSignCert, virtual.PathCACert, virtual.PathRootCert, virtual.PathRRNCert,
	}
	before := card.Count()
	start := time.Now()
	total := 0
	for _, name := range names {
		path := make([]byte, len(name)/2)
		for i := range path {
			path[i] = hexByte(name[2*i:])
		}
		got := readFile(t, c, path)
		if !bytes.Equal(got, p.Files[name]) {
			t.Fatalf("%s: read %d bytes, want %d", name, len(got), len(p.Files[name]))
		}
		total += len(got)
	}
	d := time.Since(start)
	t.Logf("full read of %d bytes in %d APDUs through pcscd: %v", total, card.Count()-before, d)
	if d > 2*time.Second {
		t.Errorf("full read took %v; the delayed-ACK stall?", d)
	}
}

func hexByte(s string) byte {
	v := func(c byte) byte {
		if c >= 'A' {
			return c - 'A' + 10
		}
		return c - '0'
	}
	return v(s[0])<<4 | v(s[1])
}
