package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/eid-agent/eid-agent/internal/testkit"

	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/internal/lab"
)

// Independent vectors for the Web eID signature rule. No independent
// validator could be used here (docs/verify.md, "Cross-checks"), so the
// signatures in testdata/vectors.golden were made by the openssl command
// line alone, from keys openssl generated (testdata/vectors/, test keys
// only):
//
//	openssl dgst -sha256 -binary origin.txt  > ho
//	openssl dgst -sha256 -binary nonce.txt   > hn
//	cat ho hn > data                          # H(origin) || H(nonce)
//	openssl dgst -sha256 -sign rsa-key.pem -binary data > sig   # RS256
//
// (PS256 adds -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest;
// ES384 uses -sha384 with the EC key, and the DER signature is written as
// raw r||s, as JWS does.) go test -run Vectors -update (testkit's flag)
// remakes the file with openssl.

const (
	vectorOrigin = "https://eid-verify.example:8443"
	vectorNonce  = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
)

type vector struct {
	Algorithm  string `json:"algorithm"`
	Key        string `json:"key"`  // file in testdata/vectors
	Cert       string `json:"cert"` // file in testdata/vectors
	Origin     string `json:"origin"`
	Nonce      string `json:"nonce"`
	SignedData string `json:"signedData"` // hex of H(origin) || H(nonce), from openssl
	Signature  string `json:"signature"`  // base64, from openssl
}

var vectorSpecs = []struct{ alg, key, cert string }{
	{"RS256", "rsa-key.pem", "rsa-cert.pem"},
	{"PS256", "rsa-key.pem", "rsa-cert.pem"},
	{"ES384", "ec-key.pem", "ec-cert.pem"},
}

func requireOpenSSL(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		lab.Require(t, "openssl not installed (apt-get install openssl)")
	}
	return p
}

// opensslRun runs openssl in dir and returns its standard output.
func opensslRun(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(requireOpenSSL(t), args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// opensslVector computes a vector with openssl only.
func opensslVector(t *testing.T, alg, key, cert string) vector {
	t.Helper()
	dir := t.TempDir()
	keyPEM, err := os.ReadFile(filepath.Join("testdata", "vectors", key))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("key.pem", keyPEM)
	write("origin.txt", []byte(vectorOrigin))
	write("nonce.txt", []byte(vectorNonce))
	dgst := "-sha256"
	if alg == "ES384" {
		dgst = "-sha384"
	}
	ho := opensslRun(t, dir, "dgst", dgst, "-binary", "origin.txt")
	hn := opensslRun(t, dir, "dgst", dgst, "-binary", "nonce.txt")
	data := append(append([]byte(nil), ho...), hn...)
	write("data", data)
	args := []string{"dgst", dgst, "-sign", "key.pem", "-binary"}
	if alg == "PS256" {
		args = append(args, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest")
	}
	sig := opensslRun(t, dir, append(args, "data")...)
	if alg == "ES384" {
		sig = derECDSAToRaw(t, sig, 48)
	}
	return vector{
		Algorithm: alg, Key: key, Cert: cert, Origin: vectorOrigin, Nonce: vectorNonce,
		SignedData: hex.EncodeToString(data), Signature: base64.StdEncoding.EncodeToString(sig),
	}
}

func derECDSAToRaw(t *testing.T, der []byte, size int) []byte {
	t.Helper()
	var s struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &s); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 2*size)
	s.R.FillBytes(raw[:size])
	s.S.FillBytes(raw[size:])
	return raw
}

func loadVectorCert(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", name)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func loadVectorKey(t *testing.T, name string) crypto.Signer {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(crypto.Signer)
}

const vectorsGolden = "testdata/vectors.golden"

func loadVectors(t *testing.T) []vector {
	t.Helper()
	if testkit.Updating() {
		var vs []vector
		for _, s := range vectorSpecs {
			vs = append(vs, opensslVector(t, s.alg, s.key, s.cert))
		}
		b, _ := json.MarshalIndent(vs, "", "  ")
		if err := os.WriteFile(vectorsGolden, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(vectorsGolden)
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(vectorSpecs) {
		t.Fatalf("%d vectors, want %d", len(vs), len(vectorSpecs))
	}
	return vs
}

// The verifier accepts openssl's signatures for the vector's origin and
// nonce, and refuses them for another origin or nonce.
func TestVectorsVerify(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Algorithm, func(t *testing.T) {
			h := algorithmHash[v.Algorithm]
			if got := hex.EncodeToString(signedData(h, v.Origin, v.Nonce)); got != v.SignedData {
				t.Fatalf("signed data %s, openssl %s", got, v.SignedData)
			}
			cert := loadVectorCert(t, v.Cert)
			tok := &Token{UnverifiedCertificate: base64.StdEncoding.EncodeToString(cert.Raw), Algorithm: v.Algorithm, Signature: v.Signature, Format: "web-eid:1.0"}
			if err := verifySignature(tok, cert, v.Origin, v.Nonce); err != nil {
				t.Fatal(err)
			}
			if err := verifySignature(tok, cert, "https://eid-verify.example", v.Nonce); !errors.Is(err, ErrWrongOrigin) {
				t.Fatalf("other origin: %v", err)
			}
			if err := verifySignature(tok, cert, v.Origin, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWZ="); !errors.Is(err, ErrSignature) {
				t.Fatalf("other nonce: %v", err)
			}
		})
	}
}

// The agent's token code signs exactly what openssl signs: RS256 is
// deterministic, so the bytes must be identical; for ES384 and PS256 the
// agent's signature is checked by openssl.
func TestVectorsAgent(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Algorithm, func(t *testing.T) {
			cert := loadVectorCert(t, v.Cert)
			key := loadVectorKey(t, v.Key)
			tok, err := webeid.Create(swKey{key, cert}, v.Origin, v.Nonce, webeid.Options{PSS: v.Algorithm == "PS256"})
			if err != nil {
				t.Fatal(err)
			}
			if tok.Algorithm != v.Algorithm {
				t.Fatalf("agent chose %s", tok.Algorithm)
			}
			if v.Algorithm == "RS256" {
				if tok.Signature != v.Signature {
					t.Fatalf("agent RS256 signature differs from openssl's:\n%s\n%s", tok.Signature, v.Signature)
				}
				return
			}
			// openssl verifies the agent's signature.
			dir := t.TempDir()
			sig, _ := base64.StdEncoding.DecodeString(tok.Signature)
			dgst := "-sha256"
			if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); ok {
				dgst = "-sha384"
				n := (pub.Curve.Params().BitSize + 7) / 8
				der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])})
				if err != nil {
					t.Fatal(err)
				}
				sig = der
			}
			data, _ := hex.DecodeString(v.SignedData)
			for name, b := range map[string][]byte{"sig": sig, "data": data} {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			pubDER, _ := x509.MarshalPKIXPublicKey(cert.PublicKey)
			if err := os.WriteFile(filepath.Join(dir, "pub.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"dgst", dgst, "-verify", "pub.pem", "-signature", "sig"}
			if v.Algorithm == "PS256" {
				args = append(args, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest")
			}
			out := opensslRun(t, dir, append(args, "data")...)
			if !bytes.Contains(out, []byte("Verified OK")) {
				t.Fatalf("openssl: %s", out)
			}
		})
	}
}

// The golden file is what openssl computes today: the deterministic parts
// (signed data, RS256) are recomputed and compared.
func TestVectorsRecompute(t *testing.T) {
	vs := loadVectors(t)
	for i, s := range vectorSpecs {
		got := opensslVector(t, s.alg, s.key, s.cert)
		if got.SignedData != vs[i].SignedData {
			t.Errorf("%s: signed data changed", s.alg)
		}
		if s.alg == "RS256" && got.Signature != vs[i].Signature {
			t.Errorf("RS256 signature changed")
		}
	}
}
