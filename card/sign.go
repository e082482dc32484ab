package card

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/carderr"
	"github.com/eid-agent/eid-agent/internal/sigalg"
)

var (
	// ErrNoKey: the card has no certificate, hence no usable key, for the
	// role: a Kids-ID or a citizen without a signing certificate, whose
	// file is all zeros (ref §9.4), or a card without the file.
	ErrNoKey = carderr.ErrNoKey
	// ErrUnsupportedAlgorithm: the card cannot make the requested kind of
	// signature (ref §8.2), or JOSE has no name for it.
	ErrUnsupportedAlgorithm = carderr.ErrUnsupportedAlgorithm
	// ErrInvalidDigest: the digest's length does not match the hash named
	// in the options. Hashing is always done by the caller (ref §8.3).
	ErrInvalidDigest = carderr.ErrInvalidDigest
)

// Key is one of the cardholder's keys. It implements crypto.Signer: the
// private key never leaves the card, every Sign is an APDU exchange that
// may ask for the PIN.
//
// A Key uses its Card: it is not safe for concurrent use with the Card or
// other Keys of the same Card, and it is useless once the card is removed.
type Key struct {
	c      *Card
	role   KeyRole
	ref    byte // 82 or 83 (ref §8.1)
	cert   *x509.Certificate
	prompt PINPrompt
	applet byte // GET CARD DATA byte 21
	pss    bool // RSASSA-PSS on the card (1.7 with PKCS#1 v2.1)
}

// Key reads the certificate of the key with role (5038 authentication,
// 5039 signing; ref §3.1) and returns the key. prompt asks the PIN when
// the card wants it (it may be nil on a PIN-pad reader; without a PIN pad a
// nil prompt fails signatures that need the PIN with ErrPINCancelled).
//
// A card without the certificate — the file absent or all zeros, as on a
// Kids-ID (ref §9.4) — gives ErrNoKey.
func (c *Card) Key(role KeyRole, prompt PINPrompt) (*Key, error) {
	k := &Key{c: c, role: role, prompt: prompt}
	var path []byte
	switch role {
	case KeyAuthentication:
		k.ref, path = 0x82, PathAuthCert
	case KeySigning:
		k.ref, path = 0x83, PathSignCert
	default:
		return nil, fmt.Errorf("%w: unknown key role %q", ErrNoKey, role)
	}
	var der []byte
	err := c.withTransaction(func() error {
		var err error
		if k.applet, err = c.applet(); err != nil {
			return err
		}
		der, err = c.readFile(path, derSize)
		return err
	})
	switch {
	case isNotFound(err):
		return nil, fmt.Errorf("%w: no %s certificate file", ErrNoKey, role)
	case err != nil:
		return nil, err
	case len(der) == 0:
		return nil, fmt.Errorf("%w: the %s certificate file is empty", ErrNoKey, role)
	}
	if k.cert, err = x509.ParseCertificate(der); err != nil {
		return nil, &eidfile.FormatError{File: string(role) + " certificate", Offset: -1, Reason: err.Error()}
	}
	// Applet 1.8 keys are ECDSA, every earlier one RSA — re-keyed 1.7
	// cards included (ref §1.1); a certificate that says otherwise does
	// not match the key the card would use.
	switch k.cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.applet < 0x18 {
			return nil, fmt.Errorf("%w: EC %s certificate on applet %X", ErrUnsupportedCard, role, k.applet)
		}
	case *rsa.PublicKey:
		if k.applet >= 0x18 {
			return nil, fmt.Errorf("%w: RSA %s certificate on applet %X", ErrUnsupportedCard, role, k.applet)
		}
	default:
		return nil, fmt.Errorf("%w: %s certificate key is %T", ErrUnsupportedCard, role, k.cert.PublicKey)
	}
	k.pss = k.applet == 0x17 && c.pkcs1Support() == 0x21
	return k, nil
}

// Certificate returns the key's certificate as read from the card.
func (k *Key) Certificate() *x509.Certificate { return k.cert }

// Role returns KeyAuthentication or KeySigning.
func (k *Key) Role() KeyRole { return k.role }

// Public returns the certificate's public key.
func (k *Key) Public() crypto.PublicKey { return k.cert.PublicKey }

// Sign signs a digest the caller computed, with the PIN rules of the key
// (ref §8.4). See SignContext.
func (k *Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), digest, opts)
}

// SignContext signs digest, hashed by the caller with opts.HashFunc().
//
//   - RSA keys (applets 1.1 and 1.7, re-keyed 1.7 included): PKCS#1 v1.5
//     with SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512, or a ready-made
//     DigestInfo with hash 0; RSASSA-PSS (opts *rsa.PSSOptions, salt as
//     long as the hash) with SHA-1 or SHA-256 on 1.7 cards that announce
//     PKCS#1 v2.1.
//   - EC keys (1.8): any digest of 20, 28, 32, 48 or 64 bytes; the result
//     is ASN.1 DER as crypto.Signer requires.
//
// The signing key asks the PIN (or the PIN pad) for every signature; the
// authentication key only when the card refuses the signature without it,
// i.e. once per card session (ref §8.4). ctx reaches the PIN dialog; a
// purpose set with WithPINPurpose is shown there.
//
// Errors: ErrPINCancelled, ErrPINTimeout (nothing sent), ErrPINFormat (no
// try lost), *PINError (wrong PIN; never retried), ErrPINBlocked,
// ErrCardRemoved, ErrUnsupportedAlgorithm, ErrInvalidDigest.
func (k *Key) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	alg, input, err := k.prepare(digest, opts)
	if err != nil {
		return nil, err
	}
	sig, err := k.sign(ctx, alg, input)
	if err != nil {
		return nil, err
	}
	return k.encode(sig)
}

// prepare picks the MSE SET algorithm byte and the PSO CDS input (ref §8.2).
//
// RSA: algorithm 01, "no hash specified", with the DigestInfo built here,
// on every RSA generation, as the Windows minidriver and commons-eid do.
// It covers SHA-384/512, which 1.1 and 1.7 cannot name in MSE SET, with one
// code path. PSS needs the card's own padding: 10 (SHA-1) or 20 (SHA-256),
// 1.7 only.
//
// EC: algorithm 40, "hash not specified", with the bare digest. The card
// hashes nothing in any mode (ref §8.3), so naming the hash (02 for SHA-384)
// would only restrict the digest length; 40 takes every length the applet
// knows (20, 28, 32, 48, 64), which is also the minidriver's choice.
func (k *Key) prepare(digest []byte, opts crypto.SignerOpts) (alg byte, input []byte, err error) {
	var h crypto.Hash
	if opts != nil {
		h = opts.HashFunc()
	}
	if err := sigalg.CheckDigest(digest, h); err != nil {
		return 0, nil, err
	}
	pss, isPSS := opts.(*rsa.PSSOptions)
	switch pub := k.cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if isPSS {
			return 0, nil, fmt.Errorf("%w: PSS with an EC key", ErrUnsupportedAlgorithm)
		}
		switch len(digest) {
		case 20, 28, 32, 48, 64:
		default:
			return 0, nil, fmt.Errorf("%w: the card signs digests of 20, 28, 32, 48 or 64 bytes, not %d", ErrUnsupportedAlgorithm, len(digest))
		}
		return 0x40, digest, nil
	case *rsa.PublicKey:
		if isPSS {
			if !k.pss {
				return 0, nil, fmt.Errorf("%w: RSASSA-PSS needs an applet 1.7 card with PKCS#1 v2.1 (applet %X)", ErrUnsupportedAlgorithm, k.applet)
			}
			switch h {
			case crypto.SHA1:
				alg = 0x10
			case crypto.SHA256:
				alg = 0x20
			default:
				return 0, nil, fmt.Errorf("%w: the card does PSS with SHA-1 or SHA-256 only, not %v", ErrUnsupportedAlgorithm, h)
			}
			// The card's salt is as long as the hash (ref §8.2).
			if s := pss.SaltLength; !sigalg.SaltIsHashSize(s, h) {
				return 0, nil, fmt.Errorf("%w: the card's PSS salt is %d bytes, not %d", ErrUnsupportedAlgorithm, h.Size(), s)
			}
			return alg, digest, nil
		}
		in, err := sigalg.PKCS1v15Input(pub, digest, h)
		if err != nil {
			return 0, nil, err
		}
		return 0x01, in, nil
	}
	return 0, nil, fmt.Errorf("%w: key type %T", ErrUnsupportedAlgorithm, k.cert.PublicKey)
}

// sign runs the card conversation with the PIN rules of ref §8.4. Each
// signature comes from one PC/SC transaction holding MSE SET, VERIFY when
// needed, PSO CDS and GET RESPONSE, so no other program can change the
// security environment or consume the PIN in between.
//
// The PIN dialog runs outside any transaction: a person may take long to
// type, other programs keep the card meanwhile, and Windows resets a card
// whose transaction stays idle for more than a few seconds. Hence, for the
// authentication key, a first transaction tries the signature without a PIN
// and, on 69 82, a second one (after the dialog) redoes MSE SET, VERIFY and
// PSO. A PIN pad needs no dialog: the reader reads the PIN in the middle of
// the transaction.
func (k *Key) sign(ctx context.Context, alg byte, input []byte) ([]byte, error) {
	c := k.c
	if k.role == KeyAuthentication {
		// ref §8.4 rule 2: the right granted by an earlier VERIFY (ours or
		// another program's) lasts for the card session; the card tells.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var sig []byte
		err := c.withTransaction(func() error {
			if err := k.setSE(alg); err != nil {
				return err
			}
			var err error
			sig, err = k.pso(input)
			return err
		})
		if !isSecurityNotSatisfied(err) {
			return sig, err
		}
	}
	if c.pin.blocked {
		return nil, errBlockedKnown()
	}
	pad, err := c.pinPad()
	if err != nil {
		return nil, err
	}
	var block []byte
	if pad.verify == 0 {
		retries, err := c.retriesForDialog()
		if err != nil {
			return nil, c.notePINResult(err)
		}
		block, err = c.askPIN(ctx, k.prompt, PINRequest{
			Reader: c.reader, Key: k.role, Retries: retries, Purpose: PINPurpose(ctx),
		})
		if err != nil {
			return nil, err
		}
		defer Wipe(block)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var sig []byte
	err = c.withTransaction(func() error {
		// ref §8.4 rule 1: VERIFY while the SE names the key, then PSO
		// right after (on 1.8 at most one command may sit in between).
		if err := k.setSE(alg); err != nil {
			return err
		}
		var err error
		if pad.verify != 0 {
			err = c.notePINResult(c.padVerify(pad))
		} else {
			err = c.verifyPIN(block)
		}
		if err != nil {
			return err
		}
		sig, err = k.pso(input)
		return err
	})
	return sig, err
}

// setSE sends MSE SET for a digital signature with this key:
// `00 22 41 B6 05 04 80 <alg> 84 <key>` (ref §8.2).
func (k *Key) setSE(alg byte) error {
	_, err := k.c.command("MSE SET", []byte{claISO, insMSE, 0x41, 0xB6, 0x05, 0x04, 0x80, alg, 0x84, k.ref})
	return err
}

// pso sends PSO: COMPUTE DIGITAL SIGNATURE without Le, as every client does
// under T=0; Transmit collects the result through 61 xx / GET RESPONSE
// (ref §8.3).
func (k *Key) pso(input []byte) ([]byte, error) {
	cmd := append([]byte{claISO, insPSO, 0x9E, 0x9A, byte(len(input))}, input...)
	return k.c.command("PSO CDS", cmd)
}

func isSecurityNotSatisfied(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.SW() == 0x6982
}

// encode checks the card's signature length and gives the form
// crypto.Signer promises (RSA left-padded to the modulus size, ECDSA
// converted from the card's plain r‖s to DER, ref §8.3). A length the key
// cannot produce means the card is not the one the certificate describes.
func (k *Key) encode(sig []byte) ([]byte, error) {
	out, err := sigalg.Encode(k.cert.PublicKey, sig, "PSO CDS")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrUnsupportedCard)
	}
	return out, nil
}

// Algorithm returns the JOSE name (RFC 7518) of the signature Sign makes
// with opts: RS256, RS384, RS512 (PKCS#1 v1.5), PS256 (PSS, on the cards
// that do it), ES256, ES384, ES512 (ECDSA, by curve). JOSE ties each ECDSA
// name to one curve and one hash, so a P-384 key is ES384 and nothing else;
// combinations without a name (SHA-1, ECDSA P-384 with SHA-256, PSS with
// SHA-384, which the card cannot do) are ErrUnsupportedAlgorithm. nil opts
// asks for the key's natural choice: ES384 on a P-384 key, RS256 on RSA.
func (k *Key) Algorithm(opts crypto.SignerOpts) (string, error) {
	if pss, isPSS := opts.(*rsa.PSSOptions); isPSS {
		if !k.pss {
			return "", fmt.Errorf("%w: this card does not do RSASSA-PSS", ErrUnsupportedAlgorithm)
		}
		if pss.HashFunc() != crypto.SHA256 {
			// The card's PSS modes are SHA-1 and SHA-256 (ref §8.2); JOSE
			// names only the second.
			return "", fmt.Errorf("%w: the card's PSS with %v has no JOSE name", ErrUnsupportedAlgorithm, pss.HashFunc())
		}
	}
	return JOSEAlgorithm(k.cert.PublicKey, opts)
}

// JOSEAlgorithm is the JOSE (RFC 7518) name of a signature by pub with
// opts: RS256/RS384/RS512 (RSA PKCS#1 v1.5), PS256/PS384/PS512 (RSA-PSS
// with a salt as long as the hash), ES256/ES384/ES512 (ECDSA; JOSE ties
// each to one curve and one hash, so a P-384 key is ES384 and nothing
// else). Combinations without a name are ErrUnsupportedAlgorithm. nil opts
// asks for the key's natural choice: the curve's ES name, or RS256. Both
// signing paths (APDU and PKCS#11) name their signatures with it.
func JOSEAlgorithm(pub crypto.PublicKey, opts crypto.SignerOpts) (string, error) {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		var want crypto.Hash
		var name string
		switch pub.Curve {
		case elliptic.P256():
			want, name = crypto.SHA256, "ES256"
		case elliptic.P384():
			want, name = crypto.SHA384, "ES384"
		case elliptic.P521():
			want, name = crypto.SHA512, "ES512"
		default:
			return "", fmt.Errorf("%w: no JOSE name for curve %s", ErrUnsupportedAlgorithm, pub.Curve.Params().Name)
		}
		if opts == nil {
			return name, nil
		}
		if _, isPSS := opts.(*rsa.PSSOptions); isPSS || opts.HashFunc() != want {
			return "", fmt.Errorf("%w: JOSE %s is %s with %v, not %v", ErrUnsupportedAlgorithm, name, pub.Curve.Params().Name, want, opts.HashFunc())
		}
		return name, nil
	case *rsa.PublicKey:
		if opts == nil {
			return "RS256", nil
		}
		h := opts.HashFunc()
		var bits string
		switch h {
		case crypto.SHA256:
			bits = "256"
		case crypto.SHA384:
			bits = "384"
		case crypto.SHA512:
			bits = "512"
		}
		pss, isPSS := opts.(*rsa.PSSOptions)
		switch {
		case bits != "" && !isPSS:
			return "RS" + bits, nil
		case bits != "" && isPSS:
			if !sigalg.SaltIsHashSize(pss.SaltLength, h) {
				return "", fmt.Errorf("%w: JOSE PS names have a salt as long as the hash", ErrUnsupportedAlgorithm)
			}
			return "PS" + bits, nil
		}
		prefix := "RSA PKCS#1 v1.5"
		if isPSS {
			prefix = "RSA-PSS"
		}
		return "", fmt.Errorf("%w: no JOSE name for %s with %v", ErrUnsupportedAlgorithm, prefix, h)
	}
	return "", fmt.Errorf("%w: key type %T", ErrUnsupportedAlgorithm, pub)
}
