package virtual

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"math/big"
)

// Key references (ref §8.1).
const (
	keyBasic          = 0x81
	keyAuth           = 0x82
	keyNonRepudiation = 0x83
)

// DigestInfo prefixes the card puts in front of a bare hash for the RSA
// algorithm bytes 02, 04 and 08 (ref §8.2).
var (
	digestInfoSHA1   = []byte{0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A, 0x05, 0x00, 0x04, 0x14}
	digestInfoMD5    = []byte{0x30, 0x20, 0x30, 0x0C, 0x06, 0x08, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x05, 0x05, 0x00, 0x04, 0x10}
	digestInfoSHA256 = []byte{0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
)

func (c *Card) keyFor(ref byte) crypto.Signer {
	switch ref {
	case keyAuth:
		return c.p.AuthKey
	case keyNonRepudiation:
		return c.p.SignKey
	case keyBasic:
		return c.p.BasicKey
	}
	return nil
}

// manageSE implements MSE SET for signing, `00 22 41 B6 05 04 80 <alg> 84
// <key>` (ref §8.2): only the algorithm bytes of the generation, keys 82 and
// 83, and key 81, which commons-eid sends before INTERNAL AUTHENTICATE.
func (c *Card) manageSE(cmd command) []byte {
	if cmd.p1 != 0x41 || cmd.p2 != 0xB6 {
		return sw(swWrongParams)
	}
	d := cmd.data
	if len(d) != 5 {
		return sw(swWrongLength)
	}
	if d[0] != 0x04 || d[1] != 0x80 || d[3] != 0x84 {
		return sw(swWrongData)
	}
	alg, key := d[2], d[4]
	if !c.gen.acceptsAlg(alg) {
		return sw(swWrongData)
	}
	switch key {
	case keyAuth, keyNonRepudiation, keyBasic:
	default:
		return sw(swRefNotFound)
	}
	if c.keyFor(key) == nil {
		// A dump has no private keys, and a kids card may lack one: the key
		// is not on this card.
		return sw(swRefNotFound)
	}
	c.sec.seSet, c.sec.seAlg, c.sec.seKey = true, alg, key
	return sw(swOK)
}

// computeSignature implements PSO: COMPUTE DIGITAL SIGNATURE (ref §8.3). The
// signature goes out through 61 xx / GET RESPONSE.
func (c *Card) computeSignature(cmd command) []byte {
	if cmd.p1 != 0x9E || cmd.p2 != 0x9A {
		return sw(swWrongParams)
	}
	if !cmd.hasData {
		return sw(swWrongLength)
	}
	s := &c.sec
	if !s.seSet || s.seKey == keyBasic {
		return sw(swConditionsNotSat)
	}
	key := c.keyFor(s.seKey)
	if key == nil {
		return sw(swRefNotFound)
	}
	// Which of 67 00 and 6A 80 a real card gives for an input of the wrong
	// length is not documented (ref §12 item 11); 67 00 here.
	if !c.inputLengthOK(s.seAlg, len(cmd.data), key) {
		return sw(swWrongLength)
	}
	switch s.seKey {
	case keyAuth:
		if !s.auth && !s.nrArm {
			return sw(swSecurityNotSat)
		}
	case keyNonRepudiation:
		if !s.nrArm {
			return sw(swSecurityNotSat)
		}
		s.nrArm = false // consumed: this VERIFY grants nothing more (rule 3)
	}
	var sig []byte
	var err error
	if c.gen.ec {
		sig, err = signECDSA(key, cmd.data)
	} else {
		sig, err = signRSA(key, s.seAlg, cmd.data)
	}
	if err != nil {
		return sw(swWrongData)
	}
	return c.respond(sig)
}

// inputLengthOK checks the PSO CDS input against the algorithm byte (ref
// §8.2, §8.3).
func (c *Card) inputLengthOK(alg byte, n int, key crypto.Signer) bool {
	if c.gen.ec {
		switch alg {
		case 0x01, 0x08:
			return n == 32
		case 0x02, 0x10:
			return n == 48
		case 0x04, 0x20:
			return n == 64
		case 0x40: // hash not specified
			return n == 20 || n == 28 || n == 32 || n == 48 || n == 64
		}
		return false
	}
	switch alg {
	case 0x01: // a DigestInfo the card only pads
		pub, ok := key.Public().(*rsa.PublicKey)
		return ok && n > 0 && n <= pub.Size()-11
	case 0x02, 0x10:
		return n == 20
	case 0x04:
		return n == 16
	case 0x08, 0x20:
		return n == 32
	}
	return false
}

// signRSA makes an RSASSA-PKCS1-v1.5 signature of a DigestInfo (given by the
// host for 01, built by the card for 02/04/08) or an RSASSA-PSS one with the
// salt as long as the hash (10, 20) (ref §8.2).
func signRSA(key crypto.Signer, alg byte, in []byte) ([]byte, error) {
	var prefix []byte
	switch alg {
	case 0x10:
		return key.Sign(rand.Reader, in, &rsa.PSSOptions{SaltLength: 20, Hash: crypto.SHA1})
	case 0x20:
		return key.Sign(rand.Reader, in, &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256})
	case 0x02:
		prefix = digestInfoSHA1
	case 0x04:
		prefix = digestInfoMD5
	case 0x08:
		prefix = digestInfoSHA256
	}
	di := append(append([]byte(nil), prefix...), in...)
	// Hash 0: sign the DigestInfo as given, with type-1 padding only.
	return key.Sign(rand.Reader, di, crypto.Hash(0))
}

// signECDSA signs a hash and returns the plain r‖s form (TR-03111) the
// applet outputs, each half as long as the curve order (ref §8.3).
func signECDSA(key crypto.Signer, digest []byte) ([]byte, error) {
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, errNotEC
	}
	der, err := key.Sign(rand.Reader, digest, hashForLength(len(digest)))
	if err != nil {
		return nil, err
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
		return nil, errNotEC
	}
	size := (pub.Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}

// hashForLength names the hash a digest of n bytes presumably comes from,
// for crypto.Signer implementations that check it.
func hashForLength(n int) crypto.Hash {
	switch n {
	case 20:
		return crypto.SHA1
	case 28:
		return crypto.SHA224
	case 32:
		return crypto.SHA256
	case 48:
		return crypto.SHA384
	case 64:
		return crypto.SHA512
	}
	return 0
}

// maxInternalAuth is the INTERNAL AUTHENTICATE budget between two good
// VERIFYs (ref §8.5).
const maxInternalAuth = 5000

// internalAuthenticate implements the applet 1.8 basic-key challenge,
// `00 88 <alg> 81 <Lc> 94 <len> <hash>`, answered with raw r‖s through
// GET RESPONSE; no PIN and no SE needed, and success clears the SE
// (ref §8.5, §8.4 rule 5).
func (c *Card) internalAuthenticate(cmd command) []byte {
	if cmd.p2 != keyBasic || c.p.BasicKey == nil {
		// Pre-1.8 cards have an RSA basic key whose use is undocumented;
		// the emulator has none.
		return sw(swRefNotFound)
	}
	if !cmd.hasData {
		return sw(swWrongLength)
	}
	var want int
	switch cmd.p1 {
	case 0x01:
		want = 32
	case 0x02:
		want = 48
	case 0x04:
		want = 64
	default:
		return sw(swWrongP1P2)
	}
	d := cmd.data
	if len(d) != 2+want || d[0] != 0x94 || int(d[1]) != want {
		return sw(swWrongData)
	}
	if c.iaLocked {
		return sw(swConditionsNotSat)
	}
	c.iaCalls++
	if c.iaCalls > maxInternalAuth {
		// Blocked until a good VERIFY (ref §8.5); the status word is not
		// documented.
		c.iaLocked = true
		return sw(swConditionsNotSat)
	}
	sig, err := signECDSA(c.p.BasicKey, d[2:])
	if err != nil {
		return sw(swWrongData)
	}
	c.sec.seSet = false
	return c.respond(sig)
}
