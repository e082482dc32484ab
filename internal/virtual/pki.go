package virtual

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"sync"
	"time"
)

// Key generation is the slow part of Generate (an RSA-2048 key takes tens to
// hundreds of milliseconds), and Go ignores the random source of key
// generation (since Go 1.26), so a seed cannot make keys reproducible.
// Instead the package generates each test PKI and each RSA key pair once per
// process and reuses them: every generated card of a PKI family shares its
// root, CAs and RRN key, and RSA cards share their auth/sign key pair.
// Certificates are made per card (cheap), and EC P-384 card keys are fresh
// per card (cheap too). Tests therefore pay the RSA cost once per test binary.

// pkiFamily names one cached test PKI.
type pkiFamily string

const (
	familyRSA1 pkiFamily = "rsa-1.1" // RSA root and CAs, RSA-1024 RRN (SHA-1 era, like the Alice card)
	familyRSA7 pkiFamily = "rsa-1.7" // RSA-2048 root, CAs and RRN
	familyEC   pkiFamily = "ec"      // EC P-384 root, CAs and RRN (ref §9.2)
)

// testPKI is one family's issuing side.
type testPKI struct {
	root, citizenCA, foreignerCA, rrn *x509.Certificate
	rootKey, citizenKey, foreignKey   crypto.Signer
	rrnKey                            crypto.Signer
}

// once caches one value computed at most once.
type once[T any] struct {
	once sync.Once
	v    T
	err  error
}

var (
	cacheMu   sync.Mutex
	pkiCache  = map[pkiFamily]*once[*testPKI]{}
	rsaKeys   = map[int]*once[[2]crypto.Signer]{}
	profCache = map[string]*once[*Profile]{}
)

func cached[K comparable, T any](m map[K]*once[T], k K, f func() (T, error)) (T, error) {
	cacheMu.Lock()
	o, ok := m[k]
	if !ok {
		o = &once[T]{}
		m[k] = o
	}
	cacheMu.Unlock()
	o.once.Do(func() { o.v, o.err = f() })
	return o.v, o.err
}

func getPKI(f pkiFamily) (*testPKI, error) {
	return cached(pkiCache, f, func() (*testPKI, error) { return newTestPKI(f) })
}

// rsaPair returns the shared auth and sign RSA keys of a size.
func rsaPair(bits int) ([2]crypto.Signer, error) {
	return cached(rsaKeys, bits, func() ([2]crypto.Signer, error) {
		var ks [2]crypto.Signer
		for i := range ks {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				return ks, err
			}
			ks[i] = k
		}
		return ks, nil
	})
}

func newKey(ec bool, rsaBits int) (crypto.Signer, error) {
	if ec {
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	}
	return rsa.GenerateKey(rand.Reader, rsaBits)
}

// Certificate policy OIDs seen on Belgian test certificates (ref §9.4).
var (
	oidPolicyAuth = asn1.ObjectIdentifier{2, 16, 56, 12, 1, 1, 2, 2}
	oidPolicySign = asn1.ObjectIdentifier{2, 16, 56, 12, 1, 1, 2, 1}
	oidPolicyRRN  = asn1.ObjectIdentifier{2, 16, 56, 12, 1, 1, 4}

	oidNetscapeCertType = asn1.ObjectIdentifier{2, 16, 840, 1, 113730, 1, 1}
	oidQCStatements     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 3}
	oidQCCompliance     = asn1.ObjectIdentifier{0, 4, 0, 1862, 1, 1}

	oidCountry      = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidCommonName   = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidSurname      = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidGivenName    = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidSerialNumber = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidOrganization = asn1.ObjectIdentifier{2, 5, 4, 10}
)

// rawName encodes a DN with the attributes in the given order; Go's
// pkix.Name would reorder them, and the eID order is C, CN, SN, GN,
// serialNumber (ref §9.4).
func rawName(attrs ...pkix.AttributeTypeAndValue) []byte {
	var rdn pkix.RDNSequence
	for _, a := range attrs {
		rdn = append(rdn, pkix.RelativeDistinguishedNameSET{a})
	}
	b, _ := asn1.Marshal(rdn) // strings and OIDs always marshal
	return b
}

func attr(oid asn1.ObjectIdentifier, v string) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: oid, Value: v}
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	return n.Add(n, big.NewInt(1))
}

var (
	pkiNotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	pkiNotAfter  = time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)
)

func issue(tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// newTestPKI creates a root, a Citizen CA, a Foreigner CA and an RRN
// certificate issued directly by the root (ref §9.4). The RSA roots are
// RSA-2048 (the real ones are RSA-4096) to keep generation fast; all
// certificates are signed with SHA-256 (RSA) or SHA-384 (EC), never SHA-1,
// which Go no longer verifies.
func newTestPKI(f pkiFamily) (*testPKI, error) {
	ec := f == familyEC
	label := map[pkiFamily]string{familyRSA1: "RSA 1.1", familyRSA7: "RSA", familyEC: "EC"}[f]
	caTmpl := func(cn, sn string) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber:          serial(),
			RawSubject:            rawName(attr(oidCountry, "BE"), attr(oidCommonName, cn), attr(oidSerialNumber, sn)),
			NotBefore:             pkiNotBefore,
			NotAfter:              pkiNotAfter,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
	}
	p := &testPKI{}
	var err error
	if p.rootKey, err = newKey(ec, 2048); err != nil {
		return nil, err
	}
	rootT := caTmpl("eid-agent Test Root CA ("+label+")", "202601")
	if p.root, err = issue(rootT, rootT, p.rootKey.Public(), p.rootKey); err != nil {
		return nil, err
	}
	for _, ca := range []struct {
		cn, sn string
		cert   **x509.Certificate
		key    *crypto.Signer
	}{
		{"eid-agent Test Citizen CA (" + label + ")", "202602", &p.citizenCA, &p.citizenKey},
		{"eid-agent Test Foreigner CA (" + label + ")", "202603", &p.foreignerCA, &p.foreignKey},
	} {
		if *ca.key, err = newKey(ec, 2048); err != nil {
			return nil, err
		}
		t := caTmpl(ca.cn, ca.sn)
		t.MaxPathLenZero = true
		if *ca.cert, err = issue(t, p.root, (*ca.key).Public(), p.rootKey); err != nil {
			return nil, err
		}
	}
	rrnBits := 2048
	if f == familyRSA1 {
		rrnBits = 1024 // 128-byte identity signatures, as on the Alice 1.1 card
	}
	if p.rrnKey, err = newKey(ec, rrnBits); err != nil {
		return nil, err
	}
	rrnT := &x509.Certificate{
		SerialNumber:          serial(),
		RawSubject:            rawName(attr(oidCountry, "BE"), attr(oidOrganization, "eid-agent test"), attr(oidCommonName, "eid-agent Test RRN ("+label+")")),
		NotBefore:             pkiNotBefore,
		NotAfter:              pkiNotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
		PolicyIdentifiers:     []asn1.ObjectIdentifier{oidPolicyRRN},
	}
	if p.rrn, err = issue(rrnT, p.root, p.rrnKey.Public(), p.rootKey); err != nil {
		return nil, err
	}
	return p, nil
}

// holderCert issues an authentication or signature certificate with the
// eID subject and extensions (ref §9.4): KeyUsage digitalSignature (auth)
// or nonRepudiation (signature), both critical; Netscape cert type SSL
// client + S/MIME (auth) or S/MIME (signature); qcStatements QcCompliance on
// the signature certificate; the policy OIDs of the test cards.
func holderCert(sign bool, h holder, ca *x509.Certificate, caKey crypto.Signer, pub crypto.PublicKey) (*x509.Certificate, error) {
	role, ku := "Authentication", x509.KeyUsageDigitalSignature
	policy, nsType := oidPolicyAuth, asn1.BitString{Bytes: []byte{0xA0}, BitLength: 3} // sslClient, smime
	if sign {
		role, ku = "Signature", x509.KeyUsageContentCommitment
		policy, nsType = oidPolicySign, asn1.BitString{Bytes: []byte{0x20}, BitLength: 3} // smime
	}
	ns, _ := asn1.Marshal(nsType)
	t := &x509.Certificate{
		SerialNumber: serial(),
		RawSubject: rawName(
			attr(oidCountry, "BE"),
			attr(oidCommonName, h.firstName+" "+h.surname+" ("+role+")"),
			attr(oidSurname, h.surname),
			attr(oidGivenName, h.givenNames),
			attr(oidSerialNumber, h.nationalNumber),
		),
		NotBefore:             h.validFrom,
		NotAfter:              h.validUntil,
		KeyUsage:              ku,
		BasicConstraintsValid: true,
		PolicyIdentifiers:     []asn1.ObjectIdentifier{policy},
		ExtraExtensions:       []pkix.Extension{{Id: oidNetscapeCertType, Value: ns}},
	}
	if sign {
		qc, _ := asn1.Marshal([]any{[]any{oidQCCompliance}})
		t.ExtraExtensions = append(t.ExtraExtensions, pkix.Extension{Id: oidQCStatements, Value: qc})
	}
	return issue(t, ca, pub, caKey)
}
