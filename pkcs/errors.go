package pkcs

import (
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/eid-agent/eid-agent/card"
)

var (
	// ErrNoModule: no PKCS#11 module at the paths tried (see Discovery), or
	// the file is not a loadable PKCS#11 module.
	ErrNoModule = errors.New("no PKCS#11 module found")
	// ErrClosed: the Module (or the Module of a Key) was closed.
	ErrClosed = errors.New("PKCS#11 module closed")
	// ErrTimeout: a PKCS#11 call did not return in time. The call itself
	// goes on in the background (PKCS#11 has no cancellation); see the
	// package documentation.
	ErrTimeout = errors.New("PKCS#11 call timed out")
	// ErrBusy: the token stayed busy with another operation (possibly a
	// timed-out call that has not returned) for longer than
	// Options.BusyTimeout.
	ErrBusy = errors.New("token busy with another operation")
	// ErrNotSupported: the module cannot use this key with this card, e.g.
	// OpenSC and the Belgian non-repudiation key (OpenSC's belpic driver
	// refuses it, having no PIN dialog of its own). Returned before any PIN
	// is asked when the limit is known in advance, so a caller can fall
	// back to another signing path without costing the holder anything.
	ErrNotSupported = errors.New("the PKCS#11 module cannot use this key")
	// ErrCardChanged: the card in the reader is not the one the Key was
	// made for (another token serial). It matches card.ErrCardRemoved: the
	// original card is gone.
	ErrCardChanged = fmt.Errorf("another card was inserted: %w", card.ErrCardRemoved)
)

// Error is a PKCS#11 function that returned something other than CKR_OK.
// It unwraps to the pkcs11.Error (the CKR_ code) and matches the card
// package's sentinels where one applies: card.ErrCardRemoved,
// card.ErrPINBlocked, card.ErrPINCancelled, card.ErrPINFormat, and
// ErrNotSupported.
type Error struct {
	Op   string // "C_Sign", "C_Login", ...
	Code uint   // CKR_*
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %v", e.Op, pkcs11.Error(e.Code))
}

func (e *Error) Unwrap() error { return pkcs11.Error(e.Code) }

func (e *Error) Is(target error) bool {
	switch target {
	case card.ErrCardRemoved:
		return removedCode(e.Code)
	case card.ErrPINBlocked:
		return e.Code == pkcs11.CKR_PIN_LOCKED
	case card.ErrPINCancelled:
		return e.Code == pkcs11.CKR_FUNCTION_CANCELED
	case card.ErrPINFormat:
		return e.Code == pkcs11.CKR_PIN_LEN_RANGE || e.Code == pkcs11.CKR_PIN_INVALID
	case ErrNotSupported:
		return notSupportedCode(e.Code)
	}
	return false
}

// removedCode: the codes a module returns once the card left the reader or
// the module closed our session because of it.
func removedCode(c uint) bool {
	switch c {
	case pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_PRESENT,
		pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED,
		pkcs11.CKR_TOKEN_NOT_RECOGNIZED:
		return true
	}
	return false
}

// notSupportedCode: the module refuses the key, the mechanism or the
// function for this token; the card itself was not the problem.
func notSupportedCode(c uint) bool {
	switch c {
	case pkcs11.CKR_FUNCTION_NOT_SUPPORTED, pkcs11.CKR_MECHANISM_INVALID,
		pkcs11.CKR_MECHANISM_PARAM_INVALID, pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED,
		pkcs11.CKR_KEY_TYPE_INCONSISTENT:
		return true
	}
	return false
}

// ckrError wraps err from miekg/pkcs11 as an *Error naming the function;
// other errors (ours, context errors) pass through.
func ckrError(op string, err error) error {
	if err == nil {
		return nil
	}
	var named *Error
	if errors.As(err, &named) {
		return err
	}
	var code pkcs11.Error
	if errors.As(err, &code) {
		return &Error{Op: op, Code: uint(code)}
	}
	return err
}

// hasCode tells whether err is the PKCS#11 code c.
func hasCode(err error, c uint) bool {
	var code pkcs11.Error
	return errors.As(err, &code) && uint(code) == c
}
