package verify

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/card/eidfile"
)

// Bundle is the identity bundle an agent sends (eidfile.Bundle; its JSON
// form is in docs/verify.md). The agent makes it with eidfile.NewBundle
// from the files it read.
type Bundle = eidfile.Bundle

// MaxBundleSize bounds the JSON a server parses: the files of a card are
// under 12 KiB (the photo is the largest, ~4 KiB), which base64 makes
// under 16 KiB; 64 KiB leaves room and caps abuse.
const MaxBundleSize = 64 << 10

// Failure modes of VerifyBundle, matched with errors.Is. A bundle that
// fails several checks matches each of their sentinels.
var (
	// ErrBundleFormat: not JSON of the bundle's shape, a member that is not
	// base64, too large, or another format than eidfile.BundleFormat.
	ErrBundleFormat = errors.New("verify: malformed identity bundle")
	// ErrFileMissing: a file needed for a check is not in the bundle (the
	// identity file, its signature, the RRN certificate; the address
	// without its signature or the reverse; the 1.8 basic key; the address
	// or photo when the verifier requires them).
	ErrFileMissing = errors.New("verify: card file missing from the bundle")
	// ErrFileMalformed: a card file does not parse. The error also
	// matches eidfile.ErrMalformed and unwraps to *eidfile.FormatError when
	// the card parsers said why.
	ErrFileMalformed = errors.New("verify: malformed card file")
	// ErrIdentityTampered: the identity file does not verify with the
	// National Register's signature.
	ErrIdentityTampered = errors.New("verify: identity file does not match its signature")
	// ErrAddressTampered: the address file does not verify with its
	// signature (which also covers the identity signature file).
	ErrAddressTampered = errors.New("verify: address file does not match its signature")
	// ErrPhotoMismatch: the photo's hash is not the one the signed
	// identity file holds (tag 11).
	ErrPhotoMismatch = errors.New("verify: photo does not match the signed hash")
	// ErrBasicKeyMismatch: the 1.8 basic public key's hash is not the one
	// the signed identity file holds (tag 1A).
	ErrBasicKeyMismatch = errors.New("verify: basic key does not match the signed hash")
	// ErrRRNUntrusted: the RRN certificate does not chain to a trusted
	// root (or was not valid when it signed): the signatures prove nothing.
	ErrRRNUntrusted = errors.New("verify: RRN certificate not trusted")
)

// BundleCheck is the verdict of one check of a bundle.
type BundleCheck struct {
	Name    string `json:"name"`    // identity, address, photo, basicKey, rrnChain, nationalNumber, cardNumber
	Verdict string `json:"verdict"` // valid, invalid, missing, trusted, untrusted (eidfile constants)
	Detail  string `json:"detail,omitempty"`
}

// BundleError is a bundle that failed one or more checks. errors.Is
// matches the sentinel of each failed check.
type BundleError struct {
	Failures []BundleCheck
	errs     []error
}

func (e *BundleError) Error() string {
	parts := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		parts[i] = fmt.Sprintf("%v (%s: %s)", e.errs[i], f.Name, f.Detail)
	}
	return strings.Join(parts, "; ")
}

// Unwrap gives the sentinels, for errors.Is.
func (e *BundleError) Unwrap() []error { return e.errs }

// IdentityResult is what a bundle says once verified. Reading is the same
// JSON the agent's read gives (docs/reading-json.md), without the user
// certificates; Checks lists every verdict, those that passed included.
type IdentityResult struct {
	Reading *eidfile.Reading `json:"reading"`
	Checks  []BundleCheck    `json:"checks"`
}

// BundleVerifier checks identity bundles. The zero value trusts the
// embedded Belgian roots and requires only the identity.
type BundleVerifier struct {
	// Trust holds the roots the RRN certificate may chain to; nil means
	// eidfile.DefaultTrustStore(). To add roots to the embedded ones:
	// ts := eidfile.DefaultTrustStore().Clone(); ts.AddFile("root.pem").
	Trust *eidfile.TrustStore
	// Now is the clock; nil means the current time.
	Now func() time.Time
	// RequireAddress and RequirePhoto make a bundle without them fail with
	// ErrFileMissing. Present files are always checked.
	RequireAddress bool
	RequirePhoto   bool
}

// ParseBundle decodes a bundle's JSON. Unknown members are ignored, so a
// later agent may add some.
func ParseBundle(data []byte) (*Bundle, error) {
	if len(data) > MaxBundleSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBundleFormat, len(data), MaxBundleSize)
	}
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundleFormat, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrBundleFormat)
	}
	if b.Format != eidfile.BundleFormat {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrBundleFormat, b.Format, eidfile.BundleFormat)
	}
	return &b, nil
}

// VerifyBundle parses and verifies a bundle's JSON with v.
func (v *BundleVerifier) VerifyBundle(data []byte) (*IdentityResult, error) {
	b, err := ParseBundle(data)
	if err != nil {
		return nil, err
	}
	return v.Verify(b)
}

// Verify checks a bundle exactly as the agent checks what it reads
// (eidfile.DecodeVerify): the National Register's signatures over the
// identity and address files, the photo and basic-key hashes, and the RRN
// certificate's chain to Trust. The result is returned whenever the files
// could be decoded, even with an error, so that a service can log the
// verdicts; the data in it must not be trusted when err is not nil.
//
// The check digits of the national and card numbers are reported in
// Checks but do not fail the bundle: the National Register's signature is
// the authority, and test cards carry impossible dates (see
// docs/reading-json.md). Whether the card has expired (Reading.Card
// .ValidUntil) is the service's decision.
func (v *BundleVerifier) Verify(b *Bundle) (*IdentityResult, error) {
	if b == nil {
		return nil, fmt.Errorf("%w: no bundle", ErrFileMissing)
	}
	var missing []string
	for _, f := range []struct {
		name string
		file []byte
		need bool
	}{
		{"identity", b.Identity, true},
		{"identitySignature", b.IdentitySignature, true},
		{"rrnCertificate", b.RRNCertificate, true},
		{"address", b.Address, v.RequireAddress || b.AddressSignature != nil},
		{"addressSignature", b.AddressSignature, v.RequireAddress || b.Address != nil},
		{"photo", b.Photo, v.RequirePhoto},
	} {
		if f.need && len(f.file) == 0 {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrFileMissing, strings.Join(missing, ", "))
	}
	// A certificate that does not parse would only show up as an invalid
	// signature verdict: report it as what it is.
	der, err := eidfile.CertificateDER(b.RRNCertificate)
	if err == nil && der == nil {
		return nil, fmt.Errorf("%w: rrnCertificate is empty padding", ErrFileMissing)
	}
	if err == nil {
		_, err = x509.ParseCertificate(der)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: rrnCertificate: %w", ErrFileMalformed, err)
	}
	if b.RootCertificate != nil {
		if der, err := eidfile.CertificateDER(b.RootCertificate); err != nil {
			return nil, fmt.Errorf("%w: rootCertificate: %w", ErrFileMalformed, err)
		} else if der != nil {
			if _, err := x509.ParseCertificate(der); err != nil {
				return nil, fmt.Errorf("%w: rootCertificate: %w", ErrFileMalformed, err)
			}
		}
	}

	trust := v.Trust
	if trust == nil {
		trust = eidfile.DefaultTrustStore()
	}
	now := clock.Now()
	if v.Now != nil {
		now = v.Now()
	}
	r, err := eidfile.DecodeVerify(b.Files(), trust, now)
	if err != nil {
		// Decode's only errors are *eidfile.FormatError.
		return nil, fmt.Errorf("%w: %w", ErrFileMalformed, err)
	}
	in := r.Integrity
	res := &IdentityResult{Reading: r}
	be := &BundleError{}
	add := func(name, verdict, detail string, fail error) {
		c := BundleCheck{Name: name, Verdict: verdict, Detail: detail}
		res.Checks = append(res.Checks, c)
		if fail != nil {
			be.Failures = append(be.Failures, c)
			be.errs = append(be.errs, fail)
		}
	}
	failIf := func(bad bool, err error) error {
		if bad {
			return err
		}
		return nil
	}
	// The chain first: with an untrusted RRN key, valid signatures prove
	// nothing.
	add("rrnChain", in.RRNChain, in.RRNChainDetail, failIf(in.RRNChain != eidfile.Trusted, ErrRRNUntrusted))
	add("identity", in.Identity, in.IdentityDetail, failIf(in.Identity != eidfile.Valid, ErrIdentityTampered))
	switch in.Address {
	case eidfile.Missing: // absent and not required: checked above
		add("address", in.Address, in.AddressDetail, nil)
	default:
		add("address", in.Address, in.AddressDetail, failIf(in.Address != eidfile.Valid, ErrAddressTampered))
	}
	switch in.Photo {
	case eidfile.Missing:
		add("photo", in.Photo, in.PhotoDetail, nil)
	default:
		add("photo", in.Photo, in.PhotoDetail, failIf(in.Photo != eidfile.Valid, ErrPhotoMismatch))
	}
	switch in.BasicKey {
	case "": // a card without a basic key (before 1.8)
	case eidfile.Missing:
		add("basicKey", in.BasicKey, in.BasicKeyDetail, ErrFileMissing)
	default:
		add("basicKey", in.BasicKey, in.BasicKeyDetail, failIf(in.BasicKey != eidfile.Valid, ErrBasicKeyMismatch))
	}
	add("nationalNumber", in.NationalNumber, in.NationalNumberDetail, nil)
	add("cardNumber", in.CardNumber, in.CardNumberDetail, nil)
	if len(be.Failures) > 0 {
		return res, be
	}
	return res, nil
}
