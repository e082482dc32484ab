package agent

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/agent/simulator"
	"github.com/eid-agent/eid-agent/internal/virtual"
)

// TestReadersNow: with a monitor, readers is answered from memory once the
// inserted card's applet version is known, matches the slow path, and
// follows a card swap.
func TestReadersNow(t *testing.T) {
	sim := simulator.New(nil)
	mon := NewMonitor(sim)
	b := &Backend{Hardware: sim, Monitor: mon}
	mon.OnEvent(b.noteEvent)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go mon.Run(ctx)

	waitNow := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if rs, ok := b.ReadersNow(); ok && len(rs) == 1 && rs[0].AppletVersion == want &&
				(want == "") == (rs[0].Card == bridge.CardNone) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		rs, ok := b.ReadersNow()
		t.Fatalf("ReadersNow never showed applet %q: %+v %v", want, rs, ok)
	}
	waitNow("")
	if err := sim.Insert("citizen-1.7"); err != nil {
		t.Fatal(err)
	}
	waitNow("1.7")
	slow, err := b.Readers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fast, _ := b.ReadersNow()
	if len(slow) != 1 || slow[0] != fast[0] {
		t.Errorf("slow %+v fast %+v", slow, fast)
	}
	if err := sim.Insert("citizen-1.8"); err != nil {
		t.Fatal(err)
	}
	waitNow("1.8")
	sim.Remove()
	waitNow("")
}

// TestReadersNowWithoutMonitor: no monitor, no instant answer.
func TestReadersNowWithoutMonitor(t *testing.T) {
	if _, ok := (&Backend{}).ReadersNow(); ok {
		t.Error("answered without a monitor")
	}
}

// jammed is hardware whose cards cannot be opened.
type jammed struct{ Hardware }

func (jammed) Connect(string) (*card.Card, error) { return nil, errors.New("reader jammed") }

// TestDetectApplet: a failure to read the applet version is logged with
// its cause, and a detection waiting for a busy reader ends with Close
// (it does not outlive the agent's shutdown).
func TestDetectApplet(t *testing.T) {
	sim := simulator.New(nil)
	p, err := virtual.Preset("citizen-1.8")
	if err != nil {
		t.Fatal(err)
	}
	inserted := card.Event{Type: card.EventCardInserted, Reader: simulator.ReaderName, ATR: virtual.New(p).ATR()}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	b := &Backend{Hardware: jammed{sim}, Monitor: NewMonitor(sim), Log: log}
	b.noteEvent(inserted, 1)
	b.Close() // waits for the detection
	if !strings.Contains(logs.String(), `level=WARN msg="applet version not read" reader="eid-agent Virtual Reader 0" err="reader jammed"`) {
		t.Errorf("failure not logged with its cause:\n%s", logs.String())
	}

	b = &Backend{Hardware: sim, Monitor: NewMonitor(sim), Log: log}
	release, err := b.queue.acquire(context.Background(), simulator.ReaderName, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	b.noteEvent(inserted, 1) // waits for the reader, which stays busy
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second): // patience, not a measurement: the queue wait alone is 10 s
		t.Fatal("Close did not end the detection waiting for the reader")
	}
	// Ended by Close, not by the queue's own 10 s timeout (BUSY_TIMEOUT).
	if !strings.Contains(logs.String(), `level=DEBUG msg="applet version not read" reader="eid-agent Virtual Reader 0" err="context canceled"`) {
		t.Errorf("the detection did not end with Close:\n%s", logs.String())
	}
	b.noteEvent(inserted, 2) // after Close: nothing starts
	b.bg.wg.Wait()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
