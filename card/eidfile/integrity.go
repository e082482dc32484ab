package eidfile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Verify checks the integrity of the files against the National Register's
// signatures (ref §9): the identity signature over the identity file, the
// address signature over the trimmed address file followed by the raw
// identity signature file, the photo against the identity file's hash (tag
// 11), the 1.8 basic key against tag 1A, and the RRN certificate's chain to
// a root of trust, judged at now.
//
// It fills only the cryptographic verdicts of Integrity (identity, address,
// photo, basicKey, rrnChain); Decode fills the check-digit verdicts. A
// verdict is never "valid" when something needed for it is missing.
func Verify(f *Files, trust *TrustStore, now time.Time) Integrity {
	var in Integrity
	fields, idErr := ParseTLV(f.Identity, "identity")

	rrn, rrnErr := parseCardCert(f.RRNCert)
	switch {
	case f.Identity == nil || f.IdentitySignature == nil:
		in.Identity, in.IdentityDetail = Missing, "identity file or its signature not read"
	case rrnErr != nil:
		in.Identity, in.IdentityDetail = Invalid, "RRN certificate: "+rrnErr.Error()
	default:
		in.Identity, in.IdentityDetail = verdict(verifyRRNSignature(rrn, f.Identity, f.IdentitySignature))
	}

	switch {
	case f.Address == nil || f.AddressSignature == nil:
		in.Address, in.AddressDetail = Missing, "address file or its signature not read"
	case f.IdentitySignature == nil:
		in.Address, in.AddressDetail = Missing, "identity signature file not read (the address signature covers it)"
	case rrnErr != nil:
		in.Address, in.AddressDetail = Invalid, "RRN certificate: "+rrnErr.Error()
	default:
		// ref §9.1: trailing zeros of the address removed, the identity
		// signature file appended raw, its zero padding included (checked on
		// the re-keyed 1.7 EC test card).
		signed := append(append([]byte(nil), TrimTrailingZeros(f.Address)...), f.IdentitySignature...)
		in.Address, in.AddressDetail = verdict(verifyRRNSignature(rrn, signed, f.AddressSignature))
	}

	photoHash, basicHash := tagValue(fields, 0x11), tagValue(fields, 0x1A)
	switch {
	case f.Photo == nil:
		in.Photo, in.PhotoDetail = Missing, "photo not read"
	case idErr != nil:
		in.Photo, in.PhotoDetail = Invalid, "identity file unreadable: "+idErr.Error()
	case photoHash == nil:
		in.Photo, in.PhotoDetail = Invalid, "identity file has no photo hash (tag 11)"
	default:
		in.Photo, in.PhotoDetail = verdict(checkHash(photoHash, f.Photo))
	}

	if f.BasicKey != nil || basicHash != nil {
		switch {
		case f.BasicKey == nil:
			in.BasicKey, in.BasicKeyDetail = Missing, "basic key file 4040 not read"
		case basicHash == nil:
			in.BasicKey, in.BasicKeyDetail = Invalid, "identity file has no basic key hash (tag 1A)"
		default:
			in.BasicKey, in.BasicKeyDetail = verdict(checkBasicKey(basicHash, f.BasicKey))
		}
	}

	if f.Challenge != nil || f.ChallengeSignature != nil {
		in.ChipAuthentication, in.ChipAuthenticationDetail = verdict(checkChallenge(f.BasicKey, f.Challenge, f.ChallengeSignature))
	}

	if rrnErr != nil {
		in.RRNChain, in.RRNChainDetail = Untrusted, "RRN certificate: "+rrnErr.Error()
	} else {
		cardRoot, _ := parseCardCert(f.RootCert)
		in.RRNChain, in.RRNChainDetail = trust.verifyRRN(rrn, cardRoot, signingTime(fields), now)
	}
	return in
}

func verdict(err error) (string, string) {
	if err != nil {
		return Invalid, err.Error()
	}
	return Valid, ""
}

// DecodeVerify is Decode followed by Verify: the Reading with every verdict
// of Integrity filled, check digits and cryptographic checks alike. It is
// what the agent does with the files it read, and what a server does with
// files an agent sent it.
func DecodeVerify(f *Files, trust *TrustStore, now time.Time) (*Reading, error) {
	r, err := Decode(f)
	if err != nil {
		return nil, err
	}
	r.Integrity = mergeIntegrity(r.Integrity, Verify(f, trust, now))
	return r, nil
}

// mergeIntegrity takes the cryptographic verdicts of v into base.
func mergeIntegrity(base, v Integrity) Integrity {
	base.Identity, base.IdentityDetail = v.Identity, v.IdentityDetail
	base.Address, base.AddressDetail = v.Address, v.AddressDetail
	base.Photo, base.PhotoDetail = v.Photo, v.PhotoDetail
	base.BasicKey, base.BasicKeyDetail = v.BasicKey, v.BasicKeyDetail
	base.ChipAuthentication, base.ChipAuthenticationDetail = v.ChipAuthentication, v.ChipAuthenticationDetail
	base.RRNChain, base.RRNChainDetail = v.RRNChain, v.RRNChainDetail
	return base
}

var errNoCert = errors.New("not on the card")

func parseCardCert(b []byte) (*x509.Certificate, error) {
	der, err := CertificateDER(b)
	if err != nil {
		return nil, err
	}
	if der == nil {
		return nil, errNoCert
	}
	return x509.ParseCertificate(der)
}

// verifyRRNSignature checks a National Register signature file over data
// (ref §9.2): with an EC key, ECDSA P-384 over SHA-384, the signature being
// the DER prefix of a zero-padded file; with an RSA key, PKCS#1 v1.5 over
// SHA-256 and then SHA-1, whatever the photo hash length says, because some
// CA4-era cards mix them.
func verifyRRNSignature(rrn *x509.Certificate, data, sig []byte) error {
	switch pub := rrn.PublicKey.(type) {
	case *ecdsa.PublicKey:
		n := DERSize(sig)
		if n <= 0 || n > len(sig) {
			return errors.New("signature file does not hold a DER ECDSA signature")
		}
		h := sha512.Sum384(data)
		if !ecdsa.VerifyASN1(pub, h[:], sig[:n]) {
			return errors.New("ECDSA signature does not match the data")
		}
		return nil
	case *rsa.PublicKey:
		h256 := sha256.Sum256(data)
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, h256[:], sig) == nil {
			return nil
		}
		h1 := sha1.Sum(data)
		if rsa.VerifyPKCS1v15(pub, crypto.SHA1, h1[:], sig) == nil {
			return nil
		}
		return errors.New("RSA signature does not match the data")
	}
	return fmt.Errorf("RRN certificate has an unsupported %T key", rrn.PublicKey)
}

// checkHash compares want with the hash of data, the algorithm implied by
// the length of want (ref §9.2: 20 SHA-1, 32 SHA-256, 48 SHA-384).
func checkHash(want, data []byte) error {
	var got []byte
	switch len(want) {
	case sha1.Size:
		h := sha1.Sum(data)
		got = h[:]
	case sha256.Size:
		h := sha256.Sum256(data)
		got = h[:]
	case sha512.Size384:
		h := sha512.Sum384(data)
		got = h[:]
	default:
		return fmt.Errorf("hash of unexpected length %d", len(want))
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return errors.New("hash does not match the signed identity file")
	}
	return nil
}

// checkBasicKey compares tag 1A with SHA-384 of file 4040. The file holds a
// DER SubjectPublicKeyInfo; whether the card pads it is not documented
// (ref §3.1, §14), so the DER-sized prefix is tried when the whole file does
// not match.
func checkBasicKey(want, file []byte) error {
	if subtle.ConstantTimeCompare(basicKeyHash(file), want) == 1 {
		return nil
	}
	if n := DERSize(file); n > 0 && n < len(file) && subtle.ConstantTimeCompare(basicKeyHash(file[:n]), want) == 1 {
		return nil
	}
	return errors.New("SHA-384 of the basic key file does not match identity tag 1A")
}

// checkChallenge verifies the basic key's raw r||s signature over the
// challenge, taken as the digest itself (ref §8.5).
func checkChallenge(basicKey, challenge, sig []byte) error {
	n := DERSize(basicKey)
	if n <= 0 || n > len(basicKey) {
		return errors.New("basic key file does not hold a DER public key")
	}
	pub, err := x509.ParsePKIXPublicKey(basicKey[:n])
	if err != nil {
		return fmt.Errorf("basic key: %w", err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("basic key is %T, not ECDSA", pub)
	}
	size := (ec.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*size {
		return fmt.Errorf("chip answered a %d-byte signature, want %d", len(sig), 2*size)
	}
	r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
	if !ecdsa.Verify(ec, challenge, r, s) {
		return errors.New("the chip's signature over the challenge does not verify with the basic key")
	}
	return nil
}

func tagValue(fields []Field, tag byte) []byte {
	for _, f := range fields {
		if f.Tag == tag {
			return f.Value
		}
	}
	return nil
}

// signingTime is the card's validity begin (tag 03, DD.MM.YYYY): the
// National Register signs the data when the card is issued.
func signingTime(fields []Field) time.Time {
	t, err := time.Parse("02.01.2006", string(tagValue(fields, 0x03)))
	if err != nil {
		return time.Time{}
	}
	return t
}
