package verify

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Belgian eID certificate policies. The test PKI values come from Fedict's
// test CA configuration and test cards; the production arcs per root
// generation are not confirmed, so isBelgianAuthPolicy and
// isBelgianSignPolicy also recognise any policy under the Belgian arc
// 2.16.56 that ends in .2.2 (authentication) or .2.1 (signature), which is
// the pattern every known value follows.
var (
	PolicyBelgianAuth     = asn1.ObjectIdentifier{2, 16, 56, 12, 1, 1, 2, 2}
	PolicyBelgianSign     = asn1.ObjectIdentifier{2, 16, 56, 12, 1, 1, 2, 1}
	PolicyBelgianTestAuth = asn1.ObjectIdentifier{2, 16, 56, 10, 1, 1, 2, 2}
	PolicyBelgianTestSign = asn1.ObjectIdentifier{2, 16, 56, 10, 1, 1, 2, 1}
)

func belgianArc(p asn1.ObjectIdentifier, last int) bool {
	return len(p) >= 6 && p[0] == 2 && p[1] == 16 && p[2] == 56 &&
		p[len(p)-2] == 2 && p[len(p)-1] == last
}

func isBelgianAuthPolicy(p asn1.ObjectIdentifier) bool { return belgianArc(p, 2) }
func isBelgianSignPolicy(p asn1.ObjectIdentifier) bool { return belgianArc(p, 1) }

// certPolicies uses PolicyIdentifiers, which Go fills for every OID whose
// arcs fit an int (all Belgian ones do).
func certPolicies(c *x509.Certificate) []asn1.ObjectIdentifier {
	return c.PolicyIdentifiers
}

// checkValidity: the certificate must be valid at the time of use.
func checkValidity(c *x509.Certificate, now time.Time) error {
	if now.Before(c.NotBefore) {
		return fmt.Errorf("%w: not valid before %s", ErrCertExpired, c.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(c.NotAfter) {
		return fmt.Errorf("%w: expired %s", ErrCertExpired, c.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkPurpose makes sure the key is the authentication key, not the
// qualified signing key: a signature card key proves intent to sign, and
// must never be usable to log in (nor the other way round). It reports
// whether a recognised authentication policy was present.
func checkPurpose(c *x509.Certificate, extraAuth []asn1.ObjectIdentifier, requirePolicy bool) (policyOK bool, err error) {
	if c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return false, fmt.Errorf("%w: key usage lacks digitalSignature", ErrNotAuthCert)
	}
	if c.KeyUsage&x509.KeyUsageContentCommitment != 0 {
		return false, fmt.Errorf("%w: key usage has nonRepudiation (a signing certificate)", ErrNotAuthCert)
	}
	if len(c.ExtKeyUsage) > 0 && !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) && !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return false, fmt.Errorf("%w: extended key usage without clientAuth", ErrNotAuthCert)
	}
	for _, p := range certPolicies(c) {
		if isBelgianSignPolicy(p) {
			return false, fmt.Errorf("%w: signing policy %s", ErrNotAuthCert, p)
		}
		if isBelgianAuthPolicy(p) || slices.ContainsFunc(extraAuth, p.Equal) {
			policyOK = true
		}
	}
	if requirePolicy && !policyOK {
		return false, fmt.Errorf("%w: no authentication policy", ErrNotAuthCert)
	}
	return policyOK, nil
}

// Person is who the certificate names.
type Person struct {
	// SSIN is the national register number (11 digits) from the subject's
	// serialNumber attribute.
	SSIN       string
	GivenNames string
	Surname    string
	CommonName string
	Country    string
}

var (
	oidSurname   = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidGivenName = asn1.ObjectIdentifier{2, 5, 4, 42}
)

func personOf(c *x509.Certificate) Person {
	p := Person{SSIN: c.Subject.SerialNumber, CommonName: c.Subject.CommonName}
	if len(c.Subject.Country) > 0 {
		p.Country = c.Subject.Country[0]
	}
	for _, a := range c.Subject.Names {
		v, ok := a.Value.(string)
		if !ok {
			continue
		}
		switch {
		case a.Type.Equal(oidSurname):
			p.Surname = v
		case a.Type.Equal(oidGivenName):
			p.GivenNames = strings.TrimSpace(v)
		}
	}
	return p
}
