package webeid

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// ErrBadToken: the token is malformed or its signature does not verify.
var ErrBadToken = errors.New("invalid Web eID token")

// Verify checks a token's format and signature against the origin and
// nonce the verifier expects, and returns the signer's certificate. It
// does NOT validate the certificate (chain, validity, revocation, purpose):
// a server must do that before trusting the identity.
func Verify(t *Token, origin, nonce string) (*x509.Certificate, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: no token", ErrBadToken)
	}
	// Web eID validators accept any 1.x format; this agent writes 1.0.
	if t.Format != "web-eid:1" && !strings.HasPrefix(t.Format, "web-eid:1.") {
		return nil, fmt.Errorf("%w: format %q", ErrBadToken, t.Format)
	}
	der, err := base64.StdEncoding.DecodeString(t.UnverifiedCertificate)
	if err != nil {
		return nil, fmt.Errorf("%w: unverifiedCertificate is not base64", ErrBadToken)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: unverifiedCertificate: %v", ErrBadToken, err)
	}
	sig, err := base64.StdEncoding.DecodeString(t.Signature)
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not base64", ErrBadToken)
	}
	h, err := hashFor(t.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	d := h.New()
	d.Write(SignedData(h, origin, nonce))
	digest := d.Sum(nil)
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		n := curveBytes(pub.Curve)
		if t.Algorithm[:2] != "ES" || len(sig) != 2*n {
			return nil, fmt.Errorf("%w: %s signature of %d bytes for an EC key", ErrBadToken, t.Algorithm, len(sig))
		}
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		if !ecdsa.Verify(pub, digest, r, s) {
			return nil, fmt.Errorf("%w: signature does not verify", ErrBadToken)
		}
	case *rsa.PublicKey:
		switch t.Algorithm[:2] {
		case "RS":
			err = rsa.VerifyPKCS1v15(pub, h, digest, sig)
		case "PS":
			err = rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		default:
			err = errors.New("not an RSA algorithm")
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadToken, t.Algorithm, err)
		}
	default:
		return nil, fmt.Errorf("%w: key type %T", ErrBadToken, pub)
	}
	return cert, nil
}
