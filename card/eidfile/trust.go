package eidfile

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"time"
)

// The embedded trust anchors: every *.pem file in roots/ (see
// roots/README.md for what belongs there and why).
//
//go:embed roots
var embeddedRoots embed.FS

// TrustStore holds the root certificates the RRN certificate may chain to,
// and where each came from (Sources), so that `eid-agent doctor` can say
// what a machine trusts.
type TrustStore struct {
	roots   []*x509.Certificate
	sources []TrustSource
}

// EmbeddedSource is the TrustSource name of the roots compiled into the
// program (roots/*.pem).
const EmbeddedSource = "embedded"

// TrustSource is one place roots were taken from: EmbeddedSource, a trust
// folder or a root file. Roots are those it held, duplicates of roots
// another source gave first included.
type TrustSource struct {
	Name  string
	Roots []*x509.Certificate
}

// Fingerprint is the SHA-256 of a certificate's DER, in upper-case hex:
// the form the trust README and the FPS BOSA publish.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

var (
	defaultOnce  sync.Once
	defaultStore *TrustStore
	defaultErr   error
)

// DefaultTrustStore returns the embedded Belgian roots. The returned store is
// shared: use Clone before adding to it.
func DefaultTrustStore() *TrustStore {
	defaultOnce.Do(func() {
		s := &TrustStore{}
		entries, err := embeddedRoots.ReadDir("roots")
		if err != nil {
			defaultErr = err
			return
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".pem") {
				continue
			}
			b, err := embeddedRoots.ReadFile(path.Join("roots", e.Name()))
			if err == nil {
				err = s.AddPEM(b)
			}
			if err != nil {
				defaultErr = fmt.Errorf("embedded root %s: %w", e.Name(), err)
				return
			}
		}
		s.sources = []TrustSource{{Name: EmbeddedSource, Roots: s.Roots()}}
		defaultStore = s
	})
	if defaultErr != nil {
		// The embedded files are part of the build; a bad one is a bug that
		// tests catch, not a runtime condition.
		panic(defaultErr)
	}
	return defaultStore
}

// Clone returns an independent copy.
func (s *TrustStore) Clone() *TrustStore {
	return &TrustStore{
		roots:   append([]*x509.Certificate(nil), s.roots...),
		sources: append([]TrustSource(nil), s.sources...),
	}
}

// Sources lists where the roots came from, in the order they were added:
// EmbeddedSource first for a store made from DefaultTrustStore, then each
// folder AddDir found and each file AddFile read. Roots added one by one
// (Add, AddPEM) belong to no source.
func (s *TrustStore) Sources() []TrustSource {
	return append([]TrustSource(nil), s.sources...)
}

// Roots returns the trusted certificates.
func (s *TrustStore) Roots() []*x509.Certificate {
	return append([]*x509.Certificate(nil), s.roots...)
}

// Add trusts cert.
func (s *TrustStore) Add(cert *x509.Certificate) {
	for _, r := range s.roots {
		if r.Equal(cert) {
			return
		}
	}
	s.roots = append(s.roots, cert)
}

// AddPEM trusts every certificate of a PEM file (a DER file is accepted too).
func (s *TrustStore) AddPEM(b []byte) error {
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		cert, err := x509.ParseCertificate(b)
		if err != nil {
			return fmt.Errorf("neither PEM nor DER certificate: %w", err)
		}
		s.Add(cert)
		return nil
	}
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return err
		}
		s.Add(cert)
		n++
	}
	if n == 0 {
		return errors.New("no CERTIFICATE block found")
	}
	return nil
}

// AddFile trusts the certificates of a PEM or DER file.
func (s *TrustStore) AddFile(name string) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	one := &TrustStore{}
	if err := one.AddPEM(b); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for _, c := range one.roots {
		s.Add(c)
	}
	s.sources = append(s.sources, TrustSource{Name: name, Roots: one.roots})
	return nil
}

// IssuerOf returns the trusted root that signed cert: same name as cert's
// issuer and a signature that verifies with its key (SHA-1 included, as
// for the RRN certificate: the RSA-era Belgian CA certificates use it).
// Names alone never decide: a lookalike root with a production root's
// name but another key signs nothing this store accepts. Validity dates
// are the caller's business.
func (s *TrustStore) IssuerOf(cert *x509.Certificate) (*x509.Certificate, error) {
	var named *x509.Certificate
	for _, root := range s.roots {
		if !bytes.Equal(cert.RawIssuer, root.RawSubject) {
			continue
		}
		named = root
		if checkSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature, root.PublicKey) == nil {
			return root, nil
		}
	}
	if named != nil {
		return nil, fmt.Errorf("the signature does not verify with trusted root %q", named.Subject.CommonName)
	}
	return nil, fmt.Errorf("issuer %q is not a trusted root", cert.Issuer.String())
}

// verifyRRN decides whether the RRN certificate chains to a trusted root.
// The RRN certificate is issued directly by a root (ref §9.4), so the chain
// has one link. It is checked by hand rather than with x509.Verify because
// the Belgian PKI signed with SHA-1 in the RSA era (the applet 1.1 test
// PKI, Root CA2/CA3 era certificates), which crypto/x509 refuses.
//
// signedAt is when the National Register signed the card's data (the card's
// validity begin); the certificate must have been valid then. Its expiry
// since does not undo those signatures, but it is mentioned.
func (s *TrustStore) verifyRRN(rrn *x509.Certificate, cardRoot *x509.Certificate, signedAt, now time.Time) (string, string) {
	var candidates []string
	for _, root := range s.roots {
		if !bytes.Equal(rrn.RawIssuer, root.RawSubject) {
			continue
		}
		candidates = append(candidates, root.Subject.CommonName)
		if err := checkSignature(rrn.SignatureAlgorithm, rrn.RawTBSCertificate, rrn.Signature, root.PublicKey); err != nil {
			continue
		}
		if !root.IsCA && root.BasicConstraintsValid {
			return Untrusted, fmt.Sprintf("issuer %q is not a CA", root.Subject.CommonName)
		}
		if cardRoot != nil && !publicKeyEqual(cardRoot.PublicKey, root.PublicKey) {
			// ref §9.3 step 7: the viewer also requires the card's own root
			// to be the trusted one.
			return Untrusted, fmt.Sprintf("the card's root certificate %q is not the trusted root that issued the RRN certificate", cardRoot.Subject.CommonName)
		}
		at := signedAt
		if at.IsZero() {
			at = now
		}
		if at.Before(rrn.NotBefore) || at.After(rrn.NotAfter) {
			return Untrusted, fmt.Sprintf("RRN certificate not valid on %s (valid %s to %s)",
				at.Format(time.DateOnly), rrn.NotBefore.Format(time.DateOnly), rrn.NotAfter.Format(time.DateOnly))
		}
		detail := ""
		if now.After(rrn.NotAfter) {
			detail = fmt.Sprintf("chains to %q; the RRN certificate has expired since (%s)", root.Subject.CommonName, rrn.NotAfter.Format(time.DateOnly))
		}
		return Trusted, detail
	}
	if len(candidates) > 0 {
		return Untrusted, fmt.Sprintf("RRN certificate signature does not verify with trusted root %q", candidates[0])
	}
	return Untrusted, fmt.Sprintf("issuer %q is not a trusted root", rrn.Issuer.String())
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// checkSignature verifies a certificate signature, SHA-1 included.
func checkSignature(alg x509.SignatureAlgorithm, signed, sig []byte, pub crypto.PublicKey) error {
	var h crypto.Hash
	switch alg {
	case x509.SHA1WithRSA, x509.ECDSAWithSHA1:
		h = crypto.SHA1
	case x509.SHA256WithRSA, x509.ECDSAWithSHA256, x509.SHA256WithRSAPSS:
		h = crypto.SHA256
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		h = crypto.SHA384
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		h = crypto.SHA512
	default:
		return fmt.Errorf("unsupported signature algorithm %v", alg)
	}
	hh := h.New()
	hh.Write(signed)
	digest := hh.Sum(nil)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch alg {
		case x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
			return rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		case x509.ECDSAWithSHA1, x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512:
			return errors.New("ECDSA signature with an RSA key")
		}
		return rsa.VerifyPKCS1v15(k, h, digest, sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("unsupported public key %T", pub)
}
