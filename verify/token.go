package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// MaxTokenSize bounds the JSON a server parses: a token is a certificate
// (under 2 KiB) and a signature, so 16 KiB leaves room and caps abuse.
const MaxTokenSize = 16 << 10

// Token is the Web eID authentication token as parsed. Unknown fields (such
// as the 1.1 additions) are ignored.
type Token struct {
	UnverifiedCertificate string `json:"unverifiedCertificate"`
	Algorithm             string `json:"algorithm"`
	Signature             string `json:"signature"`
	Format                string `json:"format"`
	AppVersion            string `json:"appVersion"`
}

// ParseToken decodes and shape-checks a token: JSON object, required fields
// present, format web-eid:1 or web-eid:1.x. It does not verify anything.
func ParseToken(data []byte) (*Token, error) {
	if len(data) > MaxTokenSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFormat, len(data), MaxTokenSize)
	}
	var t Token
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrFormat)
	}
	// Version 1.x stays compatible by the Web eID rules; 2.x would not.
	if t.Format != "web-eid:1" && !strings.HasPrefix(t.Format, "web-eid:1.") {
		return nil, fmt.Errorf("%w: format %q, want web-eid:1.x", ErrFormat, t.Format)
	}
	switch {
	case t.UnverifiedCertificate == "":
		return nil, fmt.Errorf("%w: no unverifiedCertificate", ErrFormat)
	case t.Signature == "":
		return nil, fmt.Errorf("%w: no signature", ErrFormat)
	case t.Algorithm == "":
		return nil, fmt.Errorf("%w: no algorithm", ErrFormat)
	}
	return &t, nil
}

// Certificate decodes unverifiedCertificate (standard base64 DER).
func (t *Token) Certificate() (*x509.Certificate, error) {
	der, err := base64.StdEncoding.DecodeString(t.UnverifiedCertificate)
	if err != nil {
		return nil, fmt.Errorf("%w: unverifiedCertificate is not base64", ErrFormat)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: unverifiedCertificate: %v", ErrFormat, err)
	}
	return c, nil
}

// algorithmHash is the allow-list: the JOSE names the Web eID validators
// accept, each with its hash.
var algorithmHash = map[string]crypto.Hash{
	"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512,
	"PS256": crypto.SHA256, "PS384": crypto.SHA384, "PS512": crypto.SHA512,
	"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512,
}

// signedData is H(origin) || H(nonce), written from the Web eID
// specification independently of the agent's code.
func signedData(h crypto.Hash, origin, nonce string) []byte {
	ho := h.New()
	ho.Write([]byte(origin))
	hn := h.New()
	hn.Write([]byte(nonce))
	return append(ho.Sum(nil), hn.Sum(nil)...)
}

// verifySignature checks the token's signature with the certificate's key
// over signedData(origin, nonce).
func verifySignature(t *Token, cert *x509.Certificate, origin, nonce string) error {
	h, ok := algorithmHash[t.Algorithm]
	if !ok {
		return fmt.Errorf("%w: %q", ErrAlgorithm, t.Algorithm)
	}
	sig, err := base64.StdEncoding.DecodeString(t.Signature)
	if err != nil {
		return fmt.Errorf("%w: signature is not base64", ErrSignature)
	}
	d := h.New()
	d.Write(signedData(h, origin, nonce))
	digest := d.Sum(nil)
	family := t.Algorithm[:2]
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if family != "ES" {
			return fmt.Errorf("%w: %s with an EC key", ErrAlgorithm, t.Algorithm)
		}
		// Raw r||s, each half the size of the curve order, as in JWS.
		n := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*n {
			return fmt.Errorf("%w: %d-byte ECDSA signature, want %d", ErrSignature, len(sig), 2*n)
		}
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		if !ecdsa.Verify(pub, digest, r, s) {
			return &mismatchError{t.Algorithm}
		}
	case *rsa.PublicKey:
		switch family {
		case "RS":
			err = rsa.VerifyPKCS1v15(pub, h, digest, sig)
		case "PS":
			// Web eID fixes the salt to the hash length.
			err = rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
		default:
			return fmt.Errorf("%w: %s with an RSA key", ErrAlgorithm, t.Algorithm)
		}
		if err != nil {
			if len(sig) != pub.Size() {
				return fmt.Errorf("%w: %d-byte RSA signature, want %d", ErrSignature, len(sig), pub.Size())
			}
			return &mismatchError{t.Algorithm}
		}
	default:
		return fmt.Errorf("%w: key type %T", ErrAlgorithm, cert.PublicKey)
	}
	return nil
}
