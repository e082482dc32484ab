package card

import (
	"time"

	"github.com/eid-agent/eid-agent/card/eidfile"
)

// The card's files, their parsing, decoding and verification live in
// package eidfile, which builds without PC/SC or cgo so that a server can
// verify what an agent sends with the same code. These aliases and
// wrappers keep the card package's API as it was: card.Identity and
// eidfile.Identity are the same type, card.ErrMalformed the same value.

// Types of the card's files and of a Reading (see package eidfile).
type (
	Files        = eidfile.Files
	Reading      = eidfile.Reading
	CardInfo     = eidfile.CardInfo
	Identity     = eidfile.Identity
	Address      = eidfile.Address
	Certificates = eidfile.Certificates
	Integrity    = eidfile.Integrity
	CardData     = eidfile.CardData
	Field        = eidfile.Field
	TrustStore   = eidfile.TrustStore
)

// Integrity verdicts.
const (
	Valid     = eidfile.Valid
	Invalid   = eidfile.Invalid
	Missing   = eidfile.Missing
	Trusted   = eidfile.Trusted
	Untrusted = eidfile.Untrusted
)

// ParseTLV is eidfile.ParseTLV.
func ParseTLV(b []byte, file string) ([]Field, error) { return eidfile.ParseTLV(b, file) }

// EncodeTLV is eidfile.EncodeTLV.
func EncodeTLV(fields []Field) []byte { return eidfile.EncodeTLV(fields) }

// ParseIdentity is eidfile.ParseIdentity.
func ParseIdentity(b []byte) (CardInfo, Identity, error) { return eidfile.ParseIdentity(b) }

// ParseAddress is eidfile.ParseAddress.
func ParseAddress(b []byte) (Address, error) { return eidfile.ParseAddress(b) }

// TrimTrailingZeros is eidfile.TrimTrailingZeros.
func TrimTrailingZeros(b []byte) []byte { return eidfile.TrimTrailingZeros(b) }

// ParseCardData is eidfile.ParseCardData.
func ParseCardData(b []byte) (CardData, error) { return eidfile.ParseCardData(b) }

// CertificateDER is eidfile.CertificateDER.
func CertificateDER(b []byte) ([]byte, error) { return eidfile.CertificateDER(b) }

// Decode is eidfile.Decode.
func Decode(f *Files) (*Reading, error) { return eidfile.Decode(f) }

// Verify is eidfile.Verify.
func Verify(f *Files, trust *TrustStore, now time.Time) Integrity {
	return eidfile.Verify(f, trust, now)
}

// DefaultTrustStore is eidfile.DefaultTrustStore: the embedded roots.
func DefaultTrustStore() *TrustStore { return eidfile.DefaultTrustStore() }

// SystemTrustStore is eidfile.SystemTrustStore.
func SystemTrustStore() (*TrustStore, error) { return eidfile.SystemTrustStore() }

// TrustDirs is eidfile.TrustDirs.
func TrustDirs() []string { return eidfile.TrustDirs() }
