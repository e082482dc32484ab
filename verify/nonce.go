package verify

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"
)

// NonceBytes is the entropy of a nonce from NewNonce: 256 bits, the Web eID
// minimum; padded base64 gives 44 characters, the shortest nonce the agent
// accepts.
const NonceBytes = 32

// DefaultNonceLifetime is how long an issued nonce may be used: the Web eID
// validators' default.
const DefaultNonceLifetime = 5 * time.Minute

// NonceStore remembers issued nonces. Take must succeed at most once per
// nonce, also under concurrent calls: that is what stops replay. A store for
// several server instances (a database, Redis) implements the same two
// calls; a per-session store is the safest, because a shared pool lets an
// attacker hand a victim a token for the attacker's own nonce (login CSRF).
type NonceStore interface {
	// Put records a nonce that is valid until expiry.
	Put(nonce string, expiry time.Time) error
	// Take consumes the nonce. It returns nil once; afterwards, or for a
	// nonce never put, or after expiry, an error matching ErrNonceReplayed,
	// ErrNonceUnknown or ErrNonceExpired.
	Take(nonce string) error
}

// ContextNonceStore is a NonceStore over the network (verify/redisstore):
// Validate calls TakeContext, so the request's deadline and cancellation
// reach the store. A store that cannot answer returns an error matching
// ErrStoreUnavailable, and Validate fails closed: no login without proof
// that the nonce was used only once.
type ContextNonceStore interface {
	NonceStore
	TakeContext(ctx context.Context, nonce string) error
}

// NewNonce returns NonceBytes random bytes in standard padded base64.
func NewNonce() (string, error) {
	b := make([]byte, NonceBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("verify: reading random bytes: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// MemoryNonceStore is the in-memory NonceStore for a single server process.
// The zero value is ready to use. Used nonces are kept (as tombstones) until
// their expiry, so a replay is reported as ErrNonceReplayed rather than
// ErrNonceUnknown; expired entries are dropped lazily on every Put.
type MemoryNonceStore struct {
	// Lifetime of nonces made by Issue; zero means DefaultNonceLifetime.
	Lifetime time.Duration
	// Now is the clock; nil means the current time.
	Now func() time.Time
	// Grace keeps expired entries this long so that a late answer is told
	// "expired" rather than "unknown"; zero means one Lifetime.
	Grace time.Duration

	mu        sync.Mutex
	entries   map[string]nonceEntry
	lastClean time.Time
}

type nonceEntry struct {
	expiry time.Time
	used   bool
}

func (s *MemoryNonceStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return clock.Now()
}

func (s *MemoryNonceStore) lifetime() time.Duration {
	if s.Lifetime > 0 {
		return s.Lifetime
	}
	return DefaultNonceLifetime
}

func (s *MemoryNonceStore) grace() time.Duration {
	if s.Grace > 0 {
		return s.Grace
	}
	return s.lifetime()
}

// Issue makes a new nonce, stores it for Lifetime and returns it.
func (s *MemoryNonceStore) Issue() (string, error) {
	n, err := NewNonce()
	if err != nil {
		return "", err
	}
	if err := s.Put(n, s.now().Add(s.lifetime())); err != nil {
		return "", err
	}
	return n, nil
}

// Put implements NonceStore. Putting a nonce that is already known is an
// error: a reused nonce would make replays possible.
func (s *MemoryNonceStore) Put(nonce string, expiry time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A full sweep at most once a second keeps Put cheap under load.
	if now := s.now(); now.Sub(s.lastClean) >= time.Second || now.Before(s.lastClean) {
		s.cleanupLocked()
		s.lastClean = now
	}
	if s.entries == nil {
		s.entries = make(map[string]nonceEntry)
	}
	if _, ok := s.entries[nonce]; ok {
		return fmt.Errorf("verify: nonce already issued")
	}
	s.entries[nonce] = nonceEntry{expiry: expiry}
	return nil
}

// Take implements NonceStore.
func (s *MemoryNonceStore) Take(nonce string) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[nonce]
	switch {
	case !ok:
		return ErrNonceUnknown
	case e.used:
		return ErrNonceReplayed
	case !now.Before(e.expiry):
		// Burn it too, so a later try does not look different.
		e.used = true
		s.entries[nonce] = e
		return ErrNonceExpired
	}
	e.used = true
	s.entries[nonce] = e
	return nil
}

// Len reports how many nonces (issued, used or recently expired) are held.
func (s *MemoryNonceStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Cleanup drops entries past expiry plus Grace. Put calls it; a server with
// few logins may also call it from a ticker.
func (s *MemoryNonceStore) Cleanup() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanupLocked()
}

func (s *MemoryNonceStore) cleanupLocked() {
	cutoff := s.now().Add(-s.grace())
	for k, e := range s.entries {
		if e.expiry.Before(cutoff) {
			delete(s.entries, k)
		}
	}
}
