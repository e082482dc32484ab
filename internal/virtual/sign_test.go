package virtual

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"crypto/x509"
	"math/big"
	"testing"
)

func certOf(t testing.TB, p *Profile, path string) *x509.Certificate {
	t.Helper()
	c, err := p.Certificate(path)
	if err != nil {
		t.Fatalf("%s %s: %v", p.Name, path, err)
	}
	return c
}

// TestRSASignatures signs with every RSA algorithm byte of ref §8.2 and
// verifies with the certificate's public key.
func TestRSASignatures(t *testing.T) {
	msg := []byte("signed by the virtual card")
	sha1Sum, sha256Sum, md5Sum := sha1.Sum(msg), sha256.Sum256(msg), md5.Sum(msg)
	algs := []struct {
		alg    byte
		input  []byte
		verify func(pub *rsa.PublicKey, sig []byte) error
		only17 bool
	}{
		{0x01, append(append([]byte{}, digestInfoSHA256...), sha256Sum[:]...), func(pub *rsa.PublicKey, sig []byte) error {
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sha256Sum[:], sig)
		}, false},
		{0x02, sha1Sum[:], func(pub *rsa.PublicKey, sig []byte) error {
			return rsa.VerifyPKCS1v15(pub, crypto.SHA1, sha1Sum[:], sig)
		}, false},
		{0x04, md5Sum[:], func(pub *rsa.PublicKey, sig []byte) error {
			return rsa.VerifyPKCS1v15(pub, crypto.MD5, md5Sum[:], sig)
		}, false},
		{0x08, sha256Sum[:], func(pub *rsa.PublicKey, sig []byte) error {
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sha256Sum[:], sig)
		}, true},
		{0x10, sha1Sum[:], func(pub *rsa.PublicKey, sig []byte) error {
			return rsa.VerifyPSS(pub, crypto.SHA1, sha1Sum[:], sig, &rsa.PSSOptions{SaltLength: 20})
		}, true},
		{0x20, sha256Sum[:], func(pub *rsa.PublicKey, sig []byte) error {
			return rsa.VerifyPSS(pub, crypto.SHA256, sha256Sum[:], sig, &rsa.PSSOptions{SaltLength: 32})
		}, true},
	}
	for _, name := range []string{"citizen-1.1", "citizen-1.7", "citizen-1.7-ec"} {
		c := preset(t, name)
		p := c.Profile()
		wantLen := 256
		if p.Applet == Applet11 {
			wantLen = 128
		}
		for _, a := range algs {
			if a.only17 && p.Applet == Applet11 {
				run(t, c, []step{{"1.1 lacks the algorithm", mse(a.alg, keyAuth), "=6A80"}})
				continue
			}
			for _, key := range []struct {
				ref  byte
				path string
			}{{keyAuth, PathAuthCert}, {keyNonRepudiation, PathSignCert}} {
				xfer(t, c, mse(a.alg, key.ref), 0x9000)
				xfer(t, c, pinVerify("1234"), 0x9000)
				sig := signFlow(t, c, a.input)
				if len(sig) != wantLen {
					t.Fatalf("%s alg %02X: signature of %d bytes", name, a.alg, len(sig))
				}
				pub := certOf(t, p, key.path).PublicKey.(*rsa.PublicKey)
				if err := a.verify(pub, sig); err != nil {
					t.Errorf("%s alg %02X key %02X: %v", name, a.alg, key.ref, err)
				}
			}
		}
		// alg 01 takes any DigestInfo up to k−11 bytes (ref §8.2).
		xfer(t, c, mse(0x01, keyAuth), 0x9000)
		run(t, c, []step{
			{"DigestInfo too long", pso(make([]byte, wantLen-10)), "=6700"},
			{"SHA-1 hash for SHA-256 alg", cat(mse(0x02, keyAuth)), "=9000"},
			{"wrong length", pso(make([]byte, 32)), "=6700"},
			{"alg 40 is EC only", mse(0x40, keyAuth), "=6A80"},
		})
	}
}

func TestECSignatures18(t *testing.T) {
	msg := []byte("signed by the virtual 1.8 card")
	s256, s384, s512 := sha256.Sum256(msg), sha512.Sum384(msg), sha512.Sum512(msg)
	s3_256, s3_384, s3_512 := sha3.Sum256(msg), sha3.Sum384(msg), sha3.Sum512(msg)
	s1, s224 := sha1.Sum(msg), sha256.Sum224(msg)
	algs := []struct {
		alg   byte
		input []byte
	}{
		{0x01, s256[:]}, {0x02, s384[:]}, {0x04, s512[:]},
		{0x08, s3_256[:]}, {0x10, s3_384[:]}, {0x20, s3_512[:]},
		{0x40, s1[:]}, {0x40, s224[:]}, {0x40, s256[:]}, {0x40, s384[:]}, {0x40, s512[:]},
	}
	c := preset(t, "citizen-1.8")
	p := c.Profile()
	for _, a := range algs {
		for _, key := range []struct {
			ref  byte
			path string
		}{{keyAuth, PathAuthCert}, {keyNonRepudiation, PathSignCert}} {
			xfer(t, c, mse(a.alg, key.ref), 0x9000)
			xfer(t, c, pinVerify("1234"), 0x9000)
			sig := signFlow(t, c, a.input)
			if len(sig) != 96 {
				t.Fatalf("alg %02X: %d bytes, want raw r‖s of 96", a.alg, len(sig))
			}
			pub := certOf(t, p, key.path).PublicKey.(*ecdsa.PublicKey)
			r, s := new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])
			if !ecdsa.Verify(pub, a.input, r, s) {
				t.Errorf("alg %02X key %02X (%d-byte input): signature does not verify", a.alg, key.ref, len(a.input))
			}
		}
	}
	xfer(t, c, mse(0x02, keyAuth), 0x9000)
	run(t, c, []step{
		{"alg 02 wants 48 bytes", pso(s256[:]), "=6700"},
		{"alg 80 unknown", mse(0x80, keyAuth), "=6A80"},
		{"key 84", mse(0x02, 0x84), "=6A88"},
		{"key 81 tolerated (commons-eid)", mse(0x02, keyBasic), "=9000"},
		{"but no PSO with it", pso(s384[:]), "=6985"},
		{"MSE wrong P1P2", h("00 22 41 A4 05 04 80 02 84 82"), "=6B00"},
		{"MSE wrong tag", h("00 22 41 B6 05 04 81 02 84 82"), "=6A80"},
		{"MSE Lc 4", h("00 22 41 B6 04 80 02 84 82"), "=6700"},
		{"PSO wrong P1P2", cat("00 2A 9E 9B 30", s384[:]), "=6B00"},
	})
}

// TestSignatureWithTrailingLe: some stacks append Le to case-4 commands;
// the card still answers 61 xx (ref §12 item 5).
func TestSignatureWithTrailingLe(t *testing.T) {
	c := preset(t, "citizen-1.7")
	hash := sha256.Sum256([]byte("x"))
	xfer(t, c, mse(0x08, keyAuth), 0x9000)
	xfer(t, c, pinVerify("1234"), 0x9000)
	run(t, c, []step{{"PSO + Le", cat(pso(hash[:]), "00"), "=6100"}})
	sig := xfer(t, c, h("00 C0 00 00 00"), 0x9000)
	pub := certOf(t, c.Profile(), PathAuthCert).PublicKey.(*rsa.PublicKey)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, hash[:], sig); err != nil {
		t.Fatal(err)
	}
}

func TestInternalAuthenticate18(t *testing.T) {
	c := preset(t, "citizen-1.8")
	p := c.Profile()
	spki := p.Files[PathBasicKey]
	if len(spki) != 120 {
		t.Fatalf("4040 is %d bytes, want 120", len(spki))
	}
	k, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.(*ecdsa.PublicKey)
	challenge := make([]byte, 48)
	rand.Read(challenge)
	xfer(t, c, mse(0x02, keyAuth), 0x9000)
	// eid-mw: 00 88 02 81 32 94 30 <48 bytes>, no Le (ref §8.5).
	resp := c.Transmit(cat("00 88 02 81 32 94 30", challenge))
	if swOf(resp) != 0x6160 {
		t.Fatalf("INTERNAL AUTHENTICATE: %X", resp)
	}
	sig := xfer(t, c, h("00 C0 00 00 60"), 0x9000)
	if !ecdsa.Verify(pub, challenge, new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])) {
		t.Fatal("challenge signature does not verify with 4040")
	}
	run(t, c, []step{
		{"the SE is cleared", pso(challenge), "=6985"},
		{"commons-eid: MSE key 81 first", mse(0x02, keyBasic), "=9000"},
		{"then INTERNAL AUTHENTICATE", cat("00 88 02 81 32 94 30", challenge), "=6160"},
		{"32-byte challenge, alg 01", cat("00 88 01 81 22 94 20", challenge[:32]), "=6160"},
		{"alg 03", cat("00 88 03 81 32 94 30", challenge), "=6A86"},
		{"key 82", cat("00 88 02 82 32 94 30", challenge), "=6A88"},
		{"tag 95", cat("00 88 02 81 32 95 30", challenge), "=6A80"},
		{"length mismatch", cat("00 88 02 81 22 94 20", challenge[:32]), "=6A80"},
		{"no data", h("00 88 02 81"), "=6700"},
	})
	run(t, preset(t, "citizen-1.7"), []step{
		{"no basic key before 1.8", cat("00 88 02 81 32 94 30", challenge), "=6A88"},
	})
}

func TestInternalAuthenticateLimit(t *testing.T) {
	c := preset(t, "citizen-1.8")
	c.iaCalls = maxInternalAuth // the 5000 calls, without spending the time
	ch := make([]byte, 48)
	run(t, c, []step{
		{"over the limit", cat("00 88 02 81 32 94 30", ch), "=6985"},
		{"stays blocked", cat("00 88 02 81 32 94 30", ch), "=6985"},
		{"a good VERIFY lifts it", pinVerify("1234"), "=9000"},
		{"works again", cat("00 88 02 81 32 94 30", ch), "=6160"},
	})
}

func TestMSEAlgorithmsPerGeneration(t *testing.T) {
	want := map[string][]byte{
		"citizen-1.1": {0x01, 0x02, 0x04},
		"citizen-1.7": {0x01, 0x02, 0x04, 0x08, 0x10, 0x20},
		"citizen-1.8": {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40},
	}
	for name, ok := range want {
		c := preset(t, name)
		for alg := 0; alg < 256; alg++ {
			valid := false
			for _, a := range ok {
				valid = valid || byte(alg) == a
			}
			resp := c.Transmit(mse(byte(alg), keyAuth))
			if got := swOf(resp) == 0x9000; got != valid {
				t.Errorf("%s: MSE alg %02X -> %X", name, alg, resp)
			}
		}
	}
}
