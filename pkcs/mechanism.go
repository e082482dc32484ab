package pkcs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/miekg/pkcs11"

	"github.com/eid-agent/eid-agent/card"
)

// digestInfoPrefix is the DER of DigestInfo up to the digest (RFC 8017
// §9.2 note 1): CKM_RSA_PKCS pads what it is given and nothing more, so
// the caller supplies the hash's identity.
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224: {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// pssHash maps a hash to the PKCS#11 hash mechanism and MGF1 variant of
// CK_RSA_PKCS_PSS_PARAMS.
var pssHash = map[crypto.Hash]struct{ mech, mgf uint }{
	crypto.SHA1:   {pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1},
	crypto.SHA224: {pkcs11.CKM_SHA224, pkcs11.CKG_MGF1_SHA224},
	crypto.SHA256: {pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256},
	crypto.SHA384: {pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384},
	crypto.SHA512: {pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512},
}

// hashSize is h.Size(), or 0 for a value crypto does not know (Size
// panics on those).
func hashSize(h crypto.Hash) int {
	if h == 0 || h > crypto.BLAKE2b_512 {
		return 0
	}
	return h.Size()
}

// offers reports whether the token lists mech. A module that lists
// nothing is given the benefit of the doubt.
func (k *Key) offers(mech uint) bool { return len(k.mechs) == 0 || k.mechs[mech] }

// prepare picks the mechanism and the data C_Sign gets, checking
// everything that can be checked without the card.
func (k *Key) prepare(digest []byte, opts crypto.SignerOpts) (*pkcs11.Mechanism, []byte, error) {
	var h crypto.Hash
	if opts != nil {
		h = opts.HashFunc()
	}
	if h != 0 {
		n := hashSize(h)
		if n == 0 {
			return nil, nil, fmt.Errorf("%w: unknown hash %d", card.ErrUnsupportedAlgorithm, h)
		}
		if len(digest) != n {
			return nil, nil, fmt.Errorf("%w: %d bytes for %v (%d bytes)", card.ErrInvalidDigest, len(digest), h, n)
		}
	}
	pss, isPSS := opts.(*rsa.PSSOptions)
	switch pub := k.cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if isPSS {
			if !k.offers(pkcs11.CKM_RSA_PKCS_PSS) {
				return nil, nil, fmt.Errorf("%w: the token does not list CKM_RSA_PKCS_PSS (RSASSA-PSS)", card.ErrUnsupportedAlgorithm)
			}
			ph, ok := pssHash[h]
			if !ok {
				return nil, nil, fmt.Errorf("%w: RSASSA-PSS with %v", card.ErrUnsupportedAlgorithm, h)
			}
			salt := pss.SaltLength
			switch {
			case salt == rsa.PSSSaltLengthAuto || salt == rsa.PSSSaltLengthEqualsHash:
				// Auto means "as long as possible" to crypto/rsa; tokens
				// want an explicit length, and the hash's length is what
				// every verifier (Go's Auto included) accepts and what
				// x509 and TLS use.
				salt = h.Size()
			case salt < 0:
				return nil, nil, fmt.Errorf("%w: PSS salt length %d", card.ErrUnsupportedAlgorithm, salt)
			}
			params := pkcs11.NewPSSParams(ph.mech, ph.mgf, uint(salt))
			return pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, params), digest, nil
		}
		if !k.offers(pkcs11.CKM_RSA_PKCS) {
			return nil, nil, fmt.Errorf("%w: the token does not list CKM_RSA_PKCS", card.ErrUnsupportedAlgorithm)
		}
		in := digest
		if h != 0 && h != crypto.MD5SHA1 {
			prefix, ok := digestInfoPrefix[h]
			if !ok {
				return nil, nil, fmt.Errorf("%w: PKCS#1 v1.5 with %v", card.ErrUnsupportedAlgorithm, h)
			}
			in = append(append(make([]byte, 0, len(prefix)+len(digest)), prefix...), digest...)
		}
		// Type-1 padding needs at least 11 bytes of the modulus.
		if len(in) == 0 || len(in) > pub.Size()-11 {
			return nil, nil, fmt.Errorf("%w: %d bytes to sign with a %d-bit key", card.ErrInvalidDigest, len(in), pub.N.BitLen())
		}
		return pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil), in, nil
	case *ecdsa.PublicKey:
		if isPSS {
			return nil, nil, fmt.Errorf("%w: PSS with an EC key", card.ErrUnsupportedAlgorithm)
		}
		if !k.offers(pkcs11.CKM_ECDSA) {
			return nil, nil, fmt.Errorf("%w: the token does not list CKM_ECDSA", card.ErrUnsupportedAlgorithm)
		}
		if len(digest) == 0 {
			return nil, nil, fmt.Errorf("%w: empty digest", card.ErrInvalidDigest)
		}
		return pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil), digest, nil
	}
	return nil, nil, fmt.Errorf("%w: key type %T", card.ErrUnsupportedAlgorithm, k.cert.PublicKey)
}

// encode gives the form crypto.Signer promises: RSA left-padded to the
// modulus size, ECDSA converted from PKCS#11's r‖s (each half the size of
// the curve order) to ASN.1 DER.
func (k *Key) encode(sig []byte) ([]byte, error) {
	switch pub := k.cert.PublicKey.(type) {
	case *rsa.PublicKey:
		n := pub.Size()
		if len(sig) == 0 || len(sig) > n {
			return nil, fmt.Errorf("C_Sign returned %d bytes for a %d-byte modulus", len(sig), n)
		}
		if len(sig) < n {
			sig = append(make([]byte, n-len(sig)), sig...)
		}
		return sig, nil
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().N.BitLen() + 7) / 8
		if len(sig) != 2*size {
			return nil, fmt.Errorf("C_Sign returned %d bytes; r‖s on %s is %d", len(sig), pub.Curve.Params().Name, 2*size)
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return asn1.Marshal(struct{ R, S *big.Int }{r, s})
	}
	return nil, fmt.Errorf("%w: key type %T", card.ErrUnsupportedAlgorithm, k.cert.PublicKey)
}

// Algorithm is the JOSE name (RFC 7518) of the signature Sign makes with
// opts: RS256/RS384/RS512 (PKCS#1 v1.5), PS256/PS384/PS512 (PSS with a
// salt as long as the hash, on tokens that list CKM_RSA_PKCS_PSS),
// ES256/ES384/ES512 (ECDSA; JOSE ties each to one curve and one hash).
// Combinations JOSE has no name for are card.ErrUnsupportedAlgorithm. nil
// opts asks for the key's natural choice: RS256 for RSA, the curve's ES
// name for EC. Note that JWS wants ECDSA signatures as r‖s, not the DER
// Sign returns.
func (k *Key) Algorithm(opts crypto.SignerOpts) (string, error) {
	if _, isPSS := opts.(*rsa.PSSOptions); isPSS && !k.offers(pkcs11.CKM_RSA_PKCS_PSS) {
		return "", fmt.Errorf("%w: the token does not do RSASSA-PSS", card.ErrUnsupportedAlgorithm)
	}
	return card.JOSEAlgorithm(k.cert.PublicKey, opts)
}
