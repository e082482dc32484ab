package loopbackca_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/loopbackca"
)

var now = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

func TestGenerateCA(t *testing.T) {
	b, err := loopbackca.Generate(loopbackca.Options{Host: "pc-042", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	ca := b.CA
	if got, want := ca.Subject.CommonName, "eid-agent local CA pc-042 2026-03-14"; got != want {
		t.Errorf("CA name %q, want %q", got, want)
	}
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.MaxPathLen != 0 || !ca.MaxPathLenZero {
		t.Errorf("CA basic constraints: IsCA %v valid %v pathlen %d zero %v", ca.IsCA, ca.BasicConstraintsValid, ca.MaxPathLen, ca.MaxPathLenZero)
	}
	if pub, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("CA key %T, want ECDSA P-256", ca.PublicKey)
	}
	if ca.KeyUsage != x509.KeyUsageCertSign {
		t.Errorf("CA key usage %v", ca.KeyUsage)
	}
	if !ca.PermittedDNSDomainsCritical || strings.Join(ca.PermittedDNSDomains, ",") != "localhost" {
		t.Errorf("CA DNS constraints %v critical %v", ca.PermittedDNSDomains, ca.PermittedDNSDomainsCritical)
	}
	var ranges []string
	for _, r := range ca.PermittedIPRanges {
		ranges = append(ranges, r.String())
	}
	if got := strings.Join(ranges, ","); got != "127.0.0.1/32,::1/128" {
		t.Errorf("CA IP constraints %s", got)
	}
	leaf := b.Cert
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	if got := strings.Join(ips, ",") + "|" + strings.Join(leaf.DNSNames, ","); got != "127.0.0.1,::1|localhost" {
		t.Errorf("server SANs %s", got)
	}
	if leaf.IsCA || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("server certificate: IsCA %v EKU %v", leaf.IsCA, leaf.ExtKeyUsage)
	}
	// Apple's ceiling for any TLS server certificate: 825 days.
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d > 825*24*time.Hour || d < 700*24*time.Hour {
		t.Errorf("validity %v", d)
	}
	if leaf.NotBefore.After(now) || !ca.NotAfter.Equal(leaf.NotAfter) {
		t.Errorf("validity window CA %v–%v server %v–%v", ca.NotBefore, ca.NotAfter, leaf.NotBefore, leaf.NotAfter)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{"127.0.0.1", "::1", "localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: now}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: roots, CurrentTime: now}); err == nil {
		t.Error("server certificate verified for example.com")
	}
}

// TestNameConstraints: a certificate for a real site signed with the CA's
// key (as if it had leaked) does not verify, because of the constraints.
func TestNameConstraints(t *testing.T) {
	var caKey *ecdsa.PrivateKey
	b, err := loopbackca.Generate(loopbackca.WithCAKeyHook(loopbackca.Options{Host: "h", Now: now}, func(k *ecdsa.PrivateKey) { caKey = k }))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(b.CA)
	for _, tc := range []struct {
		name string
		dns  []string
		ips  []net.IP
	}{
		{"bank.example", []string{"bank.example"}, nil},
		{"localhost.evil.example", []string{"localhost.evil.example"}, nil},
		{"10.0.0.1", nil, []net.IP{net.ParseIP("10.0.0.1")}},
		{"127.0.0.2", nil, []net.IP{net.ParseIP("127.0.0.2")}},
	} {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(7),
			Subject:      pkix.Name{CommonName: tc.name},
			NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			DNSNames:    tc.dns, IPAddresses: tc.ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, b.CA, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		forged, _ := x509.ParseCertificate(der)
		_, err = forged.Verify(x509.VerifyOptions{DNSName: tc.name, Roots: roots, CurrentTime: now})
		var cie x509.CertificateInvalidError
		if !errors.As(err, &cie) || cie.Reason != x509.CANotAuthorizedForThisName {
			t.Errorf("%s: verify error %v, want CANotAuthorizedForThisName", tc.name, err)
		}
	}
}

// TestNoCAKeyOnDisk: after Init, the directory holds exactly the three
// files, and neither the CA's private key (in any encoding we can think of:
// raw scalar, SEC 1, PKCS#8, their PEM) nor any key for the CA's public key
// is in them.
func TestNoCAKeyOnDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	var caKey *ecdsa.PrivateKey
	b, err := loopbackca.Init(dir, false, loopbackca.WithCAKeyHook(loopbackca.Options{Now: now}, func(k *ecdsa.PrivateKey) { caKey = k }))
	if err != nil {
		t.Fatal(err)
	}
	if caKey == nil || !caKey.PublicKey.Equal(b.CA.PublicKey) {
		t.Fatal("hook did not see the CA key")
	}
	scalar, err := caKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	sec1, _ := x509.MarshalECPrivateKey(caKey)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(caKey)
	secrets := map[string][]byte{
		"scalar": scalar, "SEC 1": sec1, "PKCS#8": pkcs8,
		"SEC 1 PEM":  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
		"PKCS#8 PEM": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
	}
	var names []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, d.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for what, s := range secrets {
			if bytes.Contains(data, s) {
				t.Errorf("%s contains the CA key (%s)", d.Name(), what)
			}
		}
		for rest := data; ; {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			for what, s := range secrets {
				if bytes.Contains(blk.Bytes, s) {
					t.Errorf("%s: PEM block %s contains the CA key (%s)", d.Name(), blk.Type, what)
				}
			}
			if strings.Contains(blk.Type, "PRIVATE KEY") {
				k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
				if err != nil {
					t.Errorf("%s: unparsable private key: %v", d.Name(), err)
					continue
				}
				if k.(*ecdsa.PrivateKey).PublicKey.Equal(b.CA.PublicKey) {
					t.Errorf("%s holds the CA's private key", d.Name())
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names, ","); got != "ca.pem,server-key.pem,server.pem" {
		t.Errorf("files %s", got)
	}
	for name, want := range map[string]fs.FileMode{".": fs.ModeDir | 0o700, "server-key.pem": 0o600, "ca.pem": 0o644, "server.pem": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s mode %v, want %v", name, fi.Mode(), want)
		}
	}
}

func TestInitAndLoad(t *testing.T) {
	dir := t.TempDir()
	b, err := loopbackca.Init(dir, false, loopbackca.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	m, err := loopbackca.Load(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if !m.CA.Equal(b.CA) || !m.Cert.Equal(b.Cert) {
		t.Error("Load returned other certificates")
	}
	if _, err := loopbackca.Init(dir, false, loopbackca.Options{Now: now}); !errors.Is(err, loopbackca.ErrExists) {
		t.Errorf("second Init: %v, want ErrExists", err)
	}
	b2, err := loopbackca.Init(dir, true, loopbackca.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if b2.CA.Equal(b.CA) {
		t.Error("forced Init kept the old CA")
	}
	if _, err := loopbackca.Load(dir, now); err != nil {
		t.Errorf("Load after forced Init: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	other, err := loopbackca.Generate(loopbackca.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(dir string)
		at     time.Time
		want   error
	}{
		{"missing key", func(dir string) { os.Remove(filepath.Join(dir, loopbackca.KeyFile)) }, now, loopbackca.ErrNotInitialized},
		{"missing ca", func(dir string) { os.Remove(filepath.Join(dir, loopbackca.CAFile)) }, now, fs.ErrNotExist},
		{"expired", func(string) {}, now.Add(loopbackca.Validity + time.Hour), loopbackca.ErrExpired},
		{"not yet valid", func(string) {}, now.Add(-2 * time.Hour), loopbackca.ErrExpired},
		{"other key", func(dir string) { os.WriteFile(filepath.Join(dir, loopbackca.KeyFile), other.KeyPEM, 0o600) }, now, loopbackca.ErrInvalid},
		{"other CA", func(dir string) { os.WriteFile(filepath.Join(dir, loopbackca.CAFile), other.CAPEM, 0o644) }, now, loopbackca.ErrInvalid},
		{"CA is the server certificate", func(dir string) {
			os.WriteFile(filepath.Join(dir, loopbackca.CAFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Cert.Raw}), 0o644)
		}, now, loopbackca.ErrInvalid},
		{"garbage CA", func(dir string) { os.WriteFile(filepath.Join(dir, loopbackca.CAFile), []byte("hello"), 0o644) }, now, loopbackca.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := loopbackca.Init(dir, false, loopbackca.Options{Now: now}); err != nil {
				t.Fatal(err)
			}
			tc.mutate(dir)
			if _, err := loopbackca.Load(dir, tc.at); !errors.Is(err, tc.want) {
				t.Errorf("Load: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCAName(t *testing.T) {
	for _, tc := range []struct{ host, want string }{
		{"pc", "eid-agent local CA pc 2026-03-14"},
		{"", "eid-agent local CA unknown-host 2026-03-14"},
		{"a\x00b\nc", "eid-agent local CA abc 2026-03-14"},
		{strings.Repeat("x", 80), "eid-agent local CA " + strings.Repeat("x", 34) + " 2026-03-14"},
	} {
		got := loopbackca.CAName(tc.host, now)
		if got != tc.want || len(got) > 64 {
			t.Errorf("CAName(%q) = %q (%d), want %q", tc.host, got, len(got), tc.want)
		}
	}
}

// FuzzLoad: whatever ca.pem holds, Load answers with nil or one of its
// errors, never a panic.
func FuzzLoad(f *testing.F) {
	b, err := loopbackca.Generate(loopbackca.Options{Now: now})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b.CAPEM)
	f.Add(b.CertPEM)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	dir := f.TempDir()
	if err := loopbackca.Write(dir, b); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ca []byte) {
		if err := os.WriteFile(filepath.Join(dir, loopbackca.CAFile), ca, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := loopbackca.Load(dir, now)
		if err != nil && !errors.Is(err, loopbackca.ErrInvalid) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if err == nil && !bytes.Contains(ca, []byte("CERTIFICATE")) {
			t.Fatal("accepted a ca.pem without a certificate")
		}
	})
}
