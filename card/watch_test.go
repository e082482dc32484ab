package card_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/internal/vpcd"
)

// TestWatch: the watcher reports the lab's readers, then a card inserted
// and removed, each within a second (pcscd polls presence every 400 ms).
func TestWatch(t *testing.T) {
	slots := lab.Slots(t)
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan card.Event, 64)
	done := make(chan error, 1)
	go func() { done <- card.Watch(ctx, events, 0) }()
	defer func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Watch returned %v", err)
		}
	}()

	// Only the lab slots this test was given count: readers beyond them
	// may be someone else's.
	ours := func(e card.Event) bool {
		return e.Reader == "" || slices.ContainsFunc(slots, func(s lab.Slot) bool { return s.Reader == e.Reader })
	}
	next := func(within time.Duration) card.Event {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case e := <-events:
				if ours(e) {
					return e
				}
			case <-deadline:
				t.Fatalf("no event within %v", within)
				return card.Event{}
			}
		}
	}
	if e := next(2 * time.Second); e.Type != card.EventServiceUp {
		t.Fatalf("first event %+v, want service-up", e)
	}
	added := map[string]bool{}
	missing := func() bool {
		for _, s := range slots {
			if !added[s.Reader] {
				return true
			}
		}
		return false
	}
	for missing() {
		e := next(2 * time.Second)
		if e.Type != card.EventReaderAdded {
			t.Fatalf("initial state: unexpected %+v (readers so far %v)", e, added)
		}
		added[e.Reader] = true
	}
	if e := next(2 * time.Second); e.Type != card.EventSynced {
		t.Fatalf("after the initial state: %+v, want synced", e)
	}

	p, err := virtual.Preset("citizen-1.7")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		start := time.Now()
		in, err := vpcd.Insert(context.Background(), slots[0].Addr, virtual.New(p))
		if err != nil {
			t.Fatal(err)
		}
		e := next(time.Second)
		if e.Type != card.EventCardInserted || e.Reader != slots[0].Reader || !bytes.Equal(e.ATR, p.ATR) {
			t.Fatalf("insertion %d: %+v", i, e)
		}
		t.Logf("insert seen after %v", time.Since(start).Round(time.Millisecond))
		start = time.Now()
		in.Remove()
		e = next(time.Second)
		if e.Type != card.EventCardRemoved || e.Reader != slots[0].Reader {
			t.Fatalf("removal %d: %+v", i, e)
		}
		t.Logf("removal seen after %v", time.Since(start).Round(time.Millisecond))
	}
	quiet := time.After(600 * time.Millisecond)
	for {
		select {
		case e := <-events:
			if ours(e) {
				t.Errorf("unexpected event %+v", e)
			}
		case <-quiet:
			return
		}
	}
}

// TestWatchServiceRestart stops pcscd under the watcher and starts it
// again: the watcher reports the card and readers gone and the service
// down, then recovers by itself (service up, readers, the card) without
// being restarted.
func TestWatchServiceRestart(t *testing.T) {
	slots := lab.Slots(t)
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan card.Event, 64)
	done := make(chan error, 1)
	go func() { done <- card.Watch(ctx, events, 200*time.Millisecond) }()
	defer func() {
		cancel()
		<-done
	}()
	waitFor := func(typ card.EventType, reader string, within time.Duration) {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case e := <-events:
				if e.Type == typ && (reader == "" || e.Reader == reader) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s %s within %v", typ, reader, within)
			}
		}
	}
	p, err := virtual.Preset("citizen-1.8")
	if err != nil {
		t.Fatal(err)
	}
	in, err := vpcd.Insert(context.Background(), slots[0].Addr, virtual.New(p))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(card.EventCardInserted, slots[0].Reader, 2*time.Second)

	// pcscd goes away: vpcd closes the card's connection, so the card must
	// be inserted again after the restart, as a real one would be re-read.
	lab.RestartService(t, 500*time.Millisecond)
	in.Remove()
	waitFor(card.EventServiceDown, "", 3*time.Second)
	waitFor(card.EventServiceUp, "", 3*time.Second)
	waitFor(card.EventReaderAdded, slots[0].Reader, 3*time.Second)
	in, err = vpcd.Insert(context.Background(), slots[0].Addr, virtual.New(p))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Remove()
	waitFor(card.EventCardInserted, slots[0].Reader, 2*time.Second)
}

// TestWatchServiceDownCause: when the PC/SC service cannot be reached the
// service-down event carries the PC/SC error, so the agent can log it and
// show it in status. pcsc-lite reads its socket's name once per process,
// so the watcher runs in a child process pointed at a socket that does
// not exist.
func TestWatchServiceDownCause(t *testing.T) {
	if os.Getenv("EID_WATCH_CHILD") == "1" {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		events := make(chan card.Event, 8)
		go card.Watch(ctx, events, 50*time.Millisecond)
		for e := range events {
			if e.Type == card.EventServiceDown {
				fmt.Printf("service-down cause: %v\n", e.Err)
				return
			}
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchServiceDownCause$", "-test.v")
	cmd.Env = append(os.Environ(), "EID_WATCH_CHILD=1", "PCSCLITE_CSOCK_NAME="+filepath.Join(t.TempDir(), "no-pcscd.comm"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`service-down cause: (.*)`).FindSubmatch(out)
	if m == nil || !strings.HasPrefix(string(m[1]), "SCardEstablishContext: ") || strings.HasSuffix(string(m[1]), "<nil>") {
		t.Fatalf("service-down without its cause:\n%s", out)
	}
	t.Logf("cause: %s", m[1])
}
