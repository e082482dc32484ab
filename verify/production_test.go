package verify

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/lab"
)

func pemCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// embeddedPool is what a server gets from the agent's embedded roots, as
// cmd/eid-verify builds it.
func embeddedPool() *x509.CertPool {
	p := x509.NewCertPool()
	for _, r := range eidfile.DefaultTrustStore().Roots() {
		p.AddCert(r)
	}
	return p
}

// sha1Signed: Go's verifier refuses SHA-1 signatures below the root.
func sha1Signed(c *x509.Certificate) bool {
	return c.SignatureAlgorithm == x509.SHA1WithRSA || c.SignatureAlgorithm == x509.ECDSAWithSHA1
}

// lastSHA1CA is when the last SHA-1-signed Citizen/Foreigner CA expired
// (Citizen CA 201505 and 201507 under Root CA3, 2026-06-24): no
// authentication certificate under one can be valid after it.
var lastSHA1CA = time.Date(2026, 6, 25, 0, 0, 0, 0, time.UTC)

// TestProductionCitizenCAs runs every public Citizen and Foreigner CA
// certificate (../shared/trust/belgium/chain) through the token
// validator's chain path, the one an authentication certificate takes to
// its root, with the embedded roots as Roots and a date inside the CA's
// validity (given, never today's). The SHA-256/SHA-384 generations (under
// Root CA4 and CA6) chain to the root of their issuer's name; a day after
// their expiry they do not. The SHA-1-signed generations (CA1 to CA3) are
// refused by Go's verifier, as validator.go documents: they all expired
// before lastSHA1CA, and eidfile's own check (TestProductionCAs there)
// shows their signatures verify under the embedded roots. Under a pool
// holding the CA6 lookalike instead of CA6, the CA6 generation is refused.
func TestProductionCitizenCAs(t *testing.T) {
	dir := filepath.Join(lab.SharedTrust(t), "chain")
	var names []string
	for _, p := range []string{"Citizen-CA-*.pem", "Foreigner-CA-*.pem"} {
		m, _ := filepath.Glob(filepath.Join(dir, p))
		names = append(names, m...)
	}
	if len(names) < 30 {
		t.Fatalf("only %d Citizen/Foreigner CA certificates in %s", len(names), dir)
	}
	v := &Validator{Roots: embeddedPool()}
	look := x509.NewCertPool()
	look.AddCert(pemCert(t, filepath.Join(dir, "..", "not-production", "belgium-root-ca6-LOOKALIKE-ZetesSealingNonProd.pem")))
	lookalike := &Validator{Roots: look}
	modern := map[string]int{}
	for _, name := range names {
		ca := pemCert(t, name)
		base := filepath.Base(name)
		inside := ca.NotBefore.Add(ca.NotAfter.Sub(ca.NotBefore) / 2)
		chain, err := v.chain(ca, inside)
		if sha1Signed(ca) {
			if !errors.Is(err, ErrUntrusted) {
				t.Errorf("%s (SHA-1): %v, want ErrUntrusted from Go's verifier", base, err)
			}
			if ca.NotAfter.After(lastSHA1CA) {
				t.Errorf("%s: a SHA-1 CA valid until %s, after %s", base, ca.NotAfter, lastSHA1CA)
			}
			if _, err := eidfile.DefaultTrustStore().IssuerOf(ca); err != nil {
				t.Errorf("%s: %v", base, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s on %s: %v", base, inside.Format(time.DateOnly), err)
			continue
		}
		if len(chain) != 2 || string(chain[1].RawSubjectPublicKeyInfo) != string(mustIssuer(t, ca).RawSubjectPublicKeyInfo) || chain[1].Subject.CommonName != ca.Issuer.CommonName {
			t.Errorf("%s: chain %v", base, chain)
		}
		modern[ca.Issuer.CommonName]++
		if _, err := v.chain(ca, ca.NotAfter.Add(24*time.Hour)); !errors.Is(err, ErrUntrusted) {
			t.Errorf("%s a day after expiry: %v", base, err)
		}
		if strings.Contains(ca.Issuer.CommonName, "CA6") {
			if _, err := lookalike.chain(ca, inside); !errors.Is(err, ErrUntrusted) {
				t.Errorf("%s under the CA6 lookalike: %v, want ErrUntrusted", base, err)
			}
		}
	}
	if modern["Belgium Root CA4"] < 5 || modern["Belgium Root CA6"] != 2 {
		t.Errorf("verified by issuer: %v", modern)
	}
}

// mustIssuer is an embedded root that signed c, by eidfile's own check
// (for CA2 and CA4 one of the versions sharing the key).
func mustIssuer(t testing.TB, c *x509.Certificate) *x509.Certificate {
	t.Helper()
	r, err := eidfile.DefaultTrustStore().IssuerOf(c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
