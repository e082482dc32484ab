package sigalg

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"

	"github.com/eid-agent/eid-agent/internal/carderr"
)

func TestCheckDigest(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    crypto.Hash
		n    int
		want error
	}{
		{"no hash named", 0, 7, nil},
		{"SHA-256", crypto.SHA256, 32, nil},
		{"SHA-384 short", crypto.SHA384, 32, carderr.ErrInvalidDigest},
		{"SHA-1 long", crypto.SHA1, 21, carderr.ErrInvalidDigest},
		{"unknown hash", crypto.Hash(99), 32, carderr.ErrUnsupportedAlgorithm},
	} {
		err := CheckDigest(make([]byte, tc.n), tc.h)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestDigestInfoMatchesASN1: each prefix followed by a digest is the DER
// of a DigestInfo built by encoding/asn1 from the hash's OID.
func TestDigestInfoMatchesASN1(t *testing.T) {
	type algorithmIdentifier struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue
	}
	type digestInfo struct {
		Algorithm algorithmIdentifier
		Digest    []byte
	}
	null := asn1.RawValue{Tag: asn1.TagNull}
	for h, oid := range map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA1:   {1, 3, 14, 3, 2, 26},
		crypto.SHA224: {2, 16, 840, 1, 101, 3, 4, 2, 4},
		crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1},
		crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
		crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
	} {
		digest := make([]byte, h.Size())
		for i := range digest {
			digest[i] = byte(i)
		}
		want, err := asn1.Marshal(digestInfo{algorithmIdentifier{oid, null}, digest})
		if err != nil {
			t.Fatal(err)
		}
		got, err := DigestInfo(h, digest)
		if err != nil || string(got) != string(want) {
			t.Errorf("%v: %x %v, want %x", h, got, err, want)
		}
	}
	if got, err := DigestInfo(crypto.MD5SHA1, []byte{1, 2}); err != nil || string(got) != "\x01\x02" {
		t.Errorf("MD5+SHA-1: %x %v, want the bare digest", got, err)
	}
	if _, err := DigestInfo(crypto.MD5, make([]byte, 16)); !errors.Is(err, carderr.ErrUnsupportedAlgorithm) {
		t.Errorf("MD5: %v", err)
	}
}

// TestPKCS1v15Input: what a raw RSA signature pads verifies as a PKCS#1
// v1.5 signature of the digest with crypto/rsa.
func TestPKCS1v15Input(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("to be signed"))
	in, err := PKCS1v15Input(&key.PublicKey, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := rsa.SignPKCS1v15(nil, key, 0, in) // hash 0: in is signed as given
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("does not verify: %v", err)
	}
	// Hash 0: the caller's DigestInfo as is, if the modulus has room.
	if got, err := PKCS1v15Input(&key.PublicKey, in, 0); err != nil || string(got) != string(in) {
		t.Errorf("ready-made DigestInfo: %x %v", got, err)
	}
	for _, n := range []int{0, key.Size() - 10} {
		if _, err := PKCS1v15Input(&key.PublicKey, make([]byte, n), 0); !errors.Is(err, carderr.ErrInvalidDigest) {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
}

func TestSaltIsHashSize(t *testing.T) {
	for _, tc := range []struct {
		salt int
		want bool
	}{
		{rsa.PSSSaltLengthAuto, true}, {rsa.PSSSaltLengthEqualsHash, true}, {32, true}, {20, false}, {64, false},
	} {
		if got := SaltIsHashSize(tc.salt, crypto.SHA256); got != tc.want {
			t.Errorf("salt %d: %v", tc.salt, got)
		}
	}
}

func TestEncode(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	digest := make([]byte, 48)
	r, s, err := ecdsa.Sign(rand.Reader, ec, digest)
	if err != nil {
		t.Fatal(err)
	}
	raw := append(r.FillBytes(make([]byte, 48)), s.FillBytes(make([]byte, 48))...)
	der, err := Encode(&ec.PublicKey, raw, "test")
	if err != nil || !ecdsa.VerifyASN1(&ec.PublicKey, digest, der) {
		t.Errorf("r‖s to DER: %x %v", der, err)
	}
	if _, err := Encode(&ec.PublicKey, raw[:95], "PSO CDS"); err == nil {
		t.Error("95 bytes on P-384 accepted")
	}

	pub := &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 1023), E: 65537} // 128 bytes
	got, err := Encode(pub, []byte{1, 2}, "test")
	if err != nil || len(got) != 128 || got[126] != 1 || got[127] != 2 {
		t.Errorf("RSA left padding: %x %v", got, err)
	}
	for _, n := range []int{0, 129} {
		if _, err := Encode(pub, make([]byte, n), "test"); err == nil {
			t.Errorf("RSA signature of %d bytes accepted", n)
		}
	}
	if _, err := Encode("not a key", raw, "test"); !errors.Is(err, carderr.ErrUnsupportedAlgorithm) {
		t.Errorf("unknown key type: %v", err)
	}
}
