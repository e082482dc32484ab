// Package sigalg holds the signature rules that the two signing paths,
// the card's own APDUs (package card) and a PKCS#11 module (package pkcs),
// must apply alike, so that they cannot drift apart: how long a digest is
// for the hash named, the DigestInfo that RSA PKCS#1 v1.5 signs, the salt
// of RSASSA-PSS, and the encodings crypto.Signer promises (card reference
// §8.2, §8.3). Errors match carderr.ErrUnsupportedAlgorithm and
// carderr.ErrInvalidDigest (card.ErrUnsupportedAlgorithm, card.ErrInvalidDigest).
package sigalg

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/eid-agent/eid-agent/internal/carderr"
)

// HashSize is h.Size() for the hashes package crypto knows, and 0 for any
// other value (crypto.Hash.Size panics on those).
func HashSize(h crypto.Hash) int {
	if h == 0 || h > crypto.BLAKE2b_512 {
		return 0
	}
	return h.Size()
}

// CheckDigest checks that digest is as long as the hash the caller named.
// h 0 names none, and any length passes here.
func CheckDigest(digest []byte, h crypto.Hash) error {
	if h == 0 {
		return nil
	}
	n := HashSize(h)
	if n == 0 {
		return fmt.Errorf("%w: unknown hash %d", carderr.ErrUnsupportedAlgorithm, h)
	}
	if len(digest) != n {
		return fmt.Errorf("%w: %d bytes for %v (%d bytes)", carderr.ErrInvalidDigest, len(digest), h, n)
	}
	return nil
}

// digestInfoPrefix is the DER of a DigestInfo up to the digest itself
// (RFC 8017 §9.2, note 1), for the hashes a PKCS#1 v1.5 signature is made
// with here.
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224: {0x30, 0x2D, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1C},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
	// TLS 1.0 and 1.1 sign the bare MD5 and SHA-1 concatenation.
	crypto.MD5SHA1: {},
}

// DigestInfo returns the DigestInfo of digest made with h, which RSA
// PKCS#1 v1.5 pads and signs. The digest's length is not checked here
// (CheckDigest does).
func DigestInfo(h crypto.Hash, digest []byte) ([]byte, error) {
	prefix, ok := digestInfoPrefix[h]
	if !ok {
		return nil, fmt.Errorf("%w: PKCS#1 v1.5 with %v", carderr.ErrUnsupportedAlgorithm, h)
	}
	return append(append(make([]byte, 0, len(prefix)+len(digest)), prefix...), digest...), nil
}

// PKCS1v15Input is what a raw RSA PKCS#1 v1.5 signature by pub pads: the
// DigestInfo of digest, or digest itself when h is 0 (the caller made the
// DigestInfo). Type-1 padding needs 11 bytes of the modulus (ref §8.2: at
// most 245 bytes of DigestInfo for RSA-2048).
func PKCS1v15Input(pub *rsa.PublicKey, digest []byte, h crypto.Hash) ([]byte, error) {
	in := digest
	if h != 0 {
		var err error
		if in, err = DigestInfo(h, digest); err != nil {
			return nil, err
		}
	}
	if len(in) == 0 || len(in) > pub.Size()-11 {
		return nil, fmt.Errorf("%w: %d bytes to sign with a %d-bit key", carderr.ErrInvalidDigest, len(in), pub.N.BitLen())
	}
	return in, nil
}

// SaltIsHashSize reports whether an RSASSA-PSS salt length asks for a salt
// as long as the hash: the only salt the card makes (ref §8.2), and the one
// JOSE's PS names mean.
func SaltIsHashSize(salt int, h crypto.Hash) bool {
	return salt == rsa.PSSSaltLengthAuto || salt == rsa.PSSSaltLengthEqualsHash || salt == h.Size()
}

// Encode turns a signature as a card or token returns it into the form
// crypto.Signer promises: RSA left-padded to the modulus size, ECDSA
// converted from plain r‖s, each half the size of the curve order (ref
// §8.3), to ASN.1 DER. source names what produced sig in the error a wrong
// length gives.
func Encode(pub crypto.PublicKey, sig []byte, source string) ([]byte, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		n := pub.Size()
		if len(sig) == 0 || len(sig) > n {
			return nil, fmt.Errorf("%s returned %d bytes for a %d-byte modulus", source, len(sig), n)
		}
		if len(sig) < n {
			sig = append(make([]byte, n-len(sig)), sig...)
		}
		return sig, nil
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().N.BitLen() + 7) / 8
		if len(sig) != 2*size {
			return nil, fmt.Errorf("%s returned %d bytes; r‖s on %s is %d", source, len(sig), pub.Curve.Params().Name, 2*size)
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return asn1.Marshal(struct{ R, S *big.Int }{r, s})
	}
	return nil, fmt.Errorf("%w: key type %T", carderr.ErrUnsupportedAlgorithm, pub)
}
