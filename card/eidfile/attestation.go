package eidfile

// AttestationFormat names version 1 of the presence attestation.
const AttestationFormat = "eid-attestation:1"

// Attestation is what the agent's attest operation returns
// (docs/protocol.md) and package verify checks (docs/verify.md): the
// identity bundle of the fields released, bound to the requesting origin
// and the server's nonce by the card itself.
//
// On applet 1.8 cards the chip's basic key (file 4040, no PIN) signed
// Challenge, which is derived from the origin, the nonce and the files
// released (docs/verify.md, "The challenge"): the answer proves that the
// chip holding the key the National Register signed for (identity tag 1A)
// took part in this request, now. Earlier cards have no readable basic key,
// so their attestation carries no answer and proves only that the files
// are genuine. In JSON every byte string is standard base64.
type Attestation struct {
	Format string `json:"format"` // AttestationFormat
	// Origin and Nonce are those the agent bound: the connection's
	// handshake Origin ("app:NAME" for a desktop application) and the
	// server's challenge nonce. A verifier compares them with its own.
	Origin string `json:"origin"`
	Nonce  string `json:"nonce"`
	// Fields released: identity (always), address, photo.
	Fields []string `json:"fields"`
	// Bundle holds the raw signed files of Fields with the card data, the
	// RRN certificate and, on 1.8 cards, the basic key.
	Bundle *Bundle `json:"bundle"`
	// Challenge is the 48 bytes the card signed: with its basic key
	// (ChipSignature, raw r||s, ref §8.5; applet 1.8), with its
	// authentication key (Authentication), or both. Absent when nothing
	// was signed (a card before 1.8 without authentication).
	Challenge     []byte `json:"challenge,omitempty"`
	ChipSignature []byte `json:"chipSignature,omitempty"`
	// Authentication is present when the caller asked for it (PIN): the
	// authentication key's signature over the same challenge.
	Authentication *AttestationAuthentication `json:"authentication,omitempty"`
}

// AttestationAuthentication is the authentication key's signature over an
// attestation's challenge.
type AttestationAuthentication struct {
	// Certificate is the authentication certificate (5038, DER) and
	// CACertificate the Citizen or Foreigner CA that issued it (503A).
	Certificate   []byte `json:"certificate"`
	CACertificate []byte `json:"caCertificate,omitempty"`
	// Algorithm is the JOSE name: ES384 (1.8, raw r||s) or RS384 (RSA
	// PKCS#1 v1.5); the challenge is signed as a SHA-384 digest.
	Algorithm string `json:"algorithm"`
	Signature []byte `json:"signature"`
}
