package agent

import (
	"context"
	"sync"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/card"
)

// The readers request is the one clients repeat most (polling pages, the
// demo, health checks). With a Monitor, the agent answers it from memory:
// reader names and card kinds from the monitor, the applet version of each
// BELPIC card from one GET CARD DATA made when the card was inserted. The
// bridge can then answer in its read loop (bridge.InstantReaders).

// applets remembers the applet version per reader and card insertion.
type applets struct {
	mu sync.Mutex
	m  map[string]appletEntry
}

type appletEntry struct {
	insertion uint64
	version   string
}

func (a *applets) get(reader string, insertion uint64) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.m[reader]
	return e.version, ok && insertion != 0 && e.insertion == insertion
}

func (a *applets) put(reader string, insertion uint64, version string) {
	if insertion == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]appletEntry{}
	}
	a.m[reader] = appletEntry{insertion, version}
}

// ReadersNow implements bridge.InstantReaders: it answers from memory when
// the monitor is up and knows every BELPIC card's applet version.
func (b *Backend) ReadersNow() ([]bridge.ReaderInfo, bool) {
	if b.Monitor == nil {
		return nil, false
	}
	snap := b.Monitor.Snapshot()
	if snap.Service != ServiceUp || !snap.Synced {
		return nil, false
	}
	out := make([]bridge.ReaderInfo, 0, len(snap.Readers))
	for _, r := range snap.Readers {
		if r.Card == card.KindUnknown {
			// Told from the ATR of the insertion event, which a reader
			// may report before the card's answer is complete: let the
			// slow path look at the card.
			return nil, false
		}
		info := bridge.ReaderInfo{Name: r.Name, Card: r.Card}
		if r.Card == card.KindBELPIC {
			v, ok := b.applets.get(r.Name, r.Insertion)
			if !ok {
				return nil, false
			}
			info.AppletVersion = v
		}
		out = append(out, info)
	}
	return out, true
}

// noteEvent is the Monitor hook: a BELPIC card's applet version is asked
// once, right after its insertion, in the background.
func (b *Backend) noteEvent(e card.Event, insertion uint64) {
	if b.Counter != nil && b.Counter.active() {
		return // the counter's insertion read learns the applet version
	}
	if e.Type == card.EventCardInserted && card.IsBELPICATR(e.ATR) {
		go b.detectApplet(e.Reader, insertion)
	}
}

func (b *Backend) detectApplet(reader string, insertion uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	release, err := b.queue.acquire(ctx, reader, 10*time.Second)
	if err != nil {
		return
	}
	defer release()
	c, err := b.hw().Connect(reader)
	if err != nil {
		return
	}
	defer c.Close()
	raw, err := c.GetCardData()
	if err != nil {
		return
	}
	d, err := card.ParseCardData(raw)
	if err != nil {
		return
	}
	if b.Monitor.Insertion(reader) == insertion {
		b.applets.put(reader, insertion, d.AppletVersion)
	}
}
