package webeid

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"
)

// softKey is a software crypto.Signer with a self-signed certificate.
type softKey struct {
	crypto.Signer
	cert *x509.Certificate
}

func (k softKey) Certificate() *x509.Certificate { return k.cert }

func newSoftKey(t testing.TB, priv crypto.Signer) softKey {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "Test Holder (Authentication)"},
		NotBefore:    clock.Now().Add(-time.Hour),
		NotAfter:     clock.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return softKey{priv, cert}
}

func rsaKey(t testing.TB) softKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return newSoftKey(t, k)
}

func ecKey(t testing.TB, c elliptic.Curve) softKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return newSoftKey(t, k)
}

const (
	testOrigin = "https://ria.ee"
	testNonce  = "12345678901234567890123456789012345678901234" // 44 chars, 33 bytes
)

// TestSignedDataVectors: H(origin)||H(nonce) computed outside Go
// (printf %s ... | sha256sum / sha384sum).
func TestSignedDataVectors(t *testing.T) {
	for _, tc := range []struct {
		h    crypto.Hash
		want string
	}{
		{crypto.SHA256, "3a0de594ddc5e6d2db6ac36788ccd4102b7eb272e4d610ea8956317ccf616f92" +
			"96d58110d3c31077970ae1197cf51a3b5152dbb2417c79de9a59bf2f62b6d43c"},
		{crypto.SHA384, "869fc67e8028212e14a4952c583bd614760e0ae9d0db1fcb660f5905b018b9ff09e273aef20bb96a0ccf3c6971f50c09" +
			"62904b9159f9170b4e134a04ae4fc6cefe22e23965de69185ea16e279eddb1089aa310a12ffd087bab310a8f11ea758e"},
	} {
		if got := hex.EncodeToString(SignedData(tc.h, testOrigin, testNonce)); got != tc.want {
			t.Errorf("%v: got %s\nwant %s", tc.h, got, tc.want)
		}
	}
}

func TestCreateVerify(t *testing.T) {
	for _, tc := range []struct {
		name    string
		key     softKey
		pss     bool
		alg     string
		sigSize int
	}{
		{"RSA-2048", rsaKey(t), false, "RS256", 256},
		{"RSA-2048 PSS", rsaKey(t), true, "PS256", 256},
		{"P-256", ecKey(t, elliptic.P256()), false, "ES256", 64},
		{"P-384", ecKey(t, elliptic.P384()), false, "ES384", 96},
		{"P-521", ecKey(t, elliptic.P521()), false, "ES512", 132},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Create(tc.key, testOrigin, testNonce, Options{PSS: tc.pss, Version: "1.2.3"})
			if err != nil {
				t.Fatal(err)
			}
			if tok.Algorithm != tc.alg || tok.Format != "web-eid:1.0" ||
				tok.AppVersion != "https://github.com/eid-agent/eid-agent/releases/tag/v1.2.3" {
				t.Errorf("token %+v", tok)
			}
			sig, _ := base64.StdEncoding.DecodeString(tok.Signature)
			if len(sig) != tc.sigSize {
				t.Errorf("signature %d bytes, want %d (raw r||s for ECDSA)", len(sig), tc.sigSize)
			}
			if cert, err := Verify(tok, testOrigin, testNonce); err != nil || !cert.Equal(tc.key.cert) {
				t.Fatalf("verify: %v", err)
			}
			// Independent check with the standard library on the
			// documented construction (double hash, raw r||s).
			h := crypto.SHA256
			if tc.alg == "ES384" {
				h = crypto.SHA384
			} else if tc.alg == "ES512" {
				h = crypto.SHA512
			}
			d := h.New()
			d.Write(SignedData(h, testOrigin, testNonce))
			digest := d.Sum(nil)
			switch pub := tc.key.Public().(type) {
			case *ecdsa.PublicKey:
				n := len(sig) / 2
				if !ecdsa.Verify(pub, digest, new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])) {
					t.Error("stdlib ECDSA verify failed")
				}
			case *rsa.PublicKey:
				if tc.pss {
					err = rsa.VerifyPSS(pub, h, digest, sig, nil)
				} else {
					err = rsa.VerifyPKCS1v15(pub, h, digest, sig)
				}
				if err != nil {
					t.Errorf("stdlib RSA verify: %v", err)
				}
			}
			// The signature binds origin and nonce.
			for _, o := range []struct{ origin, nonce string }{
				{"https://ria.ee:443", testNonce},
				{"https://evil.example", testNonce},
				{testOrigin, strings.Replace(testNonce, "1", "2", 1)},
			} {
				if _, err := Verify(tok, o.origin, o.nonce); !errors.Is(err, ErrBadToken) {
					t.Errorf("verify with %q %q: %v", o.origin, o.nonce, err)
				}
			}
			// JSON names exactly as the Web eID validators read them.
			b, _ := json.Marshal(tok)
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			for _, k := range []string{"unverifiedCertificate", "algorithm", "signature", "format", "appVersion"} {
				if _, ok := m[k]; !ok {
					t.Errorf("JSON lacks %q: %s", k, b)
				}
			}
			if len(m) != 5 {
				t.Errorf("JSON has extra fields: %s", b)
			}
		})
	}
}

func TestVerifyRejectsTampering(t *testing.T) {
	k := ecKey(t, elliptic.P384())
	good, err := Create(k, testOrigin, testNonce, Options{})
	if err != nil {
		t.Fatal(err)
	}
	other := rsaKey(t)
	for name, edit := range map[string]func(*Token){
		"format":      func(t *Token) { t.Format = "web-eid:2" },
		"algorithm":   func(t *Token) { t.Algorithm = "ES256" },
		"alg RS":      func(t *Token) { t.Algorithm = "RS384" },
		"alg none":    func(t *Token) { t.Algorithm = "none" },
		"cert":        func(t *Token) { t.UnverifiedCertificate = base64.StdEncoding.EncodeToString(other.cert.Raw) },
		"cert base64": func(t *Token) { t.UnverifiedCertificate = "!!" },
		"sig base64":  func(t *Token) { t.Signature = "!!" },
		"sig DER": func(t *Token) {
			sig, _ := base64.StdEncoding.DecodeString(t.Signature)
			r, s := new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])
			der, _ := asn1Marshal(r, s)
			t.Signature = base64.StdEncoding.EncodeToString(der)
		},
		"sig flipped": func(t *Token) {
			sig, _ := base64.StdEncoding.DecodeString(t.Signature)
			sig[10] ^= 1
			t.Signature = base64.StdEncoding.EncodeToString(sig)
		},
	} {
		tok := *good
		edit(&tok)
		if _, err := Verify(&tok, testOrigin, testNonce); !errors.Is(err, ErrBadToken) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidateNonce(t *testing.T) {
	b32 := make([]byte, 32)
	for i := range b32 {
		b32[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		nonce string
		ok    bool
	}{
		{base64.StdEncoding.EncodeToString(b32), true},                     // 44 chars, padded
		{base64.URLEncoding.EncodeToString(append(b32, 0xfb, 0xff)), true}, // url alphabet
		{base64.RawStdEncoding.EncodeToString(append(b32, 1, 2, 3)), true}, // 44 chars, no padding
		{testNonce, true},
		{base64.StdEncoding.EncodeToString(b32[:31]), false}, // 44 chars but 31 bytes
		{base64.RawStdEncoding.EncodeToString(b32), false},   // 43 chars
		{strings.Repeat("A", 128), true},
		{strings.Repeat("A", 129), false},
		{strings.Repeat("A", 43) + "*", false},
		{"", false},
		{strings.Repeat("A", 42) + "==", false}, // 31 bytes
	} {
		if err := ValidateNonce(tc.nonce); (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidNonce)) {
			t.Errorf("%q: %v, want ok=%v", tc.nonce, err, tc.ok)
		}
	}
}

func TestValidateOrigin(t *testing.T) {
	long := "https://" + strings.Repeat("a", 247) + ".be"
	for _, tc := range []struct {
		origin  string
		devHTTP bool
		ok      bool
	}{
		{"https://ria.ee", false, true},
		{"https://app.example:8443", false, true},
		{"wss://app.example", false, true},
		{"https://[2001:db8::1]:8443", false, true},
		{"https://ria.ee/", false, false},
		{"https://*.ria.ee", false, false},
		{"https://ria.ee.", false, false},
		{"https://-ria.ee", false, false},
		{"https://ri_a.ee", false, false},
		{"https://xn--bcher-kva.example", false, true},
		{"https://[fe80::1%25eth0]", false, false},
		{"https://ria.ee/login", false, false},
		{"https://ria.ee?x=1", false, false},
		{"https://ria.ee#f", false, false},
		{"https://ria.ee?", false, false},
		{"https://user@ria.ee", false, false},
		{"https://RIA.ee", false, false},
		{"HTTPS://ria.ee", false, false},
		{"https://ria.ee:", false, false},
		{"https://ria.ee:0", false, false},
		{"https://ria.ee:65536", false, false},
		{"https://ria.ee:0443", false, false},
		{"https://", false, false},
		{"ftp://ria.ee", false, false},
		{"ria.ee", false, false},
		{"null", false, false},
		{"", false, false},
		{long, false, false},
		{"http://ria.ee", false, false},
		{"http://ria.ee", true, false},
		{"http://localhost:3000", false, false},
		{"http://localhost:3000", true, true},
		{"http://127.0.0.1:8080", true, true},
		{"http://[::1]:8080", true, true},
		{"http://127.0.0.1.evil.example", true, false},
		{"http://localhost.evil.example", true, false},
	} {
		err := ValidateOrigin(tc.origin, OriginOptions{AllowHTTPLoopback: tc.devHTTP})
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidOrigin)) {
			t.Errorf("%q (dev %v): %v, want ok=%v", tc.origin, tc.devHTTP, err, tc.ok)
		}
	}
}

func TestCreateRejectsBadInput(t *testing.T) {
	k := ecKey(t, elliptic.P256())
	if _, err := Create(k, "https://ria.ee/path", testNonce, Options{}); !errors.Is(err, ErrInvalidOrigin) {
		t.Errorf("origin: %v", err)
	}
	if _, err := Create(k, testOrigin, "short", Options{}); !errors.Is(err, ErrInvalidNonce) {
		t.Errorf("nonce: %v", err)
	}
	ed := ecKey(t, elliptic.P224())
	if _, err := Create(ed, testOrigin, testNonce, Options{}); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("P-224: %v", err)
	}
	fail := softKey{failSigner{k}, k.cert}
	if _, err := Create(fail, testOrigin, testNonce, Options{}); !errors.Is(err, errCancelled) {
		t.Errorf("signer error not wrapped: %v", err)
	}
}

var errCancelled = errors.New("cancelled (test)")

type failSigner struct{ crypto.Signer }

func (failSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errCancelled
}
