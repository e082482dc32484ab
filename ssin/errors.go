package ssin

import (
	"errors"
	"fmt"
)

// Sentinel errors; every error returned by this package is an *Error that
// unwraps to one of them.
var (
	// ErrFormat: not the right number of digits, or stray characters.
	ErrFormat = errors.New("bad format")
	// ErrChecksum: the check digits do not match the rest of the number.
	ErrChecksum = errors.New("wrong check digits")
	// ErrDate: the check digits are right but the birth date part is not a
	// possible date. Test cards use such numbers on purpose (ref §4.5: the
	// Alice test card has month 71), so callers that only care about the
	// check digits can tell this case apart.
	ErrDate = errors.New("impossible birth date")
)

// Error describes why a number was refused.
type Error struct {
	What   string // "national number" or "card number"
	Input  string // the text as given
	Reason string // human-readable explanation
	Err    error  // ErrFormat, ErrChecksum or ErrDate
}

func (e *Error) Error() string {
	in := e.Input
	if len(in) > 40 {
		in = in[:40] + "…"
	}
	return fmt.Sprintf("invalid %s %q: %s", e.What, in, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

func nnError(input string, err error, format string, args ...any) *Error {
	return &Error{What: "national number", Input: input, Reason: fmt.Sprintf(format, args...), Err: err}
}
