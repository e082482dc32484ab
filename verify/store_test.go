package verify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// ctxStore is a ContextNonceStore over a MemoryNonceStore that records the
// context it was given and can be made "down".
type ctxStore struct {
	*MemoryNonceStore
	down   bool
	gotCtx context.Context
}

type ctxKey struct{}

func (s *ctxStore) TakeContext(ctx context.Context, nonce string) error {
	s.gotCtx = ctx
	if s.down {
		return fmt.Errorf("test store: %w: connection refused", ErrStoreUnavailable)
	}
	return s.MemoryNonceStore.Take(nonce)
}

func TestContextNonceStore(t *testing.T) {
	f := newFixture(t)
	s := &ctxStore{MemoryNonceStore: f.store}
	f.v.Nonces = s
	f.v.OCSP.Policy = OCSPOff
	ctx := context.WithValue(context.Background(), ctxKey{}, "request")

	n := f.nonce(t)
	if _, err := f.v.Validate(ctx, agentToken(t, f.pki.authEC, origin, n, false), origin, n); err != nil {
		t.Fatal(err)
	}
	if s.gotCtx == nil || s.gotCtx.Value(ctxKey{}) != "request" {
		t.Fatal("TakeContext did not get the request's context")
	}

	// Down: refused with its own code, and nothing else is checked (a
	// valid token does not log in without single-use proof).
	s.down = true
	n = f.nonce(t)
	_, err := f.v.Validate(ctx, agentToken(t, f.pki.authEC, origin, n, false), origin, n)
	if !errors.Is(err, ErrStoreUnavailable) || ErrorCode(err) != "STORE_UNAVAILABLE" {
		t.Fatalf("store down: %v (%s)", err, ErrorCode(err))
	}
}

// mapCache is an OCSPCache shared by several Validators, as a Redis cache
// is shared by several server instances.
type mapCache struct {
	mu      sync.Mutex
	entries map[[32]byte]time.Time
	fail    bool
	puts    int
}

func (c *mapCache) Good(_ context.Context, key [32]byte, now time.Time) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail {
		return false, ErrStoreUnavailable
	}
	u, ok := c.entries[key]
	return ok && now.Before(u), nil
}

func (c *mapCache) PutGood(_ context.Context, key [32]byte, until, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.puts++
	if c.fail {
		return ErrStoreUnavailable
	}
	if c.entries == nil {
		c.entries = map[[32]byte]time.Time{}
	}
	c.entries[key] = until
	return nil
}

func TestOCSPSharedCache(t *testing.T) {
	f := newFixture(t)
	cache := &mapCache{}
	f.v.OCSP.Cache = cache
	// A second "instance": its own Validator, the same nonce store and cache.
	other := &Validator{Roots: f.v.Roots, Intermediates: f.v.Intermediates, Nonces: f.store,
		OCSP: OCSPConfig{Policy: OCSPRequired, Timeout: 3 * time.Second, Cache: cache}}
	login := func(v *Validator) *Result {
		t.Helper()
		n := f.nonce(t)
		res, err := v.Validate(context.Background(), agentToken(t, f.pki.authEC, origin, n, false), origin, n)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := login(f.v); res.OCSP != "good" {
		t.Fatalf("first login: OCSP %q", res.OCSP)
	}
	if res := login(other); res.OCSP != "good (cached)" {
		t.Fatalf("other instance: OCSP %q, want the shared answer", res.OCSP)
	}
	if h := f.resp.hits.Load(); h != 1 || cache.puts != 1 {
		t.Fatalf("responder hits %d, cache puts %d; want 1 and 1", h, cache.puts)
	}
	// The per-Validator cache is not used when one is configured.
	if len(f.v.cache.entries) != 0 {
		t.Fatal("the built-in cache was filled as well")
	}
	// A failing cache is a miss: the responder decides, the login works.
	cache.fail = true
	if res := login(other); res.OCSP != "good" {
		t.Fatalf("cache down: OCSP %q", res.OCSP)
	}
	if h := f.resp.hits.Load(); h != 2 {
		t.Fatalf("responder hits %d with the cache down, want 2", h)
	}
}

// TestOCSPCacheNeverPastNextUpdate: the built-in cache refuses an entry
// already past its nextUpdate and stops answering at nextUpdate exactly.
func TestOCSPCacheNeverPastNextUpdate(t *testing.T) {
	var c ocspCache
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	k1, k2 := [32]byte{1}, [32]byte{2}
	c.PutGood(ctx, k1, now.Add(time.Minute), now)
	c.PutGood(ctx, k2, now, now)
	for _, tc := range []struct {
		key  [32]byte
		at   time.Time
		want bool
	}{
		{k1, now, true},
		{k1, now.Add(time.Minute - time.Nanosecond), true},
		{k1, now.Add(time.Minute), false},
		{k2, now.Add(-time.Second), false},
	} {
		if got, err := c.Good(ctx, tc.key, tc.at); got != tc.want || err != nil {
			t.Errorf("key %x at %s: %v %v, want %v", tc.key[0], tc.at, got, err, tc.want)
		}
	}
}
