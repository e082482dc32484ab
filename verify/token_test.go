package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"github.com/eid-agent/eid-agent/bridge/webeid"
)

// TestSignedDataVector: hand-computed with sha256sum and xxd:
// sha256(sha256("https://example.org") || sha256(nonce)).
func TestSignedDataVector(t *testing.T) {
	nonce := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	d := signedData(crypto.SHA256, "https://example.org", nonce)
	want := "50d7a905e3046b88638362cc34a31a1ae534766ca55e3aa397951efe653b062b" +
		"51643eac9777b63a7b268174d1fd4276daedec9bc9ea0bc6e5abf69047bc54f6"
	if hex.EncodeToString(d) != want {
		t.Fatalf("signed data %x", d)
	}
	h := crypto.SHA256.New()
	h.Write(d)
	if got := hex.EncodeToString(h.Sum(nil)); got != "6cc676eb337e2eb46313d36ef17857ef5470fcb104bd38e44b459231320e28e0" {
		t.Fatalf("digest %s", got)
	}
}

// TestSignedDataMatchesAgent: our reading of the rule equals the agent's.
func TestSignedDataMatchesAgent(t *testing.T) {
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		a := signedData(h, "https://a.example:8443", "bm9uY2Utbm9uY2Utbm9uY2Utbm9uY2Utbm9uY2Utbm9uY2U=")
		b := webeid.SignedData(h, "https://a.example:8443", "bm9uY2Utbm9uY2Utbm9uY2Utbm9uY2Utbm9uY2Utbm9uY2U=")
		if string(a) != string(b) {
			t.Fatalf("%v: %x != %x", h, a, b)
		}
	}
}

// selfSign signs like the Web eID application for any allowed algorithm,
// covering the algorithms the agent itself never picks (RS384, PS512, ...).
func selfSign(t *testing.T, key crypto.Signer, alg, origin, nonce string) string {
	t.Helper()
	h := algorithmHash[alg]
	d := h.New()
	d.Write(signedData(h, origin, nonce))
	digest := d.Sum(nil)
	var opts crypto.SignerOpts = h
	if alg[0] == 'P' {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	}
	if k, ok := key.(*ecdsa.PrivateKey); ok {
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			t.Fatal(err)
		}
		n := (k.Curve.Params().BitSize + 7) / 8
		raw := make([]byte, 2*n)
		r.FillBytes(raw[:n])
		s.FillBytes(raw[n:])
		return base64.StdEncoding.EncodeToString(raw)
	}
	sig, err := key.Sign(rand.Reader, digest, opts)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func TestVerifySignatureAllAlgorithms(t *testing.T) {
	keys(t)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	certFor := func(k crypto.Signer) *x509.Certificate {
		tmpl := leafTemplate(leafOpts{usage: x509.KeyUsageDigitalSignature, role: "Authentication"})
		return mustCert(t, tmpl, tmpl, k.Public(), caKey)
	}
	nonce, _ := NewNonce()
	for _, tc := range []struct {
		alg string
		key crypto.Signer
	}{
		{"RS256", rsaKey}, {"RS384", rsaKey}, {"RS512", rsaKey},
		{"PS256", rsaKey}, {"PS384", rsaKey}, {"PS512", rsaKey},
		{"ES256", p256}, {"ES384", ecKey}, {"ES512", p521},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			cert := certFor(tc.key)
			tok := &Token{Algorithm: tc.alg, Signature: selfSign(t, tc.key, tc.alg, origin, nonce)}
			if err := verifySignature(tok, cert, origin, nonce); err != nil {
				t.Fatal(err)
			}
			if err := verifySignature(tok, cert, origin+".evil", nonce); !errors.Is(err, ErrWrongOrigin) {
				t.Fatalf("other origin: %v", err)
			}
		})
	}
}

func TestParseToken(t *testing.T) {
	good := `{"unverifiedCertificate":"MIIB","algorithm":"ES384","signature":"AA==","format":"web-eid:1.0","appVersion":"x"}`
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"good", good, true},
		{"1.1 with extra fields", `{"unverifiedCertificate":"MIIB","algorithm":"ES384","signature":"AA==","format":"web-eid:1.1","unverifiedSigningCertificates":[]}`, true},
		{"bare 1", `{"unverifiedCertificate":"MIIB","algorithm":"ES384","signature":"AA==","format":"web-eid:1"}`, true},
		{"format 10", `{"unverifiedCertificate":"MIIB","algorithm":"ES384","signature":"AA==","format":"web-eid:10"}`, false},
		{"no format", `{"unverifiedCertificate":"MIIB","algorithm":"ES384","signature":"AA=="}`, false},
		{"no cert", `{"algorithm":"ES384","signature":"AA==","format":"web-eid:1.0"}`, false},
		{"no signature", `{"unverifiedCertificate":"MIIB","algorithm":"ES384","format":"web-eid:1.0"}`, false},
		{"no algorithm", `{"unverifiedCertificate":"MIIB","signature":"AA==","format":"web-eid:1.0"}`, false},
		{"trailing", good + `{}`, false},
		{"array", `[]`, false},
		{"number field", `{"unverifiedCertificate":1}`, false},
		{"empty", ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseToken([]byte(tc.in))
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrFormat)) {
				t.Fatalf("got %v", err)
			}
		})
	}
	big := make([]byte, MaxTokenSize+1)
	if _, err := ParseToken(big); !errors.Is(err, ErrFormat) {
		t.Fatal("oversized token accepted")
	}
}

// TestAgentTokenShape: the JSON the agent marshals is what we parse.
func TestAgentTokenShape(t *testing.T) {
	f := newFixture(t)
	n := f.nonce(t)
	tok, err := ParseToken(agentToken(t, f.pki.authEC, origin, n, false))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(agentToken(t, f.pki.authEC, origin, n, false), &m)
	if tok.Format != "web-eid:1.0" || tok.AppVersion != m["appVersion"] {
		t.Fatalf("%+v", tok)
	}
}
