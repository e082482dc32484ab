package virtual

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Generations a profile can model. Generation17EC is an applet 1.7 card
// re-keyed to the EC PKI: RSA-2048 keys on the card, but EC P-384 National
// Register signatures and an EC CA and root (ref §1.1).
const (
	Generation11   = "1.1"
	Generation17   = "1.7"
	Generation17EC = "1.7-ec"
	Generation18   = "1.8"
)

// Profile is what one card holds. Profiles are shared read-only values: a
// Card never writes to its profile, and callers must not modify a profile
// returned by LoadDump, Generate or Preset (they may be cached).
type Profile struct {
	Name string
	// Generation is one of the Generation constants; Applet is what the
	// chip reports (Applet11, Applet17 or Applet18).
	Generation string
	Applet     string
	ATR        []byte
	// CardData is the 28-byte GET CARD DATA answer for P2=00 (ref §5); the
	// 1.8 P2=01 answer adds the live PIN tries.
	CardData []byte
	// Files maps a path such as "3F00DF014031" (upper-case hex FIDs from
	// the MF, see the Path constants) to the file's exact content,
	// padding included. DFs are implied by the paths.
	Files map[string][]byte
	// PIN is the cardholder PIN; empty means DefaultPIN.
	PIN string
	// AuthKey (ref 82), SignKey (ref 83) and BasicKey (ref 81, applet 1.8)
	// sign on the card. A nil key is absent: MSE SET naming it answers
	// 6A 88.
	AuthKey  crypto.Signer
	SignKey  crypto.Signer
	BasicKey crypto.Signer
	// PKI is the issuing PKI, for tests. Keys are nil for a dump.
	PKI *PKI
	// Incomplete is set when the profile lacks data a real card has (a
	// partial dump); Notes say what is missing or synthesised.
	Incomplete bool
	Notes      []string
}

// PKI holds the test PKI that issued a card: root, Citizen or Foreigner CA,
// and the National Register (RRN) certificate, which the root issues
// directly (ref §9.4). Any of them may be nil for a dump that lacks it.
type PKI struct {
	Root    *x509.Certificate
	RootKey crypto.Signer
	CA      *x509.Certificate
	CAKey   crypto.Signer
	RRN     *x509.Certificate
	RRNKey  crypto.Signer
}

// Validate checks that a Card can serve p.
func (p *Profile) Validate() error {
	bad := func(format string, a ...any) error {
		return &ProfileError{Profile: p.Name, Reason: fmt.Sprintf(format, a...)}
	}
	if _, err := generationOf(p.Applet); err != nil {
		return bad("%v", err)
	}
	if len(p.ATR) < 2 || len(p.ATR) > 33 {
		return bad("ATR of %d bytes", len(p.ATR))
	}
	if len(p.CardData) != cardDataLen {
		return bad("card data of %d bytes, want %d", len(p.CardData), cardDataLen)
	}
	for _, k := range slices.Sorted(maps.Keys(p.Files)) {
		n, err := normalizePath(k)
		if err != nil {
			return bad("%v", err)
		}
		if n != k {
			return bad("file path %q: write it %q", k, n)
		}
	}
	if p.PIN != "" {
		if _, err := pinBlock(p.PIN); err != nil {
			return bad("PIN must be 4 to 12 digits")
		}
	}
	return nil
}

// File returns a copy of the file at path, or nil when the card has none.
func (p *Profile) File(path string) []byte {
	b, ok := p.Files[path]
	if !ok {
		return nil
	}
	return append([]byte{}, b...)
}

// errNoCertificate: the certificate file is absent or all zeros.
var errNoCertificate = errors.New("no certificate in the file")

// Certificate parses the certificate file at path (e.g. PathAuthCert),
// ignoring its zero padding.
func (p *Profile) Certificate(path string) (*x509.Certificate, error) {
	der, ok := trimDER(p.Files[path])
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, errNoCertificate)
	}
	return x509.ParseCertificate(der)
}

// trimDER cuts a zero-padded file to the DER element at its start (as the
// minidriver does, ref §9.3): the length comes from the outer header.
func trimDER(b []byte) ([]byte, bool) {
	if len(b) < 2 || b[0] == 0 {
		return nil, false
	}
	n, hdr := int(b[1]), 2
	if n&0x80 != 0 {
		k := n & 0x7F
		if k == 0 || k > 3 || len(b) < 2+k {
			return nil, false
		}
		n = 0
		for _, x := range b[2 : 2+k] {
			n = n<<8 | int(x)
		}
		hdr += k
	}
	if hdr+n > len(b) {
		return nil, false
	}
	return b[:hdr+n], true
}
