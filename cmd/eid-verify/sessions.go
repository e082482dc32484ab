package main

import (
	"context"
	"errors"
	"sync"
	"time"
)

// sessionStore keeps sessions (an opaque record per session ID, the
// cookie's value) and each session's pending login challenge. memSessions
// serves one process; redisstore.Sessions lets any instance serve any
// request of a session (--redis).
type sessionStore interface {
	// Get returns the record and renews the session's idle lifetime; nil,
	// nil when there is no such live session.
	Get(ctx context.Context, id string) ([]byte, error)
	// Put creates or replaces the session.
	Put(ctx context.Context, id string, record []byte) error
	// Delete forgets the session and its challenge.
	Delete(ctx context.Context, id string) error
	// SetChallenge makes nonce the pending challenge of a live session
	// (only the latest counts) for ttl and renews the session; false when
	// there is no such session.
	SetChallenge(ctx context.Context, id, nonce string, ttl time.Duration) (bool, error)
	// Create starts a session with record and a pending challenge.
	Create(ctx context.Context, id string, record []byte, nonce string, ttl time.Duration) error
	// TakeChallenge returns the session's record (nil when there is no
	// live session) and its pending challenge ("" when none), forgetting
	// the challenge in the same step: one login attempt per challenge.
	TakeChallenge(ctx context.Context, id string) ([]byte, string, error)
	// Rotate replaces session old by a new session id with record.
	Rotate(ctx context.Context, old, id string, record []byte) error
}

// errTooManySessions: memSessions is full of live sessions.
var errTooManySessions = errors.New("too many sessions")

// memSessions is the in-process sessionStore, bounded in number.
type memSessions struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu sync.Mutex
	m  map[string]*memSession
}

type memSession struct {
	record    []byte
	expires   time.Time
	challenge string
	chExpires time.Time
}

func newMemSessions(ttl time.Duration, max int, now func() time.Time) *memSessions {
	return &memSessions{ttl: ttl, max: max, now: now, m: map[string]*memSession{}}
}

func (s *memSessions) live(id string, now time.Time) *memSession {
	se, ok := s.m[id]
	if !ok {
		return nil
	}
	if now.After(se.expires) {
		delete(s.m, id)
		return nil
	}
	return se
}

func (s *memSessions) Get(_ context.Context, id string) ([]byte, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.live(id, now)
	if se == nil {
		return nil, nil
	}
	se.expires = now.Add(s.ttl)
	return se.record, nil
}

func (s *memSessions) Put(_ context.Context, id string, record []byte) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if se := s.live(id, now); se != nil {
		se.record, se.expires = record, now.Add(s.ttl)
		return nil
	}
	if len(s.m) >= s.max {
		for k, x := range s.m {
			if now.After(x.expires) {
				delete(s.m, k)
			}
		}
		if len(s.m) >= s.max {
			return errTooManySessions
		}
	}
	s.m[id] = &memSession{record: record, expires: now.Add(s.ttl)}
	return nil
}

func (s *memSessions) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
	return nil
}

func (s *memSessions) SetChallenge(_ context.Context, id, nonce string, ttl time.Duration) (bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.live(id, now)
	if se == nil {
		return false, nil
	}
	se.expires = now.Add(s.ttl)
	se.challenge, se.chExpires = nonce, now.Add(ttl)
	return true, nil
}

func (s *memSessions) Create(ctx context.Context, id string, record []byte, nonce string, ttl time.Duration) error {
	if err := s.Put(ctx, id, record); err != nil {
		return err
	}
	_, err := s.SetChallenge(ctx, id, nonce, ttl)
	return err
}

func (s *memSessions) TakeChallenge(_ context.Context, id string) ([]byte, string, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.live(id, now)
	if se == nil {
		return nil, "", nil
	}
	se.expires = now.Add(s.ttl)
	n := se.challenge
	se.challenge = ""
	if now.After(se.chExpires) {
		// Gone, as a Redis key past its TTL.
		return se.record, "", nil
	}
	return se.record, n, nil
}

func (s *memSessions) Rotate(ctx context.Context, old, id string, record []byte) error {
	s.Delete(ctx, old)
	return s.Put(ctx, id, record)
}
