package agent

import (
	"context"
	"crypto/x509"
	"errors"
	"time"

	"github.com/eid-agent/eid-agent/card"
)

// Hardware is where the agent finds readers and cards: PC/SC (the real
// thing) or the built-in simulator of `eid-agent run --simulate`. Both
// hand out card.Card values, so everything above this interface runs the
// same code for a real and a simulated card.
type Hardware interface {
	// Readers lists the readers and what each holds; no reader is an
	// empty list, not an error.
	Readers() ([]card.ReaderStatus, error)
	// Choose returns the named reader (which must hold a card), or the
	// only reader holding a card when name is empty.
	Choose(name string) (string, error)
	// Connect opens the card in reader. The caller closes it.
	Connect(reader string) (*card.Card, error)
	// Watch reports reader, card and service events until ctx ends, as
	// card.Watch does.
	Watch(ctx context.Context, events chan<- card.Event) error
}

// RootProvider is implemented by hardware whose cards chain to roots of
// their own (the simulator's test PKIs): reads trust them in addition to
// the configured trust store.
type RootProvider interface {
	Roots() []*x509.Certificate
}

// PCSC is the Hardware of the PC/SC service (pcscd, WinSCard). It opens a
// PC/SC context per operation: a context outlives a pcscd restart badly
// (every call then fails with "service stopped"), and establishing one is
// a local IPC round trip, cheap next to any card command.
type PCSC struct {
	// Retry is how often Watch retries while the service is down
	// (default 1 s).
	Retry time.Duration
}

func (PCSC) Readers() ([]card.ReaderStatus, error) {
	pc, err := card.NewContext()
	if err != nil {
		return nil, err
	}
	defer pc.Release()
	rs, err := pc.Readers()
	if errors.Is(err, card.ErrNoReader) {
		return []card.ReaderStatus{}, nil
	}
	return rs, err
}

func (PCSC) Choose(name string) (string, error) {
	pc, err := card.NewContext()
	if err != nil {
		return "", err
	}
	defer pc.Release()
	return pc.ChooseReader(name)
}

// Connect opens the card; the context is released when the card is
// closed.
func (PCSC) Connect(reader string) (*card.Card, error) {
	pc, err := card.NewContext()
	if err != nil {
		return nil, err
	}
	c, err := pc.Connect(reader)
	if err != nil {
		pc.Release()
		return nil, err
	}
	c.OnClose(func() { pc.Release() })
	return c, nil
}

func (p PCSC) Watch(ctx context.Context, events chan<- card.Event) error {
	return card.Watch(ctx, events, p.Retry)
}
