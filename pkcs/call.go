package pkcs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/miekg/pkcs11"
)

// abandonedError is what await returns when it stopped waiting for a call
// that goes on in the background. It wraps ErrTimeout or the context's
// error.
type abandonedError struct {
	op    string
	cause error
}

func (e *abandonedError) Error() string {
	return fmt.Sprintf("%s: gave up waiting: %v", e.op, e.cause)
}

func (e *abandonedError) Unwrap() error { return e.cause }

// await runs fn on its own goroutine and waits for it at most d, or until
// ctx ends. PKCS#11 calls cannot be interrupted, so when we stop waiting fn
// keeps running; late then runs on fn's goroutine once fn returns, to
// release what the call held. The handover is decided under mu, so exactly
// one of "the caller gets fn's result" and "late runs" happens.
func await(ctx context.Context, d time.Duration, op string, fn func() error, late func()) error {
	if err := ctx.Err(); err != nil {
		// A caller that is gone sends nothing more to the card (a PIN
		// least of all); nothing started, so nothing is abandoned.
		return fmt.Errorf("%s: %w", op, err)
	}
	var (
		mu        sync.Mutex
		abandoned bool
		done      = make(chan error, 1)
	)
	go func() {
		err := fn()
		mu.Lock()
		if abandoned {
			mu.Unlock()
			late()
			return
		}
		done <- err
		mu.Unlock()
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	var cause error
	select {
	case err := <-done:
		return err
	case <-timer.C:
		cause = fmt.Errorf("%w after %v", ErrTimeout, d)
	case <-ctx.Done():
		cause = ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	select {
	case err := <-done: // it returned just now
		return err
	default:
	}
	abandoned = true
	return &abandonedError{op: op, cause: cause}
}

// slot is the package's state for one PKCS#11 slot. sem is the slot's
// lock: one operation per token at a time. Everything below it is guarded
// by holding sem.
type slot struct {
	id  uint
	sem chan struct{}

	open    bool
	session pkcs11.SessionHandle
	serial  string                         // token serial when the session opened
	objects map[string]pkcs11.ObjectHandle // found objects, valid for the session
	always  map[pkcs11.ObjectHandle]bool   // CKA_ALWAYS_AUTHENTICATE of keys, same lifetime
	mechs   map[uint]bool                  // the token's mechanisms, nil until listed
}

// forget drops the session state (the session itself is closed or gone).
func (s *slot) forget() {
	s.open = false
	s.session = 0
	s.serial = ""
	s.objects = nil
	s.always = nil
	s.mechs = nil
}

// loggedIn asks the module whether the session is logged in as the user,
// without a timeout: for shutdown, when no operation is running.
func (s *slot) loggedIn(ctx *pkcs11.Ctx) bool {
	info, err := ctx.GetSessionInfo(s.session)
	return err == nil && (info.State == pkcs11.CKS_RO_USER_FUNCTIONS || info.State == pkcs11.CKS_RW_USER_FUNCTIONS)
}

// lease is one operation holding a slot.
type lease struct {
	m         *Module
	lib       *library
	s         *slot
	abandoned bool // a call timed out: its goroutine releases the slot
}

// acquire takes the slot for one operation, waiting at most
// Options.BusyTimeout or until ctx ends.
func (m *Module) acquire(ctx context.Context, id uint) (*lease, error) {
	if err := m.usable(); err != nil {
		return nil, err
	}
	lib := m.lib
	if err := lib.begin(); err != nil {
		return nil, err
	}
	s := lib.slot(id)
	timer := time.NewTimer(m.opts.BusyTimeout)
	defer timer.Stop()
	select {
	case s.sem <- struct{}{}:
		return &lease{m: m, lib: lib, s: s}, nil
	case <-timer.C:
		lib.end()
		return nil, fmt.Errorf("slot %d: %w (waited %v)", id, ErrBusy, m.opts.BusyTimeout)
	case <-ctx.Done():
		lib.end()
		return nil, ctx.Err()
	}
}

// release gives the slot back, unless a timed-out call still holds it.
func (l *lease) release() {
	if l.abandoned {
		return
	}
	<-l.s.sem
	l.lib.end()
}

// call runs one or a few PKCS#11 calls under the lease with the call
// timeout. After a timeout the lease is abandoned: the call's goroutine
// closes the session (its state is unknown) and releases the slot when the
// module finally returns.
func (l *lease) call(ctx context.Context, op string, fn func(*pkcs11.Ctx) error) error {
	return l.callWithin(ctx, l.m.opts.CallTimeout, op, fn)
}

func (l *lease) callWithin(ctx context.Context, d time.Duration, op string, fn func(*pkcs11.Ctx) error) error {
	if l.abandoned {
		return fmt.Errorf("%s: %w", op, ErrBusy)
	}
	p := l.lib.ctx
	err := await(ctx, d, op, func() error { return ckrError(op, fn(p)) }, func() {
		if l.s.open {
			_ = p.CloseSession(l.s.session)
			l.s.forget()
		}
		<-l.s.sem
		l.lib.end()
	})
	if _, ok := err.(*abandonedError); ok {
		l.abandoned = true
	}
	return err
}

// libCall runs a call that needs no slot (slot listing) with the call
// timeout, keeping the module from being finalised meanwhile.
func (m *Module) libCall(ctx context.Context, op string, fn func(*pkcs11.Ctx) error) error {
	if err := m.usable(); err != nil {
		return err
	}
	lib := m.lib
	if err := lib.begin(); err != nil {
		return err
	}
	p := lib.ctx
	err := await(ctx, m.opts.CallTimeout, op, func() error { return ckrError(op, fn(p)) }, lib.end)
	if _, ok := err.(*abandonedError); !ok {
		lib.end()
	}
	return err
}
