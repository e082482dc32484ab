package agent

import (
	"context"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/agent/simulator"
	"github.com/eid-agent/eid-agent/card"
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
				(want == "") == (rs[0].Card == card.KindNone) {
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
