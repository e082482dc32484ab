package pkcs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/eid-agent/eid-agent/card"
)

// ensureSession opens the slot's session if it has none. serial, when not
// empty, is the token serial the caller expects: a Key made for one card
// must not sign with another.
func (l *lease) ensureSession(ctx context.Context, serial string) error {
	s := l.s
	if !s.open {
		var ti pkcs11.TokenInfo
		err := l.call(ctx, "C_GetTokenInfo", func(p *pkcs11.Ctx) (err error) {
			ti, err = p.GetTokenInfo(s.id)
			return err
		})
		if err != nil {
			return l.fail(ctx, err)
		}
		var h pkcs11.SessionHandle
		err = l.call(ctx, "C_OpenSession", func(p *pkcs11.Ctx) (err error) {
			// Read-only is enough to sign and log in; no object is written.
			h, err = p.OpenSession(s.id, pkcs11.CKF_SERIAL_SESSION)
			return err
		})
		if err != nil {
			return l.fail(ctx, err)
		}
		s.open, s.session, s.serial = true, h, ti.SerialNumber
		s.objects = map[string]pkcs11.ObjectHandle{}
		s.always = map[pkcs11.ObjectHandle]bool{}
	}
	if serial != "" && s.serial != serial {
		return ErrCardChanged
	}
	return nil
}

// fail classifies err from a call made under the lease. A card removal,
// and any error after which the session's state is unknown, drops the
// session so the next operation starts with a new one; a device error
// while the slot no longer reports a token is a removal too.
func (l *lease) fail(ctx context.Context, err error) error {
	if err == nil || l.abandoned {
		return err
	}
	if errors.Is(err, card.ErrCardRemoved) {
		l.drop(ctx)
		// Let the module see the slot empty: OpenSC notices a removal
		// only when a slot query runs its card detection, and until then
		// would serve a re-inserted card through the dead handle.
		l.tokenGone(ctx)
		return err
	}
	var e *Error
	if errors.As(err, &e) {
		switch e.Code {
		case pkcs11.CKR_OBJECT_HANDLE_INVALID, pkcs11.CKR_KEY_HANDLE_INVALID:
			// Handles of private objects die with the login on some
			// modules (SoftHSM); look them up again next time.
			l.forgetObjects()
		case pkcs11.CKR_DEVICE_ERROR, pkcs11.CKR_FUNCTION_FAILED, pkcs11.CKR_GENERAL_ERROR,
			pkcs11.CKR_DEVICE_MEMORY, pkcs11.CKR_SLOT_ID_INVALID:
			l.drop(ctx)
			if l.tokenGone(ctx) {
				return fmt.Errorf("%w: %w", card.ErrCardRemoved, err)
			}
		}
	}
	return err
}

// drop closes the session (ignoring errors: it may be gone already) and
// forgets everything tied to it.
func (l *lease) drop(ctx context.Context) {
	if l.abandoned || !l.s.open {
		return
	}
	h := l.s.session
	_ = l.call(ctx, "C_CloseSession", func(p *pkcs11.Ctx) error { return p.CloseSession(h) })
	if !l.abandoned {
		l.s.forget()
	}
}

// removalSettle bounds how long a failed call waits for the slot to
// report a removal. The PC/SC service notices a card that left only at its
// next presence poll (pcscd: every 400 ms), and OpenSC runs its card
// detection from C_GetSlotInfo at most once a second, so right after a
// transmission error the module may still call the token present.
const removalSettle = 1500 * time.Millisecond

// tokenGone tells whether the slot stopped reporting a token within
// removalSettle. An error from the module counts as gone.
func (l *lease) tokenGone(ctx context.Context) bool {
	deadline := time.Now().Add(removalSettle)
	for !l.abandoned {
		var info pkcs11.SlotInfo
		err := l.call(ctx, "C_GetSlotInfo", func(p *pkcs11.Ctx) (err error) {
			info, err = p.GetSlotInfo(l.s.id)
			return err
		})
		if err != nil || info.Flags&pkcs11.CKF_TOKEN_PRESENT == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

// tokenInfo reads the token's flags and PIN lengths.
func (l *lease) tokenInfo(ctx context.Context) (pkcs11.TokenInfo, error) {
	var ti pkcs11.TokenInfo
	err := l.call(ctx, "C_GetTokenInfo", func(p *pkcs11.Ctx) (err error) {
		ti, err = p.GetTokenInfo(l.s.id)
		return err
	})
	if err != nil {
		// ti may still be written by a call that timed out.
		return pkcs11.TokenInfo{}, l.fail(ctx, err)
	}
	return ti, nil
}

// mechanisms lists the token's mechanisms once per session.
func (l *lease) mechanisms(ctx context.Context) (map[uint]bool, error) {
	if l.s.mechs != nil {
		return l.s.mechs, nil
	}
	var list []*pkcs11.Mechanism
	err := l.call(ctx, "C_GetMechanismList", func(p *pkcs11.Ctx) (err error) {
		list, err = p.GetMechanismList(l.s.id)
		return err
	})
	if err != nil {
		return nil, l.fail(ctx, err)
	}
	m := make(map[uint]bool, len(list))
	for _, mech := range list {
		m[mech.Mechanism] = true
	}
	l.s.mechs = m
	return m, nil
}

// loggedIn asks whether the session is logged in as the user. The module
// is the authority: another Key, a PIN pad or a card reset may have
// changed it since our last look.
func (l *lease) loggedIn(ctx context.Context) (bool, error) {
	var info pkcs11.SessionInfo
	h := l.s.session
	err := l.call(ctx, "C_GetSessionInfo", func(p *pkcs11.Ctx) (err error) {
		info, err = p.GetSessionInfo(h)
		return err
	})
	if err != nil {
		return false, l.fail(ctx, err)
	}
	return info.State == pkcs11.CKS_RO_USER_FUNCTIONS || info.State == pkcs11.CKS_RW_USER_FUNCTIONS, nil
}

// forgetObjects empties the object-handle cache. Called whenever the login
// state changes: private objects appear at login, and their handles may
// become invalid at logout.
func (l *lease) forgetObjects() {
	if l.s.open {
		l.s.objects = map[string]pkcs11.ObjectHandle{}
		l.s.always = map[pkcs11.ObjectHandle]bool{}
	}
}
