package agent

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/eid-agent/eid-agent/card"
)

// Monitor watches the hardware once for the whole agent and fans the
// events out to every subscriber, so a hundred websocket clients cost one
// SCardGetStatusChange wait, not a hundred. It also keeps the current
// state for `status` and numbers each card insertion, which the agent
// uses to do once-per-card work (the 1.8 chip check, caches) once per
// insertion.
type Monitor struct {
	hw Hardware
	// Log gets the service going down (with its PC/SC cause) and coming
	// back; nil discards.
	Log *slog.Logger

	mu      sync.Mutex
	readers map[string]*readerState
	service string // ServiceUp, ServiceDown or ServiceStarting
	cause   string // why the service is down
	synced  bool   // the readers and cards of the service are all known
	since   time.Time
	seq     uint64 // insertion counter
	subs    map[*subscription]struct{}
	hooks   []func(card.Event, uint64)
}

// Service states reported by status.
const (
	ServiceStarting = "starting"
	ServiceUp       = "up"
	ServiceDown     = "down"
)

type readerState struct {
	kind      card.Kind
	atr       []byte
	insertion uint64 // 0: no card
	since     time.Time
}

type subscription struct {
	ch   chan card.Event
	lost bool
}

// subscriberBuffer is how far a subscriber may lag before it is cut off
// (its channel closed): a client that stopped reading must not make the
// agent hold events without bound.
const subscriberBuffer = 256

// NewMonitor returns a monitor of hw; call Run to start it.
func NewMonitor(hw Hardware) *Monitor {
	return &Monitor{hw: hw, readers: map[string]*readerState{}, service: ServiceStarting,
		since: time.Now(), subs: map[*subscription]struct{}{}}
}

// OnEvent registers f to be called (synchronously, in event order) with
// each event and, for card-inserted, the new insertion number.
func (m *Monitor) OnEvent(f func(e card.Event, insertion uint64)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hooks = append(m.hooks, f)
}

// Run watches until ctx ends. Should the watch itself fail, the service
// is reported down with that cause (in the log and in status) and the
// error returned.
func (m *Monitor) Run(ctx context.Context) error {
	events := make(chan card.Event, 64)
	done := make(chan error, 1)
	go func() { done <- m.hw.Watch(ctx, events) }()
	for {
		select {
		case e := <-events:
			m.apply(e)
		case err := <-done:
			// Drain what Watch sent before returning.
			for {
				select {
				case e := <-events:
					m.apply(e)
				default:
					if err != nil && ctx.Err() == nil {
						m.apply(card.Event{Type: card.EventServiceDown, Err: fmt.Errorf("reader watch stopped: %w", err)})
					}
					m.closeAll()
					return err
				}
			}
		}
	}
}

func (m *Monitor) log() *slog.Logger {
	if m.Log != nil {
		return m.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (m *Monitor) apply(e card.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	var insertion uint64
	switch e.Type {
	case card.EventReaderAdded:
		if _, ok := m.readers[e.Reader]; !ok {
			m.readers[e.Reader] = &readerState{kind: card.KindNone, since: now}
		}
		if m.service != ServiceUp {
			m.service, m.since = ServiceUp, now
		}
	case card.EventReaderRemoved:
		delete(m.readers, e.Reader)
	case card.EventCardInserted:
		m.seq++
		insertion = m.seq
		kind := card.KindUnknown
		if card.IsBELPICATR(e.ATR) {
			kind = card.KindBELPIC
		}
		m.readers[e.Reader] = &readerState{kind: kind, atr: e.ATR, insertion: insertion, since: now}
	case card.EventCardRemoved:
		if r, ok := m.readers[e.Reader]; ok {
			*r = readerState{kind: card.KindNone, since: now}
		}
	case card.EventServiceDown:
		m.service, m.since = ServiceDown, now
		m.cause = "unknown"
		if e.Err != nil {
			m.cause = e.Err.Error()
		}
		m.synced = false
		clear(m.readers)
		m.log().Warn("PC/SC service down", "err", m.cause)
	case card.EventServiceUp:
		if m.service == ServiceDown {
			m.log().Info("PC/SC service up")
		}
		m.service, m.since = ServiceUp, now
		m.cause = ""
		m.synced = false
	case card.EventSynced:
		m.synced = true
	}
	for _, h := range m.hooks {
		h(e, insertion)
	}
	for s := range m.subs {
		select {
		case s.ch <- e:
		default:
			s.lost = true
			close(s.ch)
			delete(m.subs, s)
		}
	}
}

func (m *Monitor) closeAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for s := range m.subs {
		close(s.ch)
		delete(m.subs, s)
	}
}

// Subscribe returns the events from now on, preceded by the current state
// (reader-added for each reader, card-inserted for each card; or
// service-down), so a subscriber needs nothing else. The channel closes
// when ctx ends or the subscriber falls subscriberBuffer events behind.
func (m *Monitor) Subscribe(ctx context.Context) <-chan card.Event {
	s := &subscription{ch: make(chan card.Event, subscriberBuffer)}
	m.mu.Lock()
	if m.service == ServiceDown {
		s.ch <- card.Event{Type: card.EventServiceDown}
	}
	for _, name := range m.namesLocked() {
		r := m.readers[name]
		s.ch <- card.Event{Type: card.EventReaderAdded, Reader: name}
		if r.insertion != 0 && len(s.ch) < cap(s.ch) {
			s.ch <- card.Event{Type: card.EventCardInserted, Reader: name, ATR: r.atr}
		}
		if len(s.ch) >= cap(s.ch)-1 {
			break // absurdly many readers; the rest come with status
		}
	}
	m.subs[s] = struct{}{}
	m.mu.Unlock()
	go func() {
		<-ctx.Done()
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := m.subs[s]; ok {
			close(s.ch)
			delete(m.subs, s)
		}
	}()
	return s.ch
}

func (m *Monitor) namesLocked() []string {
	names := make([]string, 0, len(m.readers))
	for n := range m.readers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Insertion returns the insertion number of the card now in reader, 0
// when none (or unknown yet).
func (m *Monitor) Insertion(reader string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.readers[reader]; ok {
		return r.insertion
	}
	return 0
}

// ReaderSnapshot is one reader in a Snapshot; no personal data.
type ReaderSnapshot struct {
	Name  string    `json:"name"`
	Card  card.Kind `json:"card"` // KindNone, KindBELPIC, KindUnknown
	Since time.Time `json:"since"`
	// Insertion numbers the card in the reader (0: none).
	Insertion uint64 `json:"-"`
}

// Snapshot is what the monitor sees now.
type Snapshot struct {
	// Synced: the initial state of the service is complete (readers and
	// cards); before, Readers may be missing some.
	Synced       bool      `json:"-"`
	Service      string    `json:"service"`
	ServiceSince time.Time `json:"serviceSince"`
	ServiceError string    `json:"serviceError,omitempty"` // why it is down

	Readers     []ReaderSnapshot `json:"readers"`
	Subscribers int              `json:"subscribers"`
}

// Snapshot returns the current state.
func (m *Monitor) Snapshot() Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Snapshot{Synced: m.synced, Service: m.service, ServiceSince: m.since, ServiceError: m.cause, Readers: []ReaderSnapshot{}, Subscribers: len(m.subs)}
	for _, n := range m.namesLocked() {
		r := m.readers[n]
		s.Readers = append(s.Readers, ReaderSnapshot{Name: n, Card: r.kind, Since: r.since, Insertion: r.insertion})
	}
	return s
}
