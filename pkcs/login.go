package pkcs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"unsafe"

	"github.com/miekg/pkcs11"

	"github.com/eid-agent/eid-agent/card"
)

// retriesFromFlags turns the token's PIN flags into tries left. PKCS#11
// only has "locked", "final try" and "count low" (a wrong PIN since the
// last good one); with the eID's three tries (ref §7.1) "count low" means
// two left. Without any of them the count is unknown (-1).
func retriesFromFlags(flags uint) int {
	switch {
	case flags&pkcs11.CKF_USER_PIN_LOCKED != 0:
		return 0
	case flags&pkcs11.CKF_USER_PIN_FINAL_TRY != 0:
		return 1
	case flags&pkcs11.CKF_USER_PIN_COUNT_LOW != 0:
		return 2
	}
	return -1
}

// pinAsker is who asks and for what: the reader and key named in the
// PINRequest, and the caller's dialog; tries reads the tries left from the
// card when the token's flags do not tell (Module.cardTries).
type pinAsker struct {
	reader string
	role   card.KeyRole
	prompt card.PINPrompt
	tries  func(ctx context.Context) int
}

// retries is what the token's flags tell of the tries left, else what the
// card tells (-1 when neither does).
func (a pinAsker) retries(ctx context.Context, flags uint) int {
	n := retriesFromFlags(flags)
	if n < 0 && a.tries != nil {
		n = a.tries(ctx)
	}
	return n
}

// ask shows the PIN dialog, telling it the tries left (the flags, or the
// card itself: so the dialog after a wrong PIN says how many remain). It
// refuses before any dialog when the token or the card says the PIN is
// blocked, and checks the PIN's length against the token's limits so a
// mistyped PIN that cannot be right costs no try.
func (a pinAsker) ask(ctx context.Context, ti pkcs11.TokenInfo) ([]byte, error) {
	if ti.Flags&pkcs11.CKF_USER_PIN_LOCKED != 0 {
		return nil, card.ErrPINBlocked
	}
	if a.prompt == nil {
		return nil, fmt.Errorf("%w: no PIN dialog", card.ErrPINCancelled)
	}
	retries := a.retries(ctx, ti.Flags)
	if retries == 0 {
		return nil, fmt.Errorf("%w: the card reports no tries left", card.ErrPINBlocked)
	}
	pin, err := a.prompt(ctx, card.PINRequest{
		Reader:  a.reader,
		Key:     a.role,
		Retries: retries,
		Purpose: card.PINPurpose(ctx),
	})
	if err != nil {
		card.Wipe(pin)
		return nil, err
	}
	if len(pin) == 0 || (ti.MinPinLen > 0 && uint(len(pin)) < ti.MinPinLen) ||
		(ti.MaxPinLen > 0 && uint(len(pin)) > ti.MaxPinLen) {
		card.Wipe(pin)
		return nil, fmt.Errorf("%w (this token takes %d to %d characters)", card.ErrPINFormat, ti.MinPinLen, ti.MaxPinLen)
	}
	return pin, nil
}

// login calls C_Login. With a PIN pad (pin nil) it passes an empty PIN and
// waits up to LoginTimeout while the holder types on the reader. A PIN is
// handed over as a string sharing a private copy's bytes; the copy is
// wiped on the call's own goroutine once C_Login returned, so a timed-out
// call never sees it change under its feet.
func (l *lease) login(ctx context.Context, userType uint, pin []byte, pad bool) error {
	s := l.s.session
	op := "C_Login"
	if userType == pkcs11.CKU_CONTEXT_SPECIFIC {
		op = "C_Login(CKU_CONTEXT_SPECIFIC)"
	}
	if pad {
		return l.callWithin(ctx, l.m.opts.LoginTimeout, op, func(p *pkcs11.Ctx) error {
			return p.Login(s, userType, "")
		})
	}
	cp := bytes.Clone(pin)
	return l.call(ctx, op, func(p *pkcs11.Ctx) error {
		defer card.Wipe(cp)
		return p.Login(s, userType, unsafe.String(unsafe.SliceData(cp), len(cp)))
	})
}

// loginError gives a failed login its meaning: a wrong PIN is a
// *card.PINError with the tries left (0, which matches card.ErrPINBlocked,
// when this try blocked it); CKR_PIN_LOCKED is card.ErrPINBlocked. The
// tries are the token's flags' when they tell, else the card's own count
// where it gives it without spending a try (a.tries): OpenSC sets no "count
// low" flag on a Belgian eID after its first wrong PIN. Nothing is retried.
func (l *lease) loginError(ctx context.Context, a pinAsker, err error) error {
	switch {
	case hasCode(err, pkcs11.CKR_PIN_INCORRECT):
		retries := -1
		if ti, terr := l.tokenInfo(ctx); terr == nil {
			retries = a.retries(ctx, ti.Flags)
		}
		return &card.PINError{Retries: retries}
	case hasCode(err, pkcs11.CKR_PIN_LOCKED):
		return fmt.Errorf("%w (%v)", card.ErrPINBlocked, err)
	}
	return l.fail(ctx, err)
}

// loginUser makes sure the session is logged in as the user (CKU_USER).
// now tells whether this call logged in. With keep, a PIN typed here is
// returned (the caller wipes it) for the context-specific login that
// follows for a key needing the PIN at every use; otherwise it is wiped.
func (l *lease) loginUser(ctx context.Context, a pinAsker, keep bool) (now bool, pin []byte, err error) {
	in, err := l.loggedIn(ctx)
	if err != nil || in {
		return false, nil, err
	}
	ti, err := l.tokenInfo(ctx)
	if err != nil {
		return false, nil, err
	}
	if ti.Flags&pkcs11.CKF_LOGIN_REQUIRED == 0 {
		return false, nil, nil
	}
	if ti.Flags&pkcs11.CKF_USER_PIN_LOCKED != 0 {
		return false, nil, card.ErrPINBlocked // no dialog, no PIN pad
	}
	pad := ti.Flags&pkcs11.CKF_PROTECTED_AUTHENTICATION_PATH != 0
	if !pad {
		if pin, err = a.ask(ctx, ti); err != nil {
			return false, nil, err
		}
	}
	err = l.login(ctx, pkcs11.CKU_USER, pin, pad)
	if err != nil && !hasCode(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		card.Wipe(pin)
		return false, nil, l.loginError(ctx, a, err)
	}
	l.forgetObjects()
	if !keep {
		card.Wipe(pin)
		pin = nil
	}
	return err == nil, pin, nil
}

// logout ends the session's login; a session that is not logged in is
// fine.
func (l *lease) logout(ctx context.Context) error {
	if l.abandoned || !l.s.open {
		return nil
	}
	s := l.s.session
	err := l.call(ctx, "C_Logout", func(p *pkcs11.Ctx) error { return p.Logout(s) })
	if !l.abandoned {
		l.forgetObjects()
	}
	if hasCode(err, pkcs11.CKR_USER_NOT_LOGGED_IN) {
		return nil
	}
	return l.fail(ctx, err)
}

// PINStatus is what the token's flags, or the card, tell about the
// cardholder PIN.
type PINStatus struct {
	// Retries: 0 blocked, 1 final try, 2 after a wrong PIN (PKCS#11's
	// "count low"); when no flag tells, the card's own count where it
	// gives it without spending a try (applet 1.7, 1.8); -1 unknown.
	Retries    int
	Blocked    bool
	PINPad     bool // the reader takes the PIN (protected authentication path)
	LoggedIn   bool // this process's session is logged in
	MustChange bool // CKF_USER_PIN_TO_BE_CHANGED
	MinLen     int
	MaxLen     int
}

// PINStatus reads the PIN state of the token in reader from its flags
// (and the card, see PINStatus.Retries), without a login and without
// spending a try.
func (m *Module) PINStatus(ctx context.Context, reader string) (PINStatus, error) {
	s, err := m.SlotForReader(ctx, reader)
	if err != nil {
		return PINStatus{}, err
	}
	if !s.TokenPresent {
		return PINStatus{}, card.ErrNoCard
	}
	l, err := m.acquire(ctx, s.ID)
	if err != nil {
		return PINStatus{}, err
	}
	defer l.release()
	ti, err := l.tokenInfo(ctx)
	if err != nil {
		return PINStatus{}, err
	}
	st := PINStatus{
		Retries:    pinAsker{tries: m.cardTriesFor(reader)}.retries(ctx, ti.Flags),
		Blocked:    ti.Flags&pkcs11.CKF_USER_PIN_LOCKED != 0,
		PINPad:     ti.Flags&pkcs11.CKF_PROTECTED_AUTHENTICATION_PATH != 0,
		MustChange: ti.Flags&pkcs11.CKF_USER_PIN_TO_BE_CHANGED != 0,
		MinLen:     int(ti.MinPinLen),
		MaxLen:     int(ti.MaxPinLen),
	}
	st.Blocked = st.Blocked || st.Retries == 0
	if l.s.open && l.s.serial == ti.SerialNumber {
		st.LoggedIn, _ = l.loggedIn(ctx)
	}
	return st, nil
}

// Logout makes the token in reader forget the PIN this process gave it
// (C_Logout), e.g. when the agent locks. Not logged in is not an error.
func (m *Module) Logout(ctx context.Context, reader string) error {
	s, err := m.SlotForReader(ctx, reader)
	if err != nil {
		return err
	}
	l, err := m.acquire(ctx, s.ID)
	if err != nil {
		return err
	}
	defer l.release()
	err = l.logout(ctx)
	if errors.Is(err, card.ErrCardRemoved) {
		return nil // nothing left to forget
	}
	return err
}
