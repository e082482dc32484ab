package webeid

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
)

// Token is the Web eID authentication token, format web-eid:1.0. The JSON
// names are those the Web eID validators parse.
type Token struct {
	UnverifiedCertificate string `json:"unverifiedCertificate"` // base64 (standard, padded) DER
	Algorithm             string `json:"algorithm"`             // JOSE name: RS256, PS256, ES384, ...
	Signature             string `json:"signature"`             // base64 (standard, padded); ECDSA as raw r||s
	Format                string `json:"format"`                // "web-eid:1.0"
	AppVersion            string `json:"appVersion"`            // URL naming the agent release
}

// Signer is a private key that knows its certificate: a card.Key, or a
// software key in tests.
type Signer interface {
	crypto.Signer
	Certificate() *x509.Certificate
}

// algorithmer is implemented by card.Key: the card knows which JOSE name
// (and whether PSS) its key supports for a hash.
type algorithmer interface {
	Algorithm(opts crypto.SignerOpts) (string, error)
}

// ErrUnsupportedKey: the key type or curve has no Web eID algorithm.
var ErrUnsupportedKey = errors.New("key not usable for a Web eID token")

// Options for Create.
type Options struct {
	Origin OriginOptions
	// AppVersion is the appVersion field; empty gives the eid-agent
	// release URL for Version.
	AppVersion string
	// Version is the agent version ("1.2.3") used for the default
	// AppVersion; empty means "0.0.0-dev".
	Version string
	// PSS asks RSA keys for PS256 instead of RS256 (the key must support
	// it; card keys report through their Algorithm method).
	PSS bool
}

// AppVersionURL is the appVersion value for an agent version.
func AppVersionURL(version string) string {
	if version == "" {
		version = "0.0.0-dev"
	}
	return defaultAppPrefix + version
}

// hashFor returns the hash that a JOSE algorithm uses: the last three
// characters give the SHA-2 size, as in the Web eID validators.
func hashFor(alg string) (crypto.Hash, error) {
	if len(alg) != 5 {
		return 0, fmt.Errorf("%w: algorithm %q", ErrUnsupportedKey, alg)
	}
	switch alg[:2] {
	case "RS", "PS", "ES":
	default:
		return 0, fmt.Errorf("%w: algorithm %q", ErrUnsupportedKey, alg)
	}
	switch alg[2:] {
	case "256":
		return crypto.SHA256, nil
	case "384":
		return crypto.SHA384, nil
	case "512":
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("%w: algorithm %q", ErrUnsupportedKey, alg)
}

// choose picks the JOSE algorithm and signer options for a key.
func choose(s Signer, pss bool) (string, crypto.SignerOpts, error) {
	var alg string
	switch pub := s.Public().(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			alg = "ES256"
		case elliptic.P384():
			alg = "ES384"
		case elliptic.P521():
			alg = "ES512"
		default:
			return "", nil, fmt.Errorf("%w: curve %s", ErrUnsupportedKey, pub.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		alg = "RS256"
		if pss {
			alg = "PS256"
		}
	default:
		return "", nil, fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
	}
	h, _ := hashFor(alg)
	var opts crypto.SignerOpts = h
	if alg[0] == 'P' {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	}
	// A card key knows better (a 1.7 card may not do PSS): ask it.
	if a, ok := s.(algorithmer); ok {
		name, err := a.Algorithm(opts)
		if err != nil {
			return "", nil, fmt.Errorf("%w: %v", ErrUnsupportedKey, err)
		}
		if name != alg {
			return "", nil, fmt.Errorf("%w: key reports %s, expected %s", ErrUnsupportedKey, name, alg)
		}
	}
	return alg, opts, nil
}

// SignedData returns H(origin) || H(nonce), the value the signature covers
// (the signature algorithm hashes it once more).
func SignedData(h crypto.Hash, origin, nonce string) []byte {
	a := h.New()
	a.Write([]byte(origin))
	b := h.New()
	b.Write([]byte(nonce))
	return b.Sum(a.Sum(nil))
}

// Create validates origin and nonce, has s sign H(origin) || H(nonce) and
// returns the token. The origin must be the one the agent saw on the
// connection. Errors from s (PIN cancelled, card removed) come back
// wrapped, so errors.Is works on them.
func Create(s Signer, origin, nonce string, o Options) (*Token, error) {
	if err := ValidateOrigin(origin, o.Origin); err != nil {
		return nil, err
	}
	if err := ValidateNonce(nonce); err != nil {
		return nil, err
	}
	cert := s.Certificate()
	if cert == nil {
		return nil, fmt.Errorf("%w: no certificate", ErrUnsupportedKey)
	}
	alg, opts, err := choose(s, o.PSS)
	if err != nil {
		return nil, err
	}
	h := opts.HashFunc()
	d := h.New()
	d.Write(SignedData(h, origin, nonce))
	sig, err := s.Sign(rand.Reader, d.Sum(nil), opts)
	if err != nil {
		return nil, fmt.Errorf("signing the authentication token: %w", err)
	}
	if pub, ok := s.Public().(*ecdsa.PublicKey); ok {
		// crypto.Signer returns ASN.1 DER; Web eID (like JWS) carries the
		// card's raw r||s, each half as long as the curve order.
		if sig, err = derToRaw(sig, pub.Curve); err != nil {
			return nil, err
		}
	}
	app := o.AppVersion
	if app == "" {
		app = AppVersionURL(o.Version)
	}
	return &Token{
		UnverifiedCertificate: base64.StdEncoding.EncodeToString(cert.Raw),
		Algorithm:             alg,
		Signature:             base64.StdEncoding.EncodeToString(sig),
		Format:                Format,
		AppVersion:            app,
	}, nil
}

type ecdsaSig struct{ R, S *big.Int }

func curveBytes(c elliptic.Curve) int { return (c.Params().BitSize + 7) / 8 }

func derToRaw(der []byte, c elliptic.Curve) ([]byte, error) {
	var v ecdsaSig
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil || len(rest) != 0 || v.R == nil || v.S == nil || v.R.Sign() <= 0 || v.S.Sign() <= 0 {
		return nil, fmt.Errorf("%w: malformed ECDSA signature from the key", ErrUnsupportedKey)
	}
	n := curveBytes(c)
	if v.R.BitLen() > 8*n || v.S.BitLen() > 8*n {
		return nil, fmt.Errorf("%w: ECDSA signature too long for the curve", ErrUnsupportedKey)
	}
	out := make([]byte, 2*n)
	v.R.FillBytes(out[:n])
	v.S.FillBytes(out[n:])
	return out, nil
}
