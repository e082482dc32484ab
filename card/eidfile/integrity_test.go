package eidfile

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// trustDumpRoot trusts the dump's own root (the Alice test PKI ships it).
func trustDumpRoot(t *testing.T, f *Files) *TrustStore {
	t.Helper()
	ts := &TrustStore{}
	der, err := CertificateDER(f.RootCert)
	if err != nil || der == nil {
		t.Fatalf("dump root: %v", err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ts.Add(root)
	return ts
}

func TestVerifyDumps(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

	alice := loadDump(t, "alice-v11-rsa")
	in := Verify(alice, trustDumpRoot(t, alice), now)
	want := Integrity{Identity: Valid, Address: Valid, Photo: Valid, RRNChain: Trusted}
	if in.Identity != want.Identity || in.Address != want.Address || in.Photo != want.Photo || in.RRNChain != want.RRNChain {
		t.Errorf("alice: %+v", in)
	}
	// Judged in 2060, after the RRN certificate (2009-2059) expired: the
	// signatures made in 2009 still stand, and the expiry is mentioned.
	in = Verify(alice, trustDumpRoot(t, alice), time.Date(2060, 1, 1, 0, 0, 0, 0, time.UTC))
	if in.RRNChain != Trusted || !strings.Contains(in.RRNChainDetail, "expired") {
		t.Errorf("alice in 2060: %s (%q)", in.RRNChain, in.RRNChainDetail)
	}

	// Without the test root the same card is untrusted, and says why.
	in = Verify(alice, &TrustStore{}, now)
	if in.RRNChain != Untrusted || !strings.Contains(in.RRNChainDetail, "not a trusted root") {
		t.Errorf("alice without root: %s (%s)", in.RRNChain, in.RRNChainDetail)
	}

	// The EC specimen carries no root: signatures verify, the chain cannot.
	spec := loadDump(t, "specimen-v17-ec")
	in = Verify(spec, DefaultTrustStore(), now)
	if in.Identity != Valid || in.Address != Valid || in.Photo != Valid || in.RRNChain != Untrusted {
		t.Errorf("specimen: %+v", in)
	}
	if in.BasicKey != "" {
		t.Errorf("specimen has no basic key, got verdict %q", in.BasicKey)
	}
}

// TestVerifyTampered flips one byte in each signed file: the verdict of that
// file, and only of what depends on it, must turn invalid.
func TestVerifyTampered(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, dump := range []string{"alice-v11-rsa", "specimen-v17-ec"} {
		tests := []struct {
			name   string
			tamper func(f *Files)
			check  func(in Integrity) bool
		}{
			{"identity", func(f *Files) { f.Identity[len(f.Identity)/2] ^= 1 },
				func(in Integrity) bool { return in.Identity == Invalid && in.Address == Valid }},
			{"identity signature", func(f *Files) { f.IdentitySignature[10] ^= 1 },
				// the address signature covers the identity signature file
				func(in Integrity) bool { return in.Identity == Invalid && in.Address == Invalid }},
			{"address", func(f *Files) { f.Address[3] ^= 1 },
				func(in Integrity) bool { return in.Identity == Valid && in.Address == Invalid }},
			{"address padding", func(f *Files) { f.Address[len(f.Address)-1] = 'x' },
				func(in Integrity) bool { return in.Address == Invalid }},
			{"address signature", func(f *Files) { f.AddressSignature[10] ^= 1 },
				func(in Integrity) bool { return in.Identity == Valid && in.Address == Invalid }},
			{"photo", func(f *Files) { f.Photo[len(f.Photo)/2] ^= 1 },
				func(in Integrity) bool { return in.Photo == Invalid && in.Identity == Valid }},
			{"photo missing", func(f *Files) { f.Photo = nil },
				func(in Integrity) bool { return in.Photo == Missing }},
			{"address missing", func(f *Files) { f.Address = nil },
				func(in Integrity) bool { return in.Address == Missing && in.Identity == Valid }},
			{"no RRN certificate", func(f *Files) { f.RRNCert = make([]byte, 100) },
				func(in Integrity) bool { return in.Identity == Invalid && in.RRNChain == Untrusted }},
		}
		for _, tt := range tests {
			t.Run(dump+"/"+tt.name, func(t *testing.T) {
				f := loadDump(t, dump)
				tt.tamper(f)
				in := Verify(f, &TrustStore{}, now)
				if !tt.check(in) {
					t.Fatalf("%+v", in)
				}
			})
		}
	}
}

func TestTrustStoreRejectsForgedRoot(t *testing.T) {
	alice := loadDump(t, "alice-v11-rsa")
	// A root with the right name but another key must not make the chain
	// trusted: the issuer's signature is what counts.
	auth, err := x509.ParseCertificate(mustDER(t, alice.CACert))
	if err != nil {
		t.Fatal(err)
	}
	forged := *auth
	rrn, _ := x509.ParseCertificate(mustDER(t, alice.RRNCert))
	forged.RawSubject = rrn.RawIssuer
	ts := &TrustStore{}
	ts.Add(&forged)
	in := Verify(alice, ts, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	if in.RRNChain != Untrusted || !strings.Contains(in.RRNChainDetail, "does not verify") {
		t.Fatalf("forged root: %s (%s)", in.RRNChain, in.RRNChainDetail)
	}
}

func TestDefaultTrustStoreParses(t *testing.T) {
	// Every embedded file must parse (DefaultTrustStore panics otherwise).
	for _, r := range DefaultTrustStore().Roots() {
		if !r.IsCA {
			t.Errorf("embedded root %q is not a CA", r.Subject.CommonName)
		}
	}
}

func mustDER(t *testing.T, b []byte) []byte {
	t.Helper()
	der, err := CertificateDER(b)
	if err != nil || der == nil {
		t.Fatalf("certificate: %v", err)
	}
	return der
}

func TestTrustStoreAddDir(t *testing.T) {
	alice := loadDump(t, "alice-v11-rsa")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "testroot.der"), mustDER(t, alice.RootCert), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.pem"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := &TrustStore{}
	err := ts.AddDir(dir)
	if err == nil || !strings.Contains(err.Error(), "broken.pem") {
		t.Errorf("the broken file is not reported: %v", err)
	}
	if len(ts.Roots()) != 1 {
		t.Fatalf("%d roots, want the one good file", len(ts.Roots()))
	}
	if in := Verify(alice, ts, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); in.RRNChain != Trusted {
		t.Errorf("root from a folder not used: %s", in.RRNChainDetail)
	}
	if err := ts.AddDir(filepath.Join(dir, "absent")); err != nil {
		t.Errorf("a missing folder is an error: %v", err)
	}
}
