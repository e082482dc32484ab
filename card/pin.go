package card

import (
	"context"

	"github.com/eid-agent/eid-agent/internal/carderr"
)

// KeyRole names one of the two cardholder keys (ref §8.1).
type KeyRole string

const (
	// KeyAuthentication is PrK#2 (reference 82, PKCS#15 id 02, label
	// "Authentication"): PIN once per card session.
	KeyAuthentication KeyRole = "authentication"
	// KeySigning is PrK#3, the non-repudiation key (reference 83, id 03,
	// label "Signature"): PIN right before every signature.
	KeySigning KeyRole = "signing"
)

// ErrPINCancelled: the user dismissed the PIN dialog or pressed Cancel on
// the PIN pad (reader status 64 01). Nothing was sent to the card.
var ErrPINCancelled = carderr.ErrPINCancelled

// ErrPINTimeout: nobody entered the PIN in time (PIN pad status 64 00, or
// the agent's own dialog timed out).
var ErrPINTimeout = carderr.ErrPINTimeout

// PINRequest tells a PIN dialog what it is asking for. It never holds a PIN.
type PINRequest struct {
	Reader  string
	Key     KeyRole
	Retries int    // tries left as the card reports them, -1 when unknown
	Purpose string // what the PIN is for, for the dialog ("sign a document for https://...")
	Change  bool   // asking for the current PIN of a PIN change
	New     bool   // asking for the new PIN of a PIN change
}

// PINPrompt asks the user for the PIN, in a dialog the agent controls (a
// pinentry program, a terminal prompt), never in a web page. It returns the
// digits; the caller wipes the slice after use. ErrPINCancelled and
// ErrPINTimeout are the expected failures.
//
// The agent never calls a PINPrompt again on its own after a wrong PIN:
// the card blocks after three wrong tries (ref §7.1).
type PINPrompt func(ctx context.Context, req PINRequest) ([]byte, error)

// Wipe overwrites a PIN buffer.
func Wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
