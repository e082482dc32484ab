package bridge

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// ErrConsentDenied: the user (or policy) did not allow the operation.
var ErrConsentDenied = errors.New("consent denied")

// Operation is what a caller asks consent for.
type Operation struct {
	Kind   string   // "read", "authenticate" or "sign"
	Fields []string // for "read": the Reading fields asked for
}

// Consent decides whether a caller may do an operation. The agent's
// implementation asks the user in its own window the first time and
// remembers the answer; it may block (ctx ends with the connection).
// It returns nil or an error wrapping ErrConsentDenied.
type Consent interface {
	Allow(ctx context.Context, caller Caller, op Operation) error
}

// Grant is what an origin may do.
type Grant struct {
	Fields       []string // Reading fields it may read
	Authenticate bool
	Sign         bool
}

// MemoryConsent is a consent store with administrator pre-approved
// grants and no UI: anything not granted is denied. Safe for concurrent
// use.
type MemoryConsent struct {
	mu     sync.RWMutex
	grants map[string]Grant // by Caller.String()
}

// NewMemoryConsent starts with grants (keyed by origin or "app:NAME").
func NewMemoryConsent(grants map[string]Grant) *MemoryConsent {
	m := &MemoryConsent{grants: map[string]Grant{}}
	for k, g := range grants {
		m.grants[k] = g
	}
	return m
}

// Set records a grant, replacing the previous one.
func (m *MemoryConsent) Set(subject string, g Grant) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.grants[subject] = g
}

// Revoke forgets everything granted to subject.
func (m *MemoryConsent) Revoke(subject string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.grants, subject)
}

func (m *MemoryConsent) Allow(_ context.Context, c Caller, op Operation) error {
	m.mu.RLock()
	g, ok := m.grants[c.String()]
	m.mu.RUnlock()
	if !ok {
		return ErrConsentDenied
	}
	switch op.Kind {
	case "read":
		for _, f := range op.Fields {
			if !slices.Contains(g.Fields, f) {
				return ErrConsentDenied
			}
		}
		return nil
	case "authenticate":
		if g.Authenticate {
			return nil
		}
	case "sign":
		if g.Sign {
			return nil
		}
	}
	return ErrConsentDenied
}
