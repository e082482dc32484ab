package virtual

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/eid-agent/eid-agent/internal/lab"
)

func loadDump(t *testing.T, name string) (*Profile, string) {
	t.Helper()
	dir := filepath.Join(lab.SharedTestdata(t), "cards", name)
	p, err := LoadDump(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p, dir
}

// TestDumpsServeExactBytes reads every dump file back through APDUs, in
// eid-mw's 252-byte blocks and OpenSC's 256-byte ones, and compares with
// the file on disk byte for byte.
func TestDumpsServeExactBytes(t *testing.T) {
	for _, tt := range []struct {
		dump  string
		files map[string]string
	}{
		{"alice-v11-rsa", map[string]string{
			"Identity.tlv": PathIdentity, "IdentitySignature.tlv": PathIdentitySig,
			"Address.tlv": PathAddress, "AddressSignature.tlv": PathAddressSig, "Photo.tlv": PathPhoto,
			"AuthentificationCertificate.tlv": PathAuthCert, "SigningCertificate.tlv": PathSignCert,
			"CACertificate.tlv": PathCACert, "RootCertificate.tlv": PathRootCert, "RRNCertificate.tlv": PathRRNCert,
		}},
		{"specimen-v17-ec", map[string]string{
			"identity.tlv": PathIdentity, "identity-signature.der": PathIdentitySig,
			"address.tlv": PathAddress, "address-signature.der": PathAddressSig,
			"photo.jpg": PathPhoto, "rrn-cert.der": PathRRNCert,
		}},
	} {
		t.Run(tt.dump, func(t *testing.T) {
			p, dir := loadDump(t, tt.dump)
			for name, path := range tt.files {
				want, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				for _, block := range []int{252, 0} {
					c := New(p)
					if got := readFile(t, c, path, block); !bytes.Equal(got, want) {
						t.Errorf("%s via %s (block %d): %d bytes, want the file's %d", name, path, block, len(got), len(want))
					}
				}
			}
			checkIntegrity(t, p)
		})
	}
}

func TestLoadDumpAlice(t *testing.T) {
	p, dir := loadDump(t, "alice-v11-rsa")
	atr, _ := os.ReadFile(filepath.Join(dir, "ATR.bin"))
	if p.Generation != Generation11 || p.Applet != Applet11 || !bytes.Equal(p.ATR, atr) || p.Incomplete {
		t.Fatalf("generation %s applet %s ATR %X incomplete %v", p.Generation, p.Applet, p.ATR, p.Incomplete)
	}
	c := New(p)
	cd := xfer(t, c, h("80 E4 00 00 1C"), 0x9000)
	f := fields(t, p.Files[PathIdentity])
	if !bytes.Equal(cd[:16], f[0x02]) || cd[21] != 0x11 || cd[22] != 0x00 {
		t.Fatalf("card data %X; chip %X", cd, f[0x02])
	}
	// Full PKCS#15 with both keys (RSA-1024) and four certificates.
	if cdf := p.Files[PathCDF]; len(cdf) != 163 || cdf[162] == 0 {
		t.Errorf("CDF %X", cdf)
	}
	if prk := p.Files[PathPrKDF]; !bytes.Contains(prk, h("02 02 04 00")) {
		t.Errorf("PrKDF without 1024-bit keys: %X", prk)
	}
	// No private keys in a dump: signing fails like on a card without the
	// key; the PIN works.
	run(t, c, []step{
		{"VERIFY", pinVerify("1234"), "=9000"},
		{"MSE 82", mse(0x02, keyAuth), "=6A88"},
		{"MSE 83", mse(0x02, keyNonRepudiation), "=6A88"},
		{"PSO", pso(make([]byte, 20)), "=6985"},
		{"empty VERIFY burns a try on 1.1", h("00 20 00 01"), "=63C2"},
	})
	if p.PKI.Root == nil || p.PKI.CA == nil || p.PKI.RRN == nil || p.PKI.RootKey != nil {
		t.Errorf("PKI %+v", p.PKI)
	}
}

func TestLoadDumpSpecimenEC(t *testing.T) {
	p, _ := loadDump(t, "specimen-v17-ec")
	if p.Generation != Generation17EC || p.Applet != Applet17 || !bytes.Equal(p.ATR, ATRPre18) {
		t.Fatalf("generation %s applet %s ATR %X", p.Generation, p.Applet, p.ATR)
	}
	if !p.Incomplete || len(p.Notes) == 0 {
		t.Fatalf("incomplete %v notes %q", p.Incomplete, p.Notes)
	}
	for _, path := range []string{PathAuthCert, PathSignCert, PathCACert, PathRootCert} {
		if b := p.Files[path]; len(b) != 1300 || bytes.Count(b, []byte{0}) != 1300 {
			t.Errorf("%s: %d bytes, want 1300 zeros", path, len(b))
		}
	}
	if cdf := p.Files[PathCDF]; len(cdf) != 163 || bytes.Count(cdf, []byte{0}) != 163 {
		t.Errorf("CDF should be all zeros: %X", cdf)
	}
	c := New(p)
	cd := xfer(t, c, h("80 E4 00 00 1C"), 0x9000)
	if cd[21] != 0x17 {
		t.Errorf("card data %X", cd)
	}
	run(t, c, []step{{"empty VERIFY is a status query on 1.7", h("00 20 00 01"), "=63C3"}})
}

func TestLoadDumpErrors(t *testing.T) {
	if _, err := LoadDump(t.TempDir()); !errors.Is(err, ErrUnknownDump) {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := LoadDump(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing folder accepted")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "identity.tlv"), h("01 02 30 30 02 02 00 00"), 0o644)
	if _, err := LoadDump(dir); !errors.Is(err, ErrUnknownDump) {
		t.Errorf("short chip number: %v", err)
	}
}
