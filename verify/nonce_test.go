package verify

import (
	"encoding/base64"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/testkit"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/bridge/webeid"
)

func TestNewNonce(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		n, err := NewNonce()
		if err != nil {
			t.Fatal(err)
		}
		if len(n) != 44 {
			t.Fatalf("%q: %d characters, want 44", n, len(n))
		}
		if b, err := base64.StdEncoding.DecodeString(n); err != nil || len(b) != NonceBytes {
			t.Fatalf("%q: %v, %d bytes", n, err, len(b))
		}
		// The agent must accept what we issue.
		if err := webeid.ValidateNonce(n); err != nil {
			t.Fatal(err)
		}
		if seen[n] {
			t.Fatal("repeated nonce")
		}
		seen[n] = true
	}
}

func TestMemoryNonceStore(t *testing.T) {
	clock := testkit.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	s := &MemoryNonceStore{Now: clock.Now}
	a, err := s.Issue()
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		advance time.Duration
		nonce   string
		want    error
	}{
		{"unknown", 0, "never-issued", ErrNonceUnknown},
		{"first take", 4 * time.Minute, a, nil},
		{"second take", 0, a, ErrNonceReplayed},
	}
	for _, st := range steps {
		clock.Add(st.advance)
		if err := s.Take(st.nonce); !errors.Is(err, st.want) {
			t.Fatalf("%s: got %v, want %v", st.name, err, st.want)
		}
	}

	b, _ := s.Issue()
	clock.Add(DefaultNonceLifetime)
	if err := s.Take(b); !errors.Is(err, ErrNonceExpired) {
		t.Fatalf("at expiry: %v", err)
	}
	if err := s.Take(b); !errors.Is(err, ErrNonceReplayed) {
		t.Fatalf("after an expired take: %v", err)
	}
	if err := s.Put(b, clock.Now().Add(time.Minute)); err == nil {
		t.Fatal("re-issuing a known nonce was accepted")
	}

	// After lifetime + grace the entries go: memory stays bounded.
	clock.Add(2*DefaultNonceLifetime + time.Second)
	s.Cleanup()
	if n := s.Len(); n != 0 {
		t.Fatalf("%d entries after cleanup", n)
	}
	if _, err := s.Issue(); err != nil {
		t.Fatal(err)
	}
	clock.Add(3 * DefaultNonceLifetime)
	if _, err := s.Issue(); err != nil { // Put sweeps too
		t.Fatal(err)
	}
	if n := s.Len(); n != 1 {
		t.Fatalf("%d entries, want 1 after Put's sweep", n)
	}
}

func TestMemoryNonceStoreLifetime(t *testing.T) {
	clock := testkit.NewClock(clock.Now())
	s := &MemoryNonceStore{Now: clock.Now, Lifetime: time.Second}
	n, _ := s.Issue()
	clock.Add(2 * time.Second)
	if err := s.Take(n); !errors.Is(err, ErrNonceExpired) {
		t.Fatalf("got %v", err)
	}
}

// TestNonceTakeOnce: under contention exactly one Take wins.
func TestNonceTakeOnce(t *testing.T) {
	var s MemoryNonceStore // zero value works
	n, err := s.Issue()
	if err != nil {
		t.Fatal(err)
	}
	var wins, replays atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := s.Take(n); {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, ErrNonceReplayed):
				replays.Add(1)
			}
			s.Issue() // concurrent Puts as well
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || replays.Load() != 63 {
		t.Fatalf("%d wins, %d replays", wins.Load(), replays.Load())
	}
}
