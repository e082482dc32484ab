package card

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ebfe/scard"
)

// EventType is the kind of an Event.
type EventType string

// Kinds of Event.
const (
	EventReaderAdded   EventType = "reader-added"
	EventReaderRemoved EventType = "reader-removed"
	EventCardInserted  EventType = "card-inserted"
	EventCardRemoved   EventType = "card-removed"
	EventServiceDown   EventType = "service-down" // pcscd stopped or not running; Watch keeps trying
	EventServiceUp     EventType = "service-up"
	// EventSynced follows the initial state (after service-up, the
	// reader-added and card-inserted events of what is there): from then
	// on, a watcher's picture of the readers is complete.
	EventSynced EventType = "synced"
)

// Event is a change of the PC/SC world. It holds no personal data: a
// reader name, the ATR of an inserted card, and for service-down the PC/SC
// error that took the service away (a help desk needs it: "service not
// available" is not "no readers" nor "access denied").
type Event struct {
	Type   EventType
	Reader string
	ATR    []byte
	Err    error // service-down only
}

// pnpReader is the pseudo-reader whose state changes when readers come and
// go (PC/SC "PnP notification"); pcsc-lite wants the reader count in the
// high word of its current state.
const pnpReader = `\\?PnP?\Notification`

// watchWait bounds one SCardGetStatusChange wait.
const watchWait = 5 * time.Second

// Watch reports reader and card changes on events until ctx is done, then
// returns ctx's error. It starts with the current state (reader-added for
// each reader, card-inserted for each card) so a subscriber needs nothing
// else. It uses its own PC/SC context and blocks in SCardGetStatusChange
// without polling; a stopped PC/SC service (pcscd restarted, or not
// running at start) is reported once as service-down and retried every
// retry interval until it is back (service-up, then the state again).
// The first working context is reported as service-up as well, and each
// initial state is followed by EventSynced.
//
// Watch never sends on events after it returned.
func Watch(ctx context.Context, events chan<- Event, retry time.Duration) error {
	if retry <= 0 {
		retry = time.Second
	}
	w := &watcher{events: events, known: map[string]*readerState{}}
	// down starts true so that the first working context is reported as
	// service-up too: a watcher of a service with no reader otherwise
	// cannot tell "up, empty" from "still connecting".
	down, first := true, true
	for {
		pc, err := scard.EstablishContext()
		if err != nil {
			err = fmt.Errorf("SCardEstablishContext: %w", err)
		} else {
			if down {
				down, first = false, false
				if !w.send(ctx, Event{Type: EventServiceUp}) {
					return ctx.Err()
				}
			}
			err = w.run(ctx, pc)
			pc.Release()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The service went away (or never was): every reader is gone.
		if !down || first {
			down, first = true, false
			if !w.forgetAll(ctx) || !w.send(ctx, Event{Type: EventServiceDown, Err: err}) {
				return ctx.Err()
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retry):
		}
	}
}

type watcher struct {
	events chan<- Event
	known  map[string]*readerState // by reader name
}

// readerState is what the watcher last knew of a reader: the state to give
// GetStatusChange as current, and whether a card is in (with its ATR),
// which survives the transient "unknown/unavailable" states pcsc-lite
// reports while a card leaves.
type readerState struct {
	flags   scard.StateFlag
	present bool
	atr     []byte
}

func (w *watcher) send(ctx context.Context, e Event) bool {
	select {
	case w.events <- e:
		return true
	case <-ctx.Done():
		return false
	}
}

// forgetAll reports every known card and reader as gone.
func (w *watcher) forgetAll(ctx context.Context) bool {
	names := make([]string, 0, len(w.known))
	for n := range w.known {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if !w.drop(ctx, n) {
			return false
		}
	}
	return true
}

func (w *watcher) drop(ctx context.Context, name string) bool {
	st := w.known[name]
	delete(w.known, name)
	if st.present && !w.send(ctx, Event{Type: EventCardRemoved, Reader: name}) {
		return false
	}
	return w.send(ctx, Event{Type: EventReaderRemoved, Reader: name})
}

// run watches with one PC/SC context until it fails or ctx is done.
func (w *watcher) run(ctx context.Context, pc *scard.Context) error {
	// GetStatusChange blocks in C; Cancel is the way to interrupt it.
	stop := context.AfterFunc(ctx, func() { pc.Cancel() })
	defer stop()
	synced := false
	sync := func() bool {
		if synced {
			return true
		}
		synced = true
		return w.send(ctx, Event{Type: EventSynced})
	}
	for {
		names, err := pc.ListReaders()
		if err != nil && !errors.Is(err, scard.ErrNoReadersAvailable) {
			return fmt.Errorf("SCardListReaders: %w", err)
		}
		for n := range w.known {
			if !slices.Contains(names, n) && !w.drop(ctx, n) {
				return ctx.Err()
			}
		}
		states := make([]scard.ReaderState, 0, len(names)+1)
		for _, n := range names {
			cur := scard.StateUnaware
			if st, ok := w.known[n]; ok {
				cur = st.flags
			} else if !w.send(ctx, Event{Type: EventReaderAdded, Reader: n}) {
				return ctx.Err()
			}
			states = append(states, scard.ReaderState{Reader: n, CurrentState: cur})
		}
		states = append(states, scard.ReaderState{Reader: pnpReader, CurrentState: scard.StateFlag(len(names) << 16)})
		if len(names) == 0 && !sync() {
			// No reader: the initial state is complete already (the wait
			// below only ends when one appears).
			return ctx.Err()
		}
		for {
			// Cancel only interrupts a call already waiting; one that
			// starts after it would wait forever. So the wait is bounded
			// and ctx checked between waits (a wake-up every few seconds
			// costs nothing measurable).
			if err := ctx.Err(); err != nil {
				return err
			}
			err := pc.GetStatusChange(states, watchWait)
			if errors.Is(err, scard.ErrTimeout) {
				continue
			}
			if err != nil {
				return fmt.Errorf("SCardGetStatusChange: %w", err)
			}
			break
		}
		for i := range states[:len(states)-1] {
			if !w.update(ctx, states[i]) {
				return ctx.Err()
			}
		}
		// The first wait returns at once (every reader was unaware), so
		// the cards are known now.
		if !sync() {
			return ctx.Err()
		}
	}
}

// update compares a reader's new state with what was known and reports
// insertions and removals. The event counter in the high word catches a
// card swapped between two looks.
func (w *watcher) update(ctx context.Context, st scard.ReaderState) bool {
	prev, seen := w.known[st.Reader]
	if !seen {
		prev = &readerState{}
		w.known[st.Reader] = prev
	}
	oldFlags := prev.flags
	prev.flags = st.EventState
	if st.EventState&(scard.StateUnknown|scard.StateIgnore|scard.StateUnavailable) != 0 {
		// Transient while a card leaves, or the reader is going away (the
		// next ListReaders tells): keep what we knew of the card.
		return true
	}
	now := st.EventState&scard.StatePresent != 0
	if now && !prev.present && len(st.Atr) == 0 && st.EventState&scard.StateMute == 0 {
		// Present but not powered up yet: pcscd reports the card again
		// once it has its ATR, which tells a Belgian eID from another
		// card. (A mute card never answers: it is reported at once.)
		return true
	}
	swapped := prev.present && now && oldFlags>>16 != st.EventState>>16 && !bytes.Equal(prev.atr, st.Atr)
	if prev.present && (!now || swapped) && !w.send(ctx, Event{Type: EventCardRemoved, Reader: st.Reader}) {
		return false
	}
	if now && (!prev.present || swapped) {
		prev.atr = append([]byte(nil), st.Atr...)
		if !w.send(ctx, Event{Type: EventCardInserted, Reader: st.Reader, ATR: prev.atr}) {
			return false
		}
	}
	prev.present = now
	return true
}
