// Package carderr holds the card layer's errors that other layers use
// without talking to a card: the bridge maps them to protocol codes, and it
// must build without cgo (a Go program that only talks to the agent, or a
// server that only writes .eid files, has no libpcsclite). Package card
// re-exports every name here (card.ErrNoCard is carderr.ErrNoCard, and
// card.PINError the same type), documents them, and is what callers outside
// this module use. The signature rules both signing paths share
// (internal/sigalg) report the last two.
package carderr

import (
	"errors"
	"fmt"
)

// Sentinels; see package card for when each is returned.
var (
	ErrNoReader        = errors.New("no smart-card reader found")
	ErrNoCard          = errors.New("no card in the reader")
	ErrCardRemoved     = errors.New("card removed")
	ErrUnsupportedCard = errors.New("not a Belgian eID card")
	ErrAmbiguousReader = errors.New("several readers hold a card; name one")
	ErrReaderNotFound  = errors.New("reader not found")
	ErrPINBlocked      = errors.New("PIN blocked")
	ErrPINCancelled    = errors.New("PIN entry cancelled")
	ErrPINTimeout      = errors.New("PIN entry timed out")
	ErrNoKey           = errors.New("the card has no key for this role")

	ErrUnsupportedAlgorithm = errors.New("signature algorithm not supported")
	ErrInvalidDigest        = errors.New("digest length does not match the hash")
)

// PINError is a wrong PIN (SW 63 Cx). Retries is what the card says is
// left, or -1 when the path used cannot tell (through PKCS#11 on an applet
// 1.1 card, whose count cannot be read without spending a try).
type PINError struct {
	Retries int
}

func (e *PINError) Error() string {
	if e.Retries < 0 {
		return "wrong PIN"
	}
	if e.Retries == 0 {
		return "wrong PIN (no tries left: the PIN is blocked)"
	}
	if e.Retries == 1 {
		return "wrong PIN (1 try left)"
	}
	return fmt.Sprintf("wrong PIN (%d tries left)", e.Retries)
}

// Is makes a PINError with no tries left match ErrPINBlocked.
func (e *PINError) Is(target error) bool { return target == ErrPINBlocked && e.Retries == 0 }
