// Package simulator is the agent's built-in virtual reader: one reader
// holding (or not) a card of the card/virtual emulator, reached without
// PC/SC. It is what `eid-agent run --simulate` serves, so a newcomer sees
// the whole product work on a machine with no reader and no pcscd.
//
// It implements the agent's Hardware interface. The emulator is the same
// one the PC/SC tests put behind vpcd; only the transport differs.
package simulator

import (
	"context"
	"crypto/x509"
	"fmt"
	"sync"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/virtual"
)

// ReaderName is the simulated reader's name.
const ReaderName = "eid-agent Virtual Reader 0"

// DefaultProfile is inserted at start unless told otherwise.
const DefaultProfile = "citizen-1.8"

// ErrUnknownProfile: the profile is neither a preset nor a dump folder.
var ErrUnknownProfile = virtual.ErrUnknownPreset

// Simulator is one virtual reader. Safe for concurrent use.
type Simulator struct {
	mu      sync.Mutex
	card    *virtual.Card // nil: no card
	profile string
	// insertion counts insertions, so a Card opened before a removal
	// fails (ErrCardRemoved) even after another card went in.
	insertion uint64
	roots     []*x509.Certificate
	watchers  map[chan<- card.Event]struct{}
	load      func(name string) (*virtual.Profile, error)
}

// New returns an empty reader. load resolves a profile name (nil:
// virtual.Preset).
func New(load func(name string) (*virtual.Profile, error)) *Simulator {
	if load == nil {
		load = virtual.Preset
	}
	return &Simulator{watchers: map[chan<- card.Event]struct{}{}, load: load}
}

// Profiles lists the built-in card profiles.
func Profiles() []string { return virtual.PresetNames() }

// Insert puts a new card of profile in the reader, removing the one there.
// Generating a profile's keys takes a moment the first time.
func (s *Simulator) Insert(profile string) error {
	p, err := s.load(profile)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	c := virtual.New(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.card != nil {
		s.removeLocked()
	}
	if p.PKI != nil && p.PKI.Root != nil && !containsCert(s.roots, p.PKI.Root) {
		s.roots = append(s.roots, p.PKI.Root)
	}
	c.PowerOn()
	s.card, s.profile = c, profile
	s.insertion++
	s.broadcastLocked(card.Event{Type: card.EventCardInserted, Reader: ReaderName, ATR: c.ATR()})
	return nil
}

// Remove takes the card out; removing from an empty reader does nothing.
func (s *Simulator) Remove() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.card != nil {
		s.removeLocked()
	}
}

func (s *Simulator) removeLocked() {
	s.card.PowerOff()
	s.card, s.profile = nil, ""
	s.insertion++
	s.broadcastLocked(card.Event{Type: card.EventCardRemoved, Reader: ReaderName})
}

// Profile returns the inserted card's profile, or "" when empty.
func (s *Simulator) Profile() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.profile
}

// Roots returns the test roots of every card inserted so far, so the
// agent can check their National Register chains.
func (s *Simulator) Roots() []*x509.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*x509.Certificate(nil), s.roots...)
}

func (s *Simulator) Readers() ([]card.ReaderStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := card.ReaderStatus{Name: ReaderName, Kind: card.KindNone}
	if s.card != nil {
		st.Kind, st.ATR = card.KindBELPIC, s.card.ATR()
		st.AppletVersion = s.card.Profile().Applet
	}
	return []card.ReaderStatus{st}, nil
}

func (s *Simulator) Choose(name string) (string, error) {
	if name != "" && name != ReaderName {
		return "", fmt.Errorf("%q: %w", name, card.ErrReaderNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.card == nil {
		return "", card.ErrNoCard
	}
	return ReaderName, nil
}

func (s *Simulator) Connect(reader string) (*card.Card, error) {
	if reader != ReaderName {
		return nil, fmt.Errorf("%q: %w", reader, card.ErrReaderNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.card == nil {
		return nil, card.ErrNoCard
	}
	t := &transport{s: s, c: s.card, insertion: s.insertion}
	return card.New(t, ReaderName, s.card.ATR()), nil
}

// transport sends APDUs to the card that was inserted when it was opened.
type transport struct {
	s         *Simulator
	c         *virtual.Card
	insertion uint64
}

func (t *transport) Transmit(cmd []byte) ([]byte, error) {
	t.s.mu.Lock()
	same := t.s.insertion == t.insertion
	t.s.mu.Unlock()
	if !same {
		return nil, card.ErrCardRemoved
	}
	return t.c.Transmit(cmd), nil
}

// Watch reports the reader (reader-added) and its card at start, then
// synced, then every insertion and removal, until ctx ends.
func (s *Simulator) Watch(ctx context.Context, events chan<- card.Event) error {
	// Buffered so Insert never waits for this watcher's consumer; Watch
	// forwards the events in order.
	ch := make(chan card.Event, 64)
	s.mu.Lock()
	ch <- card.Event{Type: card.EventReaderAdded, Reader: ReaderName}
	if s.card != nil {
		ch <- card.Event{Type: card.EventCardInserted, Reader: ReaderName, ATR: s.card.ATR()}
	}
	ch <- card.Event{Type: card.EventSynced}
	s.watchers[ch] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watchers, ch)
		s.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-ch:
			select {
			case events <- e:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

func (s *Simulator) broadcastLocked(e card.Event) {
	for ch := range s.watchers {
		select {
		case ch <- e:
		default:
			// A watcher 64 events behind is stuck; it would rather miss
			// an event than block card insertion for everyone.
		}
	}
}

func containsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range list {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// TestCertificates returns the root and CA certificates of every built-in
// profile's test PKI (generating the profiles the first time, under a
// second), so that whatever card the simulator holds, its National
// Register and authentication chains can be checked.
func TestCertificates() ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, name := range Profiles() {
		p, err := virtual.Preset(name)
		if err != nil {
			return nil, err
		}
		if p.PKI == nil {
			continue
		}
		for _, c := range []*x509.Certificate{p.PKI.Root, p.PKI.CA} {
			if c != nil && !containsCert(out, c) {
				out = append(out, c)
			}
		}
	}
	return out, nil
}
