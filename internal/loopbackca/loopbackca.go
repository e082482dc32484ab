// Package loopbackca makes the TLS material for wss:// on loopback: a
// per-install certificate authority that can only vouch for 127.0.0.1, ::1
// and localhost, one server certificate it issues for those names, and
// nothing else. The CA's private key exists only in memory while Generate
// runs: it signs the server certificate and is dropped, so nobody (the
// agent included) can ever issue another certificate under a CA the user
// trusted. This is the pattern of Fortify and NexU (shared/docs/anchors.md,
// "Security lessons for localhost bridges", item 11): Safari blocks ws://
// from https:// pages, even to loopback.
//
// On disk (Write, Init): ca.pem (the CA certificate, to be trusted),
// server.pem (the server certificate followed by the CA certificate) and
// server-key.pem (the server key, PKCS#8, mode 0600), in a directory of
// mode 0700, by default $XDG_CONFIG_HOME/eid-agent/tls (DefaultDir).
package loopbackca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/internal/atomicfile"
)

// File names inside the TLS directory.
const (
	CAFile   = "ca.pem"
	CertFile = "server.pem"
	KeyFile  = "server-key.pem"
)

// Validity of the CA and of the server certificate: two years. The CA
// cannot outlive its only certificate (its key is gone), so both share one
// window. Two years stays under the 825 days Apple accepts for any TLS
// server certificate, locally trusted ones included (Apple, "Requirements
// for trusted certificates in iOS 13 and macOS 10.15"), and it is long
// enough that trusting a new CA (eid-agent tls init) is a rare event.
const Validity = 2 * 365 * 24 * time.Hour

// backdate covers a clock that is a little behind the one that made the
// certificates (a VM resumed from suspend).
const backdate = time.Hour

// Errors.
var (
	// ErrNotInitialized: the directory has no TLS material yet (run
	// eid-agent tls init). It matches fs.ErrNotExist too.
	ErrNotInitialized = errors.New("loopback TLS not initialised")
	// ErrExists: Init would overwrite existing material (use Force).
	ErrExists = errors.New("loopback TLS material already exists")
	// ErrInvalid: the files on disk do not form a usable set.
	ErrInvalid = errors.New("invalid loopback TLS material")
	// ErrExpired: the server certificate is outside its validity window.
	ErrExpired = errors.New("loopback TLS certificate expired or not yet valid")
)

// Names the server certificate carries and the CA is constrained to.
var (
	LoopbackIPs   = []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	LoopbackNames = []string{"localhost"}
)

// Options for Generate.
type Options struct {
	Host string    // machine name in the CA's name; default os.Hostname()
	Now  time.Time // default: the current time (internal/clock)
	Rand io.Reader // default crypto/rand

	// caKeyHook, when set (tests only), sees the CA key before it is
	// dropped, so a test can prove it never reaches the disk.
	caKeyHook func(*ecdsa.PrivateKey)
}

// Bundle is the generated material. It never holds the CA's private key.
type Bundle struct {
	CA      *x509.Certificate
	Cert    *x509.Certificate
	CAPEM   []byte // ca.pem
	CertPEM []byte // server.pem: server certificate then CA certificate
	KeyPEM  []byte // server-key.pem: PKCS#8 "PRIVATE KEY"
}

// Generate makes a new CA, issues the loopback server certificate and
// returns both certificates and the server key. The CA key is generated
// here and never leaves this function.
func Generate(opts Options) (*Bundle, error) {
	if opts.Now.IsZero() {
		opts.Now = clock.Now()
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Host == "" {
		opts.Host, _ = os.Hostname()
	}
	notBefore := opts.Now.Add(-backdate).UTC().Truncate(time.Second)
	notAfter := notBefore.Add(Validity)

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), opts.Rand)
	if err != nil {
		return nil, err
	}
	if opts.caKeyHook != nil {
		opts.caKeyHook(caKey)
	}
	caSerial, err := serial(opts.Rand)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: caSerial,
		Subject: pkix.Name{
			CommonName:   caName(opts.Host, opts.Now),
			Organization: []string{"eid-agent"},
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		// Path length 0: the CA signs end-entity certificates only
		// (RFC 5280 §4.2.1.9).
		MaxPathLen:     0,
		MaxPathLenZero: true,
		KeyUsage:       x509.KeyUsageCertSign,
		// An EKU on the CA limits what its certificates are good for in
		// verifiers that nest EKUs (Go, Windows CryptoAPI, Chrome): TLS
		// server only, never code or e-mail signing.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// Name constraints (RFC 5280 §4.2.1.10), critical: even if the key
		// had leaked, the CA could not vouch for any real site.
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         LoopbackNames,
		PermittedIPRanges: []*net.IPNet{
			{IP: net.IPv4(127, 0, 0, 1).To4(), Mask: net.CIDRMask(32, 32)},
			{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
		},
	}
	caDER, err := x509.CreateCertificate(opts.Rand, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), opts.Rand)
	if err != nil {
		return nil, err
	}
	leafSerial, err := serial(opts.Rand)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: leafSerial,
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"eid-agent"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     LoopbackNames,
		IPAddresses:  LoopbackIPs,
	}
	leafDER, err := x509.CreateCertificate(opts.Rand, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	// From here on caKey is unreachable: it was never marshalled, and no
	// value returned refers to it.
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return &Bundle{
		CA:      ca,
		Cert:    leaf,
		CAPEM:   caPEM,
		CertPEM: append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), caPEM...),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// caName is "eid-agent local CA <host> <date>": a user looking at the
// trust store sees which machine and which day it belongs to. The common
// name is at most 64 characters (RFC 5280 ub-common-name), so a long host
// name is cut.
func caName(host string, now time.Time) string {
	host = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, host)
	if host == "" {
		host = "unknown-host"
	}
	const prefix, dateLen = "eid-agent local CA ", len("2006-01-02")
	if max := 64 - len(prefix) - 1 - dateLen; len(host) > max {
		host = strings.ToValidUTF8(host[:max], "")
	}
	return prefix + host + " " + now.UTC().Format("2006-01-02")
}

// serial is a random positive 127-bit serial number (RFC 5280 §4.1.2.2:
// at most 20 octets; CA/B Forum: at least 64 bits of randomness).
func serial(r io.Reader) (*big.Int, error) {
	return rand.Int(r, new(big.Int).Lsh(big.NewInt(1), 127))
}

// DefaultDir is $XDG_CONFIG_HOME/eid-agent/tls (os.UserConfigDir: on macOS
// ~/Library/Application Support, on Windows %AppData%).
func DefaultDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "eid-agent", "tls"), nil
}

// Write stores b in dir (created with mode 0700 if missing): ca.pem and
// server.pem 0644, server-key.pem 0600. Each file is written to a
// temporary name and renamed, so a reader never sees half a key.
func Write(dir string, b *Bundle) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range b.Files() {
		if err := atomicfile.Write(filepath.Join(dir, f.Name), f.Data, f.Mode); err != nil {
			return err
		}
	}
	return nil
}

// File is one file of a Bundle as written to disk.
type File struct {
	Name string
	Data []byte
	Mode os.FileMode
}

// Files lists what Write writes, for callers that keep their own record of
// the files they create (the installer's manifest).
func (b *Bundle) Files() []File {
	return []File{
		{CAFile, b.CAPEM, 0o644},
		{CertFile, b.CertPEM, 0o644},
		{KeyFile, b.KeyPEM, 0o600},
	}
}

// Init generates new material into dir. It refuses (ErrExists) when any
// of the three files is already there, unless force: replacing the CA
// means every trust store that trusted the old one must trust the new one.
func Init(dir string, force bool, opts Options) (*Bundle, error) {
	if !force {
		for _, n := range []string{CAFile, CertFile, KeyFile} {
			if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
				return nil, fmt.Errorf("%w: %s", ErrExists, filepath.Join(dir, n))
			}
		}
	}
	b, err := Generate(opts)
	if err != nil {
		return nil, err
	}
	return b, Write(dir, b)
}
