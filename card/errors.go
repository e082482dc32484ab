package card

import (
	"fmt"

	"github.com/eid-agent/eid-agent/internal/carderr"
)

// Sentinel errors. Callers test them with errors.Is; the concrete errors
// returned by this package wrap or match them. A card file that does not
// parse is reported with package eidfile's errors (eidfile.ErrMalformed,
// *eidfile.FormatError), where the parsers live. The values live in
// internal/carderr, which builds without cgo, so that the bridge can map
// them to protocol codes without linking PC/SC.
var (
	// ErrNoReader: the PC/SC service has no reader (or is not running).
	ErrNoReader = carderr.ErrNoReader
	// ErrNoCard: the reader holds no card.
	ErrNoCard = carderr.ErrNoCard
	// ErrCardRemoved: the card was removed (or reset by another program)
	// during the operation; whatever was read so far is discarded.
	ErrCardRemoved = carderr.ErrCardRemoved
	// ErrUnsupportedCard: the card does not answer as a Belgian eID.
	ErrUnsupportedCard = carderr.ErrUnsupportedCard
	// ErrAmbiguousReader: several readers hold a card and none was named.
	ErrAmbiguousReader = carderr.ErrAmbiguousReader
	// ErrReaderNotFound: the named reader does not exist.
	ErrReaderNotFound = carderr.ErrReaderNotFound
	// ErrPINBlocked: the PIN try counter is exhausted (SW 69 83).
	ErrPINBlocked = carderr.ErrPINBlocked
)

// StatusError is a response whose status word reports a failure. It keeps the
// status word so callers can react to a specific one.
type StatusError struct {
	Command string // short name of the command, e.g. "READ BINARY"
	SW1     byte
	SW2     byte
}

// SW returns the status word as one number, e.g. 0x6A82.
func (e *StatusError) SW() uint16 { return uint16(e.SW1)<<8 | uint16(e.SW2) }

func (e *StatusError) Error() string {
	msg := swText(e.SW())
	if e.Command == "" {
		return fmt.Sprintf("card answered %04X (%s)", e.SW(), msg)
	}
	return fmt.Sprintf("%s: card answered %04X (%s)", e.Command, e.SW(), msg)
}

// Is lets errors.Is(err, ErrPINBlocked) match the "authentication method
// blocked" status word.
func (e *StatusError) Is(target error) bool {
	return target == ErrPINBlocked && e.SW() == 0x6983
}

// PINError is a wrong PIN (SW 63 Cx). Retries is what the card says is
// left, or -1 when the path used cannot tell (through PKCS#11 on an applet
// 1.1 card, whose count cannot be read without spending a try). A PINError
// with no tries left matches ErrPINBlocked.
type PINError = carderr.PINError

// swText gives the meaning of the status words the applet uses
// (ref §2.3, §2.4, §7.3, §8.2, §8.3).
func swText(sw uint16) string {
	switch {
	case sw == 0x9000:
		return "success"
	case sw&0xFFF0 == 0x63C0:
		return fmt.Sprintf("wrong PIN, %d tries left", sw&0x0F)
	}
	switch sw {
	case 0x6282:
		return "end of file reached before Le bytes"
	case 0x6283:
		return "selected file not activated"
	case 0x6400:
		return "no precise diagnosis"
	case 0x6401:
		return "cancelled on the PIN pad"
	case 0x6581:
		return "memory failure"
	case 0x6700:
		return "wrong length"
	case 0x6881, 0x6E00:
		return "class not supported"
	case 0x6982:
		return "security status not satisfied"
	case 0x6983:
		return "authentication method blocked"
	case 0x6985:
		return "conditions of use not satisfied"
	case 0x6986:
		return "command not allowed (no current EF)"
	case 0x6A80:
		return "incorrect data"
	case 0x6A82:
		return "file not found"
	case 0x6A86:
		return "incorrect P1/P2"
	case 0x6A87:
		return "Lc inconsistent with P1/P2"
	case 0x6A88:
		return "referenced data not found"
	case 0x6B00:
		return "offset outside the file"
	case 0x6D00:
		return "instruction not supported"
	}
	return "unknown status"
}
