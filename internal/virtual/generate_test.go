package virtual

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"image/jpeg"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"
)

// fields parses a TLV file into tag → value (lengths < 255 here).
func fields(t testing.TB, b []byte) map[byte][]byte {
	t.Helper()
	m := map[byte][]byte{}
	last := -1
	for _, f := range parseSimpleTLV(b) {
		if int(f.tag) <= last {
			t.Fatalf("tag %02X after %02X: tags must ascend (ref §4.1)", f.tag, last)
		}
		last = int(f.tag)
		m[f.tag] = f.raw[2:]
	}
	return m
}

// verifyRRN checks a National Register signature the way ref §9.2
// recommends: EC → ECDSA-SHA-384 over the DER prefix of the file; RSA →
// PKCS#1 v1.5 with SHA-256, else SHA-1.
func verifyRRN(rrn *x509.Certificate, data, sigFile []byte) error {
	switch pub := rrn.PublicKey.(type) {
	case *ecdsa.PublicKey:
		sig, ok := trimDER(sigFile)
		if !ok {
			return errors.New("no DER signature in the file")
		}
		d := sha512.Sum384(data)
		if !ecdsa.VerifyASN1(pub, d[:], sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case *rsa.PublicKey:
		d256 := sha256.Sum256(data)
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, d256[:], sigFile) == nil {
			return nil
		}
		d1 := sha1.Sum(data)
		return rsa.VerifyPKCS1v15(pub, crypto.SHA1, d1[:], sigFile)
	}
	return fmt.Errorf("RRN key %T", rrn.PublicKey)
}

// checkIntegrity runs the reader-side recipe of ref §9.3 on a profile's
// files and the cross-file consistency of ref §12 item 12.
func checkIntegrity(t *testing.T, p *Profile) {
	t.Helper()
	id := p.Files[PathIdentity]
	f := fields(t, id)
	rrn := certOf(t, p, PathRRNCert)
	if err := verifyRRN(rrn, id, p.Files[PathIdentitySig]); err != nil {
		t.Errorf("%s: identity signature: %v", p.Name, err)
	}
	addrData := append(bytes.TrimRight(p.Files[PathAddress], "\x00"), p.Files[PathIdentitySig]...)
	if err := verifyRRN(rrn, addrData, p.Files[PathAddressSig]); err != nil {
		t.Errorf("%s: address signature: %v", p.Name, err)
	}
	photo := p.Files[PathPhoto]
	var sum []byte
	switch len(f[0x11]) {
	case 20:
		s := sha1.Sum(photo)
		sum = s[:]
	case 32:
		s := sha256.Sum256(photo)
		sum = s[:]
	case 48:
		s := sha512.Sum384(photo)
		sum = s[:]
	}
	if !bytes.Equal(sum, f[0x11]) {
		t.Errorf("%s: photo hash %X", p.Name, f[0x11])
	}
	chip := f[0x02]
	if !bytes.Equal(chip, p.CardData[:16]) {
		t.Errorf("%s: tag 02 %X != GET CARD DATA serial %X", p.Name, chip, p.CardData[:16])
	}
	ti := p.Files[PathTokenInfo]
	if !bytes.Equal(ti[7:23], chip) {
		t.Errorf("%s: TokenInfo serial %X != tag 02 %X", p.Name, ti[7:23], chip)
	}
	if p.PKI != nil && p.PKI.Root != nil {
		// The RRN certificate is issued by the root directly (ref §9.4).
		// CheckSignature, unlike Verify, still accepts the SHA-1 of the
		// Alice dump.
		if err := p.PKI.Root.CheckSignature(rrn.SignatureAlgorithm, rrn.RawTBSCertificate, rrn.Signature); err != nil {
			t.Errorf("%s: RRN certificate not issued by the root: %v", p.Name, err)
		}
	}
}

func TestPresetsIntegrity(t *testing.T) {
	for _, name := range PresetNames() {
		t.Run(name, func(t *testing.T) {
			p, err := Preset(name)
			if err != nil {
				t.Fatal(err)
			}
			checkIntegrity(t, p)
			checkLayout(t, p)
			checkCertificates(t, p)
		})
	}
}

// checkLayout checks the sizes and paddings of ref §3.1 / §12 item 7.
func checkLayout(t *testing.T, p *Profile) {
	t.Helper()
	is18 := p.Applet == Applet18
	addrSize, pad, absent := 121, 50, 1300
	if is18 {
		addrSize, pad, absent = 117, 1100, 2500
	}
	if n := len(p.Files[PathAddress]); n != addrSize {
		t.Errorf("address file %d bytes, want %d", n, addrSize)
	}
	for _, path := range []string{PathAuthCert, PathSignCert, PathCACert, PathRootCert, PathRRNCert} {
		b := p.Files[path]
		der, ok := trimDER(b)
		if !ok {
			if len(b) != absent || bytes.Count(b, []byte{0}) != len(b) {
				t.Errorf("%s: absent certificate file of %d bytes, want %d zeros", path, len(b), absent)
			}
			continue
		}
		wantPad := pad
		if !is18 && (path == PathRootCert || path == PathRRNCert) {
			wantPad = 0 // as in the Alice dump
		}
		if len(b) != len(der)+wantPad || bytes.Count(b[len(der):], []byte{0}) != wantPad {
			t.Errorf("%s: %d bytes for a %d-byte certificate, want %d zeros after it", path, len(b), len(der), wantPad)
		}
	}
	switch p.Generation {
	case Generation11:
		checkSize(t, p, PathIdentitySig, 128)
	case Generation17:
		checkSize(t, p, PathIdentitySig, 256)
	default: // EC: DER signature zero-padded to 256 bytes
		checkSize(t, p, PathIdentitySig, 256)
		checkSize(t, p, PathAddressSig, 256)
		der, _ := trimDER(p.Files[PathIdentitySig])
		if len(der) < 100 || bytes.Count(p.Files[PathIdentitySig][len(der):], []byte{0}) != 256-len(der) {
			t.Errorf("EC signature file not DER + zeros")
		}
	}
	f := fields(t, p.Files[PathIdentity])
	if is18 {
		_, hasVersion := f[0x00]
		if !hasVersion || p.Files[PathIdentity][0] != 0x00 || p.Files[PathAddress][0] != 0x00 {
			t.Errorf("1.8 files should start with tag 00")
		}
		h := sha512.Sum384(p.Files[PathBasicKey])
		if !bytes.Equal(f[0x1A], h[:]) {
			t.Errorf("tag 1A is not SHA-384(4040)")
		}
	} else if _, ok := p.Files[PathBasicKey]; ok || f[0x1A] != nil {
		t.Errorf("basic key on a pre-1.8 card")
	}
	nn := string(f[0x06])
	if !validNationalNumber(nn) {
		t.Errorf("national number %s: bad check digits", nn)
	}
	cn := string(f[0x01])
	body, _ := strconv.ParseInt(cn[:10], 10, 64)
	if check, _ := strconv.Atoi(cn[10:]); len(cn) != 12 || int(body%97) != check {
		t.Errorf("card number %s: bad check digits", cn)
	}
	if _, err := jpeg.Decode(bytes.NewReader(p.Files[PathPhoto])); err != nil {
		t.Errorf("photo: %v", err)
	}
}

func checkSize(t *testing.T, p *Profile, path string, n int) {
	t.Helper()
	if got := len(p.Files[path]); got != n {
		t.Errorf("%s: %d bytes, want %d", path, got, n)
	}
}

func checkCertificates(t *testing.T, p *Profile) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(p.PKI.Root)
	inter := x509.NewCertPool()
	inter.AddCert(certOf(t, p, PathCACert))
	f := fields(t, p.Files[PathIdentity])
	first := strings.Fields(string(f[0x08]))[0]
	for _, c := range []struct {
		path, role string
		key        crypto.Signer
		ku         x509.KeyUsage
	}{
		{PathAuthCert, "Authentication", p.AuthKey, x509.KeyUsageDigitalSignature},
		{PathSignCert, "Signature", p.SignKey, x509.KeyUsageContentCommitment},
	} {
		cert, err := p.Certificate(c.path)
		if err != nil {
			if c.key != nil {
				t.Errorf("%s: key without certificate", c.path)
			}
			continue
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: clock.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s: chain: %v", c.path, err)
		}
		wantCN := fmt.Sprintf("%s %s (%s)", first, f[0x07], c.role)
		if cert.Subject.CommonName != wantCN || cert.Subject.SerialNumber != string(f[0x06]) || cert.Subject.Country[0] != "BE" {
			t.Errorf("%s: subject %s", c.path, cert.Subject)
		}
		var rdn []string
		var seq pkix.RDNSequence
		if _, err := asn1.Unmarshal(cert.RawSubject, &seq); err == nil {
			for _, set := range seq {
				rdn = append(rdn, set[0].Type.String())
			}
		}
		if got := strings.Join(rdn, " "); got != "2.5.4.6 2.5.4.3 2.5.4.4 2.5.4.42 2.5.4.5" {
			t.Errorf("%s: subject order %s, want C CN SN GN serialNumber (ref §9.4)", c.path, got)
		}
		if cert.KeyUsage != c.ku {
			t.Errorf("%s: key usage %v", c.path, cert.KeyUsage)
		}
		if c.key == nil || !publicKeysEqual(c.key.Public(), cert.PublicKey) {
			t.Errorf("%s: certificate does not match the card key", c.path)
		}
		if !cert.NotAfter.Equal(cardValidityEnd(t, f)) {
			t.Errorf("%s: not after %v, card valid until %s", c.path, cert.NotAfter, f[0x04])
		}
	}
}

func cardValidityEnd(t *testing.T, f map[byte][]byte) time.Time {
	d, err := time.Parse("02.01.2006", string(f[0x04]))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	k, ok := a.(eq)
	return ok && k.Equal(b)
}

func TestGenerateOptions(t *testing.T) {
	t.Run("birth dates", func(t *testing.T) {
		for _, tt := range []struct {
			lang string
			date time.Time
			want string
		}{
			{"fr", date(1971, time.January, 1), "01 JAN 1971"},
			{"nl", date(1980, time.March, 8), "08 MAAR 1980"},
			{"de", date(1996, time.August, 13), "13.AUG.1996"},
			{"de", date(1996, time.March, 13), "13.MÄR.1996"},
			{"fr", date(1975, time.July, 26), "26 JUIL 1975"},
			{"de", date(2001, time.December, 3), "03.DEZ.2001"},
		} {
			if got := birthDate(tt.date, tt.lang); got != tt.want || len(got) > 12 {
				t.Errorf("%s %v: %q, want %q", tt.lang, tt.date, got, tt.want)
			}
		}
	})
	t.Run("national numbers", func(t *testing.T) {
		// Vectors of ref §4.5.
		for _, nn := range []string{"67063029659", "71715100070", "01050399963"} {
			if !validNationalNumber(nn) {
				t.Errorf("%s rejected", nn)
			}
		}
		nn, _ := NationalNumber(date(2001, time.May, 3), 999)
		if nn != "01050399963" {
			t.Errorf("NationalNumber = %s", nn)
		}
		if _, err := NationalNumber(date(2001, time.May, 3), 0); err == nil {
			t.Error("sequence 0 accepted")
		}
	})
	t.Run("card number", func(t *testing.T) {
		if got := cardNumber(5920001550); got != "592000155079" {
			t.Errorf("cardNumber = %s, want the ref's 592000155079", got)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, o := range []GenerateOptions{
			{Generation: "1.9"},
			{DocumentType: 99},
			{Language: "en"},
			{NationalNumber: "85061512300"},
			{PIN: "12"},
			{FirstNames: "  "},
			{CardNumber: "12345"},
			{Street: strings.Repeat("x", 200)},
			{Generation: Generation18, Street: strings.Repeat("x", 100)}, // 117-byte file
		} {
			_, err := Generate(o)
			var oe *OptionError
			if !errors.As(err, &oe) {
				t.Errorf("%+v: error %v, want an *OptionError", o, err)
			}
		}
		if _, err := Preset("nope"); !errors.Is(err, ErrUnknownPreset) {
			t.Errorf("Preset: %v", err)
		}
	})
	t.Run("defaults and cache", func(t *testing.T) {
		a, err := Generate(GenerateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Generate(GenerateOptions{})
		if a != b || a.Name != "citizen-1.7" || a.Applet != Applet17 {
			t.Errorf("default profile %q / cache %v", a.Name, a == b)
		}
	})
	t.Run("1.8 without tag 00", func(t *testing.T) {
		p, err := Generate(GenerateOptions{Generation: Generation18, OmitStructureVersion: true})
		if err != nil {
			t.Fatal(err)
		}
		if p.Files[PathIdentity][0] != 0x01 || p.Files[PathAddress][0] != 0x01 {
			t.Error("tag 00 still there")
		}
		checkIntegrity(t, p)
	})
	t.Run("kids without certificates", func(t *testing.T) {
		p, err := Generate(GenerateOptions{Generation: Generation18, DocumentType: 6, NoAuthCert: true, NoSignCert: true})
		if err != nil {
			t.Fatal(err)
		}
		checkIntegrity(t, p)
		checkLayout(t, p)
		full := efCDF(true, true, true, true)
		cdf := p.Files[PathCDF]
		if len(cdf) != len(full) || bytes.Contains(cdf, []byte("Authentication")) || !bytes.Contains(cdf, []byte("Root")) {
			t.Errorf("CDF %X", cdf)
		}
		if prk := p.Files[PathPrKDF]; bytes.Count(prk, []byte{0}) != len(prk) {
			t.Errorf("PrKDF should be empty: %X", prk)
		}
		f := fields(t, p.Files[PathIdentity])
		if string(f[0x0F]) != "06" || !strings.HasPrefix(string(f[0x06]), "17") {
			t.Errorf("doc type %q, national number %q", f[0x0F], f[0x06])
		}
		run(t, New(p), []step{{"no auth key", mse(0x02, keyAuth), "=6A88"}})
	})
	t.Run("foreigner tags", func(t *testing.T) {
		p, err := Preset("foreigner-1.8")
		if err != nil {
			t.Fatal(err)
		}
		f := fields(t, p.Files[PathIdentity])
		for tag := byte(0x13); tag <= 0x1F; tag++ {
			if _, ok := f[tag]; !ok {
				t.Errorf("tag %02X missing", tag)
			}
		}
		if len(f[0x14]) != 0 || string(f[0x0F]) != "31" {
			t.Errorf("tag 14 %X, doc type %q", f[0x14], f[0x0F])
		}
		if ca := certOf(t, p, PathCACert); !strings.Contains(ca.Subject.CommonName, "Foreigner CA") {
			t.Errorf("CA %s", ca.Subject)
		}
		if len(p.Files[PathIdentity]) <= 256 {
			t.Errorf("identity of %d bytes; expected more than one READ BINARY", len(p.Files[PathIdentity]))
		}
	})
	t.Run("language letters", func(t *testing.T) {
		for lang, want := range map[string]string{"fr": "F", "nl": "V", "de": "W"} {
			p, err := Generate(GenerateOptions{Generation: Generation18, Female: true, Language: lang, FirstNames: "Eva"})
			if err != nil {
				t.Fatal(err)
			}
			f := fields(t, p.Files[PathIdentity])
			if string(f[0x0D]) != want {
				t.Errorf("%s: gender %q", lang, f[0x0D])
			}
			if nn := string(f[0x06]); (nn[8]-'0')%2 != 0 {
				t.Errorf("%s: national number %s has an odd sequence for a woman", lang, nn)
			}
		}
	})
}

// TestPKCS15Encodings compares the PKCS#15 files with the structure of ref
// §3.2 (EF(DIR), ODF, TokenInfo and AODF byte for byte as printed there;
// PrKDF and CDF as the card generator lays them out: 119 and 163 bytes on a
// 1.7 card).
func TestPKCS15Encodings(t *testing.T) {
	serial := h("534C494E 0123456789ABCDEF 01234567")
	for _, tt := range []struct {
		name string
		got  []byte
		want string
	}{
		{"EF(DIR)", efDIR(), "61 23 4F 0C A0 00 00 01 77 50 4B 43 53 2D 31 35 50 06 42 45 4C 50 49 43 51 04 3F 00 DF 00 73 05 06 03 60 38 02"},
		{"ODF", efODF(), "A0 0A 30 08 04 06 3F 00 DF 00 50 35 A4 0A 30 08 04 06 3F 00 DF 00 50 37 A8 0A 30 08 04 06 3F 00 DF 00 50 34"},
		{"TokenInfo", efTokenInfo(serial, [4]byte{3, 2, 0, 0}), "30 27 02 01 00 04 10 534C494E0123456789ABCDEF01234567 80 06 42 45 4C 50 49 43 03 02 04 30 9E 04 03 02 00 00"},
		{"AODF", efAODF(), "30 33 30 0F 0C 09 42 61 73 69 63 20 50 49 4E 03 02 06 C0 30 03 04 01 01 A1 1B 30 19 03 02 02 0C 0A 01 00 02 01 04 02 01 08 80 01 01 04 01 FF 30 04 04 02 3F 00"},
		{"PrKDF 1.7", efPrKDF(false, 2048, true, true), "" +
			"30 3A" + " 30 17 0C 0E" + hexOf([]byte("Authentication")) + "03 02 06 C0 04 01 01" +
			" 30 0F 04 01 02 03 02 05 20 03 02 03 B8 02 02 00 82" +
			" A1 0E 30 0C 30 06 04 04 3F 00 DF 00 02 02 08 00" +
			"30 39" + " 30 15 0C 09" + hexOf([]byte("Signature")) + "03 02 06 C0 04 01 01 02 01 01" +
			" 30 10 04 01 03 03 03 06 00 40 03 02 03 B8 02 02 00 83" +
			" A1 0E 30 0C 30 06 04 04 3F 00 DF 00 02 02 08 00"},
		{"CDF 1.7", efCDF(true, true, true, true), "" +
			"30 2C 30 17 0C 0E" + hexOf([]byte("Authentication")) + "03 02 06 C0 04 01 01 30 03 04 01 02 A1 0C 30 0A 30 08 04 06 3F 00 DF 00 50 38" +
			"30 27 30 12 0C 09" + hexOf([]byte("Signature")) + "03 02 06 C0 04 01 01 30 03 04 01 03 A1 0C 30 0A 30 08 04 06 3F 00 DF 00 50 39" +
			"30 23 30 0B 0C 02" + hexOf([]byte("CA")) + "03 02 06 C0 04 01 01 30 06 04 01 04 01 01 FF A1 0C 30 0A 30 08 04 06 3F 00 DF 00 50 3A" +
			"30 25 30 0D 0C 04" + hexOf([]byte("Root")) + "03 02 06 C0 04 01 01 30 06 04 01 06 01 01 FF A1 0C 30 0A 30 08 04 06 3F 00 DF 00 50 3B"},
	} {
		if !bytes.Equal(tt.got, h(tt.want)) {
			t.Errorf("%s:\n got %X\nwant %X", tt.name, tt.got, h(tt.want))
		}
	}
	// 1.8: EC entries tagged [0], key size 384.
	ec := efPrKDF(true, 384, true, true)
	if ec[0] != 0xA0 || !bytes.Contains(ec, h("02 02 01 80")) || len(ec) != 119 {
		t.Errorf("1.8 PrKDF %X", ec)
	}
	if got := efCDF(true, false, true, true); len(got) != 163 || bytes.Contains(got, []byte("Signature")) || got[162] != 0 {
		t.Errorf("CDF without signature certificate %X", got)
	}
}
