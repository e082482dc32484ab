package agent

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/agent/simulator"
)

// scripted is hardware whose watch sends a fixed list of events, then
// returns err (or waits for the end when err is nil).
type scripted struct {
	Hardware
	events []card.Event
	err    error
	sent   chan struct{}
}

func (s scripted) Watch(ctx context.Context, events chan<- card.Event) error {
	for _, e := range s.events {
		events <- e
	}
	close(s.sent)
	if s.err != nil {
		return s.err
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestMonitorServiceCause: the PC/SC error that took the service away is
// in the snapshot (and so in status) and in the log, until it comes back;
// a watch that fails outright is reported the same way.
func TestMonitorServiceCause(t *testing.T) {
	var logs syncBuffer
	cause := errors.New("SCardEstablishContext: scard: Service not available.")
	hw := scripted{Hardware: simulator.New(nil), sent: make(chan struct{}), events: []card.Event{
		{Type: card.EventServiceDown, Err: cause},
	}}
	m := NewMonitor(hw)
	m.Log = slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	<-hw.sent
	for m.Snapshot().Service != ServiceDown {
		time.Sleep(time.Millisecond) // apply runs right after the send
	}
	if got := m.Snapshot().ServiceError; got != cause.Error() {
		t.Errorf("ServiceError %q", got)
	}
	m.apply(card.Event{Type: card.EventServiceUp})
	if s := m.Snapshot(); s.Service != ServiceUp || s.ServiceError != "" {
		t.Errorf("after service-up: %+v", s)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
	if !strings.Contains(logs.String(), `msg="PC/SC service down" err="SCardEstablishContext: scard: Service not available."`) ||
		!strings.Contains(logs.String(), `msg="PC/SC service up"`) {
		t.Errorf("log:\n%s", logs.String())
	}

	broken := scripted{Hardware: hw.Hardware, sent: make(chan struct{}), err: errors.New("watch broke")}
	m = NewMonitor(broken)
	if err := m.Run(context.Background()); err == nil || err.Error() != "watch broke" {
		t.Errorf("Run: %v", err)
	}
	if s := m.Snapshot(); s.Service != ServiceDown || !strings.Contains(s.ServiceError, "watch broke") {
		t.Errorf("after a failed watch: %+v", s)
	}
}
