package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/bridge/webeid"
)

// Keys are made once: RSA-2048 generation is slow under -race, and
// certificates (cheap) are what differ between tests.
var (
	keysOnce                         sync.Once
	rootKey, caKey, ecKey, otherRoot *ecdsa.PrivateKey
	rsaKey                           *rsa.PrivateKey
)

func keys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		gen := func() *ecdsa.PrivateKey {
			k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			if err != nil {
				panic(err)
			}
			return k
		}
		rootKey, caKey, ecKey, otherRoot = gen(), gen(), gen(), gen()
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
}

// testPKI mirrors the Belgian layout: root -> Citizen CA -> user certs.
type testPKI struct {
	root, ca            *x509.Certificate
	roots, inters       *x509.CertPool
	authEC, authRSA     *x509.Certificate
	sign                *x509.Certificate
	expired, noPolicy   *x509.Certificate
	noOCSP              *x509.Certificate
	foreign             *x509.Certificate // chains to another root
	foreignCA, foreign0 *x509.Certificate
}

var serialCounter = big.NewInt(1000)
var serialMu sync.Mutex

func nextSerial() *big.Int {
	serialMu.Lock()
	defer serialMu.Unlock()
	serialCounter = new(big.Int).Add(serialCounter, big.NewInt(1))
	return new(big.Int).Set(serialCounter)
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caTemplate(cn string) *x509.Certificate {
	now := clock.Now()
	return &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{Country: []string{"BE"}, CommonName: cn},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

type leafOpts struct {
	usage    x509.KeyUsage
	policy   asn1.ObjectIdentifier
	ocspURL  string
	notAfter time.Time
	role     string
}

func leafTemplate(o leafOpts) *x509.Certificate {
	now := clock.Now()
	if o.notAfter.IsZero() {
		o.notAfter = now.Add(365 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject: pkix.Name{
			Country:      []string{"BE"},
			CommonName:   "Alice Specimen (" + o.role + ")",
			SerialNumber: "71715100070",
			ExtraNames: []pkix.AttributeTypeAndValue{
				{Type: oidSurname, Value: "Specimen"},
				{Type: oidGivenName, Value: "Alice Geldigekaart"},
			},
		},
		NotBefore: now.Add(-48 * time.Hour),
		NotAfter:  o.notAfter,
		KeyUsage:  o.usage,
	}
	if o.policy != nil {
		ints := make([]uint64, len(o.policy))
		for i, v := range o.policy {
			ints[i] = uint64(v)
		}
		oid, err := x509.OIDFromInts(ints)
		if err != nil {
			panic(err)
		}
		tmpl.Policies = []x509.OID{oid}
		tmpl.PolicyIdentifiers = []asn1.ObjectIdentifier{o.policy}
	}
	if o.ocspURL != "" {
		tmpl.OCSPServer = []string{o.ocspURL}
	}
	return tmpl
}

// newPKI builds the test PKI; user certificates name ocspURL as responder.
func newPKI(t testing.TB, ocspURL string) *testPKI {
	t.Helper()
	keys(t)
	p := &testPKI{}
	rt := caTemplate("Belgium Root CT6")
	p.root = mustCert(t, rt, rt, rootKey.Public(), rootKey)
	p.ca = mustCert(t, caTemplate("Citizen CT"), p.root, caKey.Public(), rootKey)
	auth := leafOpts{usage: x509.KeyUsageDigitalSignature, policy: PolicyBelgianTestAuth, ocspURL: ocspURL, role: "Authentication"}
	p.authEC = mustCert(t, leafTemplate(auth), p.ca, ecKey.Public(), caKey)
	p.authRSA = mustCert(t, leafTemplate(auth), p.ca, rsaKey.Public(), caKey)
	sign := leafOpts{usage: x509.KeyUsageContentCommitment, policy: PolicyBelgianTestSign, ocspURL: ocspURL, role: "Signature"}
	p.sign = mustCert(t, leafTemplate(sign), p.ca, ecKey.Public(), caKey)
	exp := auth
	exp.notAfter = clock.Now().Add(-time.Hour)
	p.expired = mustCert(t, leafTemplate(exp), p.ca, ecKey.Public(), caKey)
	np := auth
	np.policy = nil
	p.noPolicy = mustCert(t, leafTemplate(np), p.ca, ecKey.Public(), caKey)
	no := auth
	no.ocspURL = ""
	p.noOCSP = mustCert(t, leafTemplate(no), p.ca, ecKey.Public(), caKey)

	ot := caTemplate("Belgium Root CT6") // same name, other key: a look-alike
	p.foreign0 = mustCert(t, ot, ot, otherRoot.Public(), otherRoot)
	p.foreignCA = mustCert(t, caTemplate("Citizen CT"), p.foreign0, otherRoot.Public(), otherRoot)
	p.foreign = mustCert(t, leafTemplate(auth), p.foreignCA, ecKey.Public(), otherRoot)

	p.roots = x509.NewCertPool()
	p.roots.AddCert(p.root)
	p.inters = x509.NewCertPool()
	p.inters.AddCert(p.ca)
	return p
}

// swKey is a software key that knows its certificate, as webeid.Signer
// wants (the agent uses the card's key there).
type swKey struct {
	crypto.Signer
	cert *x509.Certificate
}

func (k swKey) Certificate() *x509.Certificate { return k.cert }

func keyFor(c *x509.Certificate) crypto.Signer {
	if _, ok := c.PublicKey.(*rsa.PublicKey); ok {
		return rsaKey
	}
	return ecKey
}

// agentToken makes a token exactly as the agent does.
func agentToken(t testing.TB, c *x509.Certificate, origin, nonce string, pss bool) []byte {
	t.Helper()
	tok, err := webeid.Create(swKey{keyFor(c), c}, origin, nonce, webeid.Options{PSS: pss, Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
