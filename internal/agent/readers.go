package agent

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/card/eidfile"
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
		info := bridge.ReaderInfo{Name: r.Name, Card: cardKind(r.Card)}
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
		b.bg.run(func(ctx context.Context) { b.detectApplet(ctx, e.Reader, insertion) })
	}
}

// detectApplet asks the card in reader its applet version. A failure only
// costs ReadersNow its shortcut (readers then asks the card), but it is
// logged: a card that cannot answer GET CARD DATA is what a help desk
// wants to hear about.
func (b *Backend) detectApplet(ctx context.Context, reader string, insertion uint64) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := func() error {
		release, err := b.queue.acquire(ctx, reader, 10*time.Second)
		if err != nil {
			return err
		}
		defer release()
		c, err := b.hw().Connect(reader)
		if err != nil {
			return err
		}
		defer c.Close()
		raw, err := c.ReadCardData()
		if err != nil {
			return err
		}
		d, err := eidfile.ParseCardData(raw)
		if err != nil {
			return err
		}
		if b.Monitor.Insertion(reader) == insertion {
			b.applets.put(reader, insertion, d.AppletVersion)
		}
		return nil
	}()
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled), errors.Is(err, card.ErrCardRemoved), errors.Is(err, card.ErrNoCard):
		// Shutdown, or the card left again: nothing to report.
		b.log().Debug("applet version not read", "reader", reader, "err", err)
	default:
		b.log().Warn("applet version not read", "reader", reader, "err", err)
	}
}

// background runs the work the backend starts by itself (no request asked
// for it) so that Close can stop it and wait: none of it outlives the
// agent's shutdown.
type background struct {
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	closed bool
	wg     sync.WaitGroup
}

func (g *background) run(f func(ctx context.Context)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	if g.ctx == nil {
		g.ctx, g.cancel = context.WithCancel(context.Background())
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f(g.ctx)
	}()
}

func (g *background) close() {
	g.mu.Lock()
	g.closed = true
	if g.cancel != nil {
		g.cancel()
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// Close stops the backend's own background work (the applet detection
// after an insertion) and waits for it. Requests are the bridge's to end.
func (b *Backend) Close() { b.bg.close() }
