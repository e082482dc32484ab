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
	// Kind is "read", "authenticate", "sign", "reading-proof" (a read
	// whose proof also gives out the card and identity data: Fields lists
	// all of it, ReadingProofFields) or "proofs-all" (proofs.list of every
	// caller's records, which only an administrator grants).
	Kind string
	// Fields, for "read" and "reading-proof": every Reading member whose
	// data the answer carries.
	Fields []string
}

// proofFields are the Reading members whose data a reading proof carries,
// whatever fields the caller asked for: "card" (card number, validity
// dates, document type, chip number, reader) and "identity" (the national
// number, the SSIN billing needs).
var proofFields = []string{"card", "identity"}

// ReadingProofFields is what a reading-proof for fields gives out: fields
// and proofFields, sorted, without duplicates. Consent and audit cover
// all of it.
func ReadingProofFields(fields []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(fields), proofFields...))))
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
	// AllProofs lets proofs.list return every caller's records (operation
	// "proofs-all", permission "proofs-all"), not only the caller's own.
	AllProofs bool
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
	case "read", "reading-proof":
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
	case "proofs-all":
		if g.AllProofs {
			return nil
		}
	}
	return ErrConsentDenied
}
