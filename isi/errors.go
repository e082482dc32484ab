package isi

import (
	"errors"
	"fmt"
)

// Sentinel errors. A refused scan is a *ScanError, a refused manual entry
// an *EntryError, a scanner device failure a *DeviceError; each unwraps to
// one of these (and, for a number with wrong check digits, also to the
// ssin package's sentinel).
var (
	ErrEmpty    = errors.New("empty scan")
	ErrTooLong  = errors.New("scan too long")
	ErrEncoding = errors.New("scan is not valid UTF-8")
	// ErrControl: a control character other than the separators a
	// barcode may carry (tab, CR, LF, GS, RS, FS, US, EOT).
	ErrControl = errors.New("control character in scan")
	// ErrLayout: the scan looks typed through a keyboard-layout mismatch
	// (AZERTY digit row), and no repair of it gives a valid SSIN.
	ErrLayout = errors.New("keyboard layout mismatch")
	// ErrNoSSIN: nothing in the scan is an 11-digit number.
	ErrNoSSIN = errors.New("no SSIN in scan")
	// ErrInvalidSSIN: an SSIN with wrong check digits or an impossible
	// date; the error also wraps the ssin package's error.
	ErrInvalidSSIN = errors.New("invalid SSIN")
	// ErrAmbiguous: several different valid SSINs, or two layout repairs
	// that each give one: the agent will not pick.
	ErrAmbiguous = errors.New("ambiguous scan")

	ErrCardNumber   = errors.New("invalid card number")
	ErrBirthDate    = errors.New("invalid birth date")
	ErrName         = errors.New("invalid name")
	ErrDisconnected = errors.New("scanner disconnected")
)

// ScanError explains why a scan was refused. It never quotes the scan
// itself, which holds personal data.
type ScanError struct {
	Reason string
	Err    error // one of the sentinels above
	Cause  error // the ssin package's error, for ErrInvalidSSIN
}

func (e *ScanError) Error() string   { return "ISI+ scan: " + e.Reason }
func (e *ScanError) Unwrap() []error { return nonNil(e.Err, e.Cause) }

// EntryError says which field of a manual entry is wrong.
type EntryError struct {
	Field  string // ssin, reason, cardNumber, birthDate, lastName, firstName
	Reason string
	Err    error
	Cause  error
}

func (e *EntryError) Error() string   { return fmt.Sprintf("manual entry: %s: %s", e.Field, e.Reason) }
func (e *EntryError) Unwrap() []error { return nonNil(e.Err, e.Cause) }

// DeviceError is a failure of a serial scanner.
type DeviceError struct {
	Path string
	Op   string // "open", "read"
	Err  error
}

func (e *DeviceError) Error() string {
	if errors.Is(e.Err, ErrDisconnected) {
		return fmt.Sprintf("scanner %s: %v; waiting for it to come back", e.Path, e.Err)
	}
	return fmt.Sprintf("scanner %s: %s: %v", e.Path, e.Op, e.Err)
}
func (e *DeviceError) Unwrap() error { return e.Err }

func nonNil(errs ...error) []error {
	out := errs[:0]
	for _, e := range errs {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}
