package loopbackca

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Material is TLS material read back from a directory and checked.
type Material struct {
	Dir  string
	CA   *x509.Certificate
	Cert *x509.Certificate
	pair tls.Certificate
}

// notInitialized matches both ErrNotInitialized and fs.ErrNotExist.
type notInitialized struct{ path string }

func (e *notInitialized) Error() string {
	return fmt.Sprintf("%v: %s is missing (run: eid-agent tls init)", ErrNotInitialized, e.path)
}
func (e *notInitialized) Is(target error) bool {
	return target == ErrNotInitialized || target == fs.ErrNotExist
}

// Load reads ca.pem, server.pem and server-key.pem from dir and checks
// that they belong together: the key matches the certificate, the
// certificate chains to ca.pem as a TLS server certificate for 127.0.0.1,
// ::1 and localhost at now, and ca.pem is a name-constrained CA with path
// length 0. Errors: ErrNotInitialized (a file is missing), ErrExpired,
// ErrInvalid.
func Load(dir string, now time.Time) (*Material, error) {
	read := func(name string) ([]byte, error) {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &notInitialized{p}
		}
		return b, err
	}
	caPEM, err := read(CAFile)
	if err != nil {
		return nil, err
	}
	certPEM, err := read(CertFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := read(KeyFile)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(caPEM)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: %s holds no certificate", ErrInvalid, CAFile)
	}
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, CAFile, err)
	}
	if !ca.IsCA || !ca.MaxPathLenZero || !ca.PermittedDNSDomainsCritical || len(ca.PermittedIPRanges) == 0 {
		return nil, fmt.Errorf("%w: %s is not a name-constrained CA with path length 0", ErrInvalid, CAFile)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: %s and %s: %v", ErrInvalid, CertFile, KeyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, CertFile, err)
		}
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("%w: valid %s to %s (run: eid-agent tls init --force, then trust the new CA)",
			ErrExpired, leaf.NotBefore.Format(time.DateOnly), leaf.NotAfter.Format(time.DateOnly))
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range append([]string{"localhost"}, "127.0.0.1", "::1") {
		if _, err := leaf.Verify(x509.VerifyOptions{
			DNSName:     name,
			Roots:       roots,
			CurrentTime: now,
			KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}); err != nil {
			return nil, fmt.Errorf("%w: %s does not chain to %s for %s: %v", ErrInvalid, CertFile, CAFile, name, err)
		}
	}
	return &Material{Dir: dir, CA: ca, Cert: leaf, pair: pair}, nil
}

// TLSConfig is a server configuration presenting the loopback certificate
// (and the CA after it, as server.pem holds it). TLS 1.2 is the floor:
// every browser that runs the agent's pages speaks it. HTTP/1.1 only,
// because a websocket upgrade needs it (RFC 6455 §4.1; the bridge does not
// implement RFC 8441 over HTTP/2).
func (m *Material) TLSConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{m.pair},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
}

// Pool is a certificate pool holding only the CA, for clients that trust
// this agent (tests, the Go client).
func (m *Material) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(m.CA)
	return p
}
