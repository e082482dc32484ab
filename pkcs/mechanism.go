package pkcs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/sigalg"
)

// pssHash maps a hash to the PKCS#11 hash mechanism and MGF1 variant of
// CK_RSA_PKCS_PSS_PARAMS.
var pssHash = map[crypto.Hash]struct{ mech, mgf uint }{
	crypto.SHA1:   {pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1},
	crypto.SHA224: {pkcs11.CKM_SHA224, pkcs11.CKG_MGF1_SHA224},
	crypto.SHA256: {pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256},
	crypto.SHA384: {pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384},
	crypto.SHA512: {pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512},
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
	if err := sigalg.CheckDigest(digest, h); err != nil {
		return nil, nil, err
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
		// CKM_RSA_PKCS pads what it is given and nothing more: the
		// DigestInfo naming the hash is built here.
		in, err := sigalg.PKCS1v15Input(pub, digest, h)
		if err != nil {
			return nil, nil, err
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
// modulus size, ECDSA converted from PKCS#11's r‖s to ASN.1 DER.
func (k *Key) encode(sig []byte) ([]byte, error) {
	return sigalg.Encode(k.cert.PublicKey, sig, "C_Sign")
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
