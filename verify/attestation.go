package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/card/eidfile"
)

// Attestation is the presence attestation an agent's attest operation
// returns (eidfile.Attestation; docs/verify.md).
type Attestation = eidfile.Attestation

// MaxAttestationSize bounds the JSON a server parses: a bundle (under
// 64 KiB) plus two certificates and two signatures.
const MaxAttestationSize = MaxBundleSize + 16<<10

// Failure modes of VerifyAttestation besides those of VerifyBundle
// (ErrIdentityTampered, ErrPhotoMismatch, ErrBasicKeyMismatch, ...) and of
// the nonce store (ErrNonceReplayed, ...). Each forgery docs/verify.md
// lists is refused with its own.
var (
	// ErrAttestationFormat: not JSON of the attestation's shape, another
	// format than eid-attestation:1, no bundle, fields that are not
	// identity/address/photo or files of fields not listed.
	ErrAttestationFormat = errors.New("verify: malformed attestation")
	// ErrWrongNonce: the attestation was made for another nonce than the
	// one this session issued.
	ErrWrongNonce = errors.New("verify: attestation made for another nonce")
	// ErrWrongCard: the files are not those of the card that answered: the
	// card data names another chip than the identity file, or the chip's
	// answer was not made with the basic key the identity file vouches for.
	ErrWrongCard = errors.New("verify: the card that answered is not the card the files are from")
	// ErrChallengeMismatch: the card answered, but another challenge than
	// the one this origin, nonce and these files give.
	ErrChallengeMismatch = errors.New("verify: the card answered another challenge")
	// ErrDowngrade: the identity file is an applet 1.8 card's (it hashes a
	// basic key, tag 1A) but the attestation carries no answer from it.
	ErrDowngrade = errors.New("verify: applet 1.8 attestation without the card's answer")
	// ErrHolderMismatch: the authentication certificate names another
	// person (subject serialNumber) than the identity file's national
	// number.
	ErrHolderMismatch = errors.New("verify: authentication certificate of another person")
	// ErrNotPresent: AttestationVerifier.RequirePresent is set and no key
	// of the card signed the challenge (a card before applet 1.8, without
	// authentication).
	ErrNotPresent = errors.New("verify: no proof that the card was present")
)

// AttestationResult says which guarantees an attestation gives. It is
// returned only when VerifyAttestation returns no error.
type AttestationResult struct {
	// Genuine: the files carry valid National Register signatures under a
	// trusted RRN certificate (always true without error; here so that a
	// log line shows all three).
	Genuine bool `json:"genuine"`
	// Present: a key of the chip signed this attestation's challenge,
	// which did not exist before the server issued the nonce: the card was
	// in a reader for this request. PresentBy says which key:
	// "basic-key" (applet 1.8, no PIN) or "authentication-key" (PIN).
	Present   bool   `json:"present"`
	PresentBy string `json:"presentBy,omitempty"`
	// Bound: that signature covers this origin and this nonce.
	Bound bool `json:"bound"`
	// Authenticated: the holder's authentication key signed too (PIN),
	// its certificate chains to a trusted root and names the identity
	// file's national number.
	Authenticated bool `json:"authenticated"`
	// Identity is the verified content: the Reading of the files (identity,
	// address and photo as released) and every check's verdict.
	Identity *IdentityResult `json:"identity"`
	// Authentication is the authentication certificate, when present.
	Authentication *x509.Certificate `json:"-"`
}

// AttestationVerifier checks presence attestations. The zero value is not
// usable: Nonces is required. Safe for concurrent use.
type AttestationVerifier struct {
	// Trust holds the roots the RRN certificate and the authentication
	// certificate may chain to; nil means eidfile.DefaultTrustStore().
	Trust *eidfile.TrustStore
	// Intermediates complete the authentication certificate's chain
	// besides the CA certificate the attestation carries.
	Intermediates []*x509.Certificate
	// Nonces is where the nonces were issued; each is consumed by the
	// first attestation presented with it, whatever the outcome.
	Nonces NonceStore
	// Now is the clock; nil means the current time.
	Now func() time.Time
	// RequirePresent refuses attestations no chip key signed (cards before
	// applet 1.8 without authentication) with ErrNotPresent.
	RequirePresent bool
	// RequireAuthentication refuses attestations without the
	// authentication key's signature (ErrFileMissing).
	RequireAuthentication bool
}

// ParseAttestation decodes an attestation's JSON and checks its shape.
func ParseAttestation(data []byte) (*Attestation, error) {
	if len(data) > MaxAttestationSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrAttestationFormat, len(data), MaxAttestationSize)
	}
	var a Attestation
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAttestationFormat, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrAttestationFormat)
	}
	if a.Format != eidfile.AttestationFormat {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrAttestationFormat, a.Format, eidfile.AttestationFormat)
	}
	if a.Bundle == nil {
		return nil, fmt.Errorf("%w: no bundle", ErrAttestationFormat)
	}
	if a.Bundle.Format != eidfile.BundleFormat {
		return nil, fmt.Errorf("%w: bundle format %q", ErrAttestationFormat, a.Bundle.Format)
	}
	return &a, nil
}

// VerifyAttestation parses data and verifies it (see Verify).
func (v *AttestationVerifier) VerifyAttestation(data []byte, expectedOrigin, nonce string) (*AttestationResult, error) {
	if v.Nonces == nil {
		return nil, errors.New("verify: AttestationVerifier has no NonceStore")
	}
	// The nonce is spent before anything else, as Validator does: a
	// rejected attestation cannot be retried with the same nonce.
	if err := v.Nonces.Take(nonce); err != nil {
		return nil, err
	}
	a, err := ParseAttestation(data)
	if err != nil {
		return nil, err
	}
	return v.verify(a, expectedOrigin, nonce)
}

// Verify checks an attestation for expectedOrigin (scheme://host[:port]
// exactly as the browser sends it, or "app:NAME" for a desktop
// application) and nonce, which it consumes from Nonces first. In order:
// the nonce and origin the attestation names; the files (as
// BundleVerifier: National Register signatures, RRN chain, photo and basic
// key hashes); that an applet 1.8 card's attestation has the card's
// answer; that the card data names the identity file's chip; the basic
// key's answer, then that the challenge it signed is the one this origin,
// nonce and these files give; the authentication signature, certificate
// and holder when present. The first failure is returned.
func (v *AttestationVerifier) Verify(a *Attestation, expectedOrigin, nonce string) (*AttestationResult, error) {
	if v.Nonces == nil {
		return nil, errors.New("verify: AttestationVerifier has no NonceStore")
	}
	if err := v.Nonces.Take(nonce); err != nil {
		return nil, err
	}
	if a == nil || a.Bundle == nil {
		return nil, fmt.Errorf("%w: no attestation or no bundle", ErrAttestationFormat)
	}
	return v.verify(a, expectedOrigin, nonce)
}

func (v *AttestationVerifier) verify(a *Attestation, expectedOrigin, nonce string) (*AttestationResult, error) {
	if subtle.ConstantTimeCompare([]byte(a.Nonce), []byte(nonce)) != 1 {
		return nil, ErrWrongNonce
	}
	if a.Origin != expectedOrigin {
		return nil, fmt.Errorf("%w: attestation made for %q", ErrWrongOrigin, a.Origin)
	}
	b := a.Bundle
	for _, f := range a.Fields {
		if !slices.Contains([]string{"identity", "address", "photo"}, f) {
			return nil, fmt.Errorf("%w: field %q", ErrAttestationFormat, f)
		}
	}
	has := func(f string) bool { return slices.Contains(a.Fields, f) }
	switch {
	case !has("identity"):
		return nil, fmt.Errorf("%w: fields lack identity", ErrAttestationFormat)
	case !has("address") && (b.Address != nil || b.AddressSignature != nil):
		return nil, fmt.Errorf("%w: address files without the address field", ErrAttestationFormat)
	case !has("photo") && b.Photo != nil:
		return nil, fmt.Errorf("%w: photo without the photo field", ErrAttestationFormat)
	}
	// A 1.8 identity file names its basic key; with the answer stripped
	// the attestation would pass for an older card's.
	fields, _ := eidfile.ParseTLV(b.Identity, "identity")
	basicHash := tlvValue(fields, 0x1A)
	if basicHash != nil && len(a.ChipSignature) == 0 {
		return nil, ErrDowngrade
	}

	bv := &BundleVerifier{Trust: v.Trust, Now: v.Now, RequireAddress: has("address"), RequirePhoto: has("photo")}
	id, err := bv.Verify(b)
	if err != nil {
		return nil, err
	}
	if b.CardData != nil {
		chip := tlvValue(fields, 0x02)
		if len(b.CardData) < 16 || !bytes.Equal(b.CardData[:16], chip) {
			return nil, fmt.Errorf("%w: the card data's chip serial is not the identity file's chip number", ErrWrongCard)
		}
	}

	want := attestationChallenge(expectedOrigin, nonce, b)
	res := &AttestationResult{Genuine: true, Identity: id}
	if len(a.ChipSignature) > 0 {
		if basicHash == nil {
			// BundleVerifier refused a basic key without tag 1A; a
			// signature without a basic key is this.
			return nil, fmt.Errorf("%w: a chip answer from a card without a basic key", ErrWrongCard)
		}
		if err := verifyBasicKeySignature(b.BasicKey, a.Challenge, a.ChipSignature); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrWrongCard, err)
		}
		if !bytes.Equal(a.Challenge, want) {
			return nil, ErrChallengeMismatch
		}
		res.Present, res.Bound, res.PresentBy = true, true, "basic-key"
	}
	if a.Authentication != nil {
		if !bytes.Equal(a.Challenge, want) {
			return nil, ErrChallengeMismatch
		}
		cert, err := v.checkAuthentication(a.Authentication, want, id)
		if err != nil {
			return nil, err
		}
		res.Authentication, res.Authenticated = cert, true
		if !res.Present {
			res.Present, res.Bound, res.PresentBy = true, true, "authentication-key"
		}
	} else if v.RequireAuthentication {
		return nil, fmt.Errorf("%w: no authentication signature", ErrFileMissing)
	}
	if v.RequirePresent && !res.Present {
		return nil, ErrNotPresent
	}
	return res, nil
}

// attestationChallenge rebuilds the challenge from docs/verify.md ("The
// challenge"), written apart from the agent's code so that tests compare
// two readings of the rule:
//
//	SHA-384("eid-attestation:1" || 0x00 || SHA-384(origin) || SHA-384(nonce) || SHA-384(files))
//
// where files is, for each bundle member in order, its length (4 bytes,
// big-endian) and its bytes.
func attestationChallenge(origin, nonce string, b *Bundle) []byte {
	var files bytes.Buffer
	for _, f := range [][]byte{b.CardData, b.Identity, b.IdentitySignature, b.Address, b.AddressSignature,
		b.Photo, b.BasicKey, b.RRNCertificate, b.RootCertificate} {
		n := len(f)
		files.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		files.Write(f)
	}
	sum := func(b []byte) []byte { h := sha512.Sum384(b); return h[:] }
	var msg []byte
	msg = append(msg, eidfile.AttestationFormat...)
	msg = append(msg, 0)
	msg = append(msg, sum([]byte(origin))...)
	msg = append(msg, sum([]byte(nonce))...)
	msg = append(msg, sum(files.Bytes())...)
	return sum(msg)
}

// verifyBasicKeySignature checks the chip's raw r||s over challenge with
// the basic key (file 4040, a DER SubjectPublicKeyInfo possibly followed
// by padding), the challenge taken as the digest (ref §8.5).
func verifyBasicKeySignature(basicKey, challenge, sig []byte) error {
	n := eidfile.DERSize(basicKey)
	if n <= 0 || n > len(basicKey) {
		return errors.New("basic key file does not hold a DER public key")
	}
	pub, err := x509.ParsePKIXPublicKey(basicKey[:n])
	if err != nil {
		return fmt.Errorf("basic key: %v", err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("basic key is %T, not ECDSA", pub)
	}
	size := (ec.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*size || len(challenge) != sha512.Size384 {
		return fmt.Errorf("answer of %d bytes over a challenge of %d", len(sig), len(challenge))
	}
	r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
	if !ecdsa.Verify(ec, challenge, r, s) {
		return errors.New("the answer does not verify with the basic key")
	}
	return nil
}

// checkAuthentication verifies the authentication key's signature over
// challenge, its certificate (validity, purpose, chain to Trust through
// the carried CA) and that it names the identity's national number.
func (v *AttestationVerifier) checkAuthentication(au *eidfile.AttestationAuthentication, challenge []byte, id *IdentityResult) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(au.Certificate)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication certificate: %v", ErrAttestationFormat, err)
	}
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		if au.Algorithm != "ES384" || len(au.Signature) != 2*size {
			return nil, fmt.Errorf("%w: %s signature of %d bytes with an EC key", ErrSignature, au.Algorithm, len(au.Signature))
		}
		r, s := new(big.Int).SetBytes(au.Signature[:size]), new(big.Int).SetBytes(au.Signature[size:])
		if !ecdsa.Verify(pub, challenge, r, s) {
			return nil, fmt.Errorf("%w: authentication signature over the challenge", ErrSignature)
		}
	case *rsa.PublicKey:
		if au.Algorithm != "RS384" {
			return nil, fmt.Errorf("%w: %s with an RSA key", ErrAlgorithm, au.Algorithm)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA384, challenge, au.Signature); err != nil {
			return nil, fmt.Errorf("%w: authentication signature over the challenge", ErrSignature)
		}
	default:
		return nil, fmt.Errorf("%w: key type %T", ErrAlgorithm, cert.PublicKey)
	}
	now := clock.Now()
	if v.Now != nil {
		now = v.Now()
	}
	if err := checkValidity(cert, now); err != nil {
		return nil, err
	}
	if _, err := checkPurpose(cert, nil, false); err != nil {
		return nil, err
	}
	trust := v.Trust
	if trust == nil {
		trust = eidfile.DefaultTrustStore()
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range trust.Roots() {
		roots.AddCert(r)
	}
	for _, c := range v.Intermediates {
		inters.AddCert(c)
	}
	if au.CACertificate != nil {
		ca, err := x509.ParseCertificate(au.CACertificate)
		if err != nil {
			return nil, fmt.Errorf("%w: CA certificate: %v", ErrAttestationFormat, err)
		}
		inters.AddCert(ca)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("%w: authentication certificate: %v", ErrUntrusted, err)
	}
	if nn := id.Reading.Identity.NationalNumber; cert.Subject.SerialNumber != nn {
		return nil, ErrHolderMismatch
	}
	return cert, nil
}

func tlvValue(fields []eidfile.Field, tag byte) []byte {
	for _, f := range fields {
		if f.Tag == tag {
			return f.Value
		}
	}
	return nil
}
