package verify

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/virtual"
)

// vcardFiles gives a virtual card's files as a read returns them. The
// virtual card is an independent implementation of the card (it does not
// import the parsers), so its files check the verifier from outside.
func vcardFiles(t testing.TB, preset string) (*eidfile.Files, *virtual.Profile) {
	t.Helper()
	p, err := virtual.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	file := func(path string) []byte { return bytes.Clone(p.Files[path]) }
	return &eidfile.Files{
		CardData:          bytes.Clone(p.CardData),
		Identity:          file(virtual.PathIdentity),
		IdentitySignature: file(virtual.PathIdentitySig),
		Address:           file(virtual.PathAddress),
		AddressSignature:  file(virtual.PathAddressSig),
		Photo:             file(virtual.PathPhoto),
		BasicKey:          file(virtual.PathBasicKey),
		RRNCert:           file(virtual.PathRRNCert),
		RootCert:          file(virtual.PathRootCert),
	}, p
}

// vcardTrust trusts the virtual card's test root (and nothing embedded).
func vcardTrust(p *virtual.Profile) *eidfile.TrustStore {
	ts := &eidfile.TrustStore{}
	ts.Add(p.PKI.Root)
	return ts
}

// lookAlikeRRN issues a certificate for the real RRN key under a self-made
// root with the same name as the real one: every signature still verifies,
// only the chain tells the forgery.
func lookAlikeRRN(t testing.TB, p *virtual.Profile) (rrn, root []byte) {
	t.Helper()
	keys(t)
	other := otherRoot // a P-384 key that is not the card root's
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(78), Subject: p.PKI.Root.Subject,
		NotBefore: p.PKI.Root.NotBefore, NotAfter: p.PKI.Root.NotAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, other.Public(), other)
	if err != nil {
		t.Fatal(err)
	}
	fakeRoot, err := x509.ParseCertificate(rootDER)
	if err != nil {
		t.Fatal(err)
	}
	rt := &x509.Certificate{
		SerialNumber: big.NewInt(79), Subject: p.PKI.RRN.Subject,
		NotBefore: p.PKI.RRN.NotBefore, NotAfter: p.PKI.RRN.NotAfter,
		KeyUsage: p.PKI.RRN.KeyUsage,
	}
	rrnDER, err := x509.CreateCertificate(rand.Reader, rt, fakeRoot, p.PKI.RRN.PublicKey, other)
	if err != nil {
		t.Fatal(err)
	}
	return rrnDER, rootDER
}

func TestVerifyBundleGood(t *testing.T) {
	for _, preset := range []string{"citizen-1.1", "citizen-1.7", "citizen-1.7-ec", "citizen-1.8", "kids-1.8", "foreigner-1.8"} {
		t.Run(preset, func(t *testing.T) {
			f, p := vcardFiles(t, preset)
			js, err := json.Marshal(eidfile.NewBundle(f))
			if err != nil {
				t.Fatal(err)
			}
			v := &BundleVerifier{Trust: vcardTrust(p), RequireAddress: true, RequirePhoto: true}
			res, err := v.VerifyBundle(js)
			if err != nil {
				t.Fatalf("%v (%s)", err, ErrorCode(err))
			}
			// The verified identity is the card's, as the card's own
			// parser reads it.
			_, id, err := eidfile.ParseIdentity(f.Identity)
			if err != nil {
				t.Fatal(err)
			}
			if res.Reading.Identity != id || res.Reading.Identity.NationalNumber == "" {
				t.Fatalf("identity %+v, want %+v", res.Reading.Identity, id)
			}
			if res.Reading.Address == nil || res.Reading.Address.Municipality == "" {
				t.Fatalf("address %+v", res.Reading.Address)
			}
			want := map[string]string{"rrnChain": "trusted", "identity": "valid", "address": "valid", "photo": "valid", "nationalNumber": "valid", "cardNumber": "valid"}
			if f.BasicKey != nil {
				want["basicKey"] = "valid"
			}
			got := map[string]string{}
			for _, c := range res.Checks {
				got[c.Name] = c.Verdict
			}
			if len(got) != len(want) {
				t.Fatalf("checks %v, want %v", got, want)
			}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s: %q, want %q", k, got[k], w)
				}
			}
		})
	}
}

// Identity only (what a read of the identity alone sends): address and
// photo are reported missing, which is no failure unless required.
func TestVerifyBundleIdentityOnly(t *testing.T) {
	f, p := vcardFiles(t, "citizen-1.8")
	f.Address, f.AddressSignature, f.Photo, f.RootCert = nil, nil, nil, nil
	res, err := (&BundleVerifier{Trust: vcardTrust(p)}).Verify(eidfile.NewBundle(f))
	if err != nil {
		t.Fatal(err)
	}
	if res.Reading.Address != nil || res.Reading.Photo != nil {
		t.Fatal("address or photo out of nothing")
	}
	if _, err := (&BundleVerifier{Trust: vcardTrust(p), RequireAddress: true}).Verify(eidfile.NewBundle(f)); !errors.Is(err, ErrFileMissing) {
		t.Fatalf("address required: %v", err)
	}
	if _, err := (&BundleVerifier{Trust: vcardTrust(p), RequirePhoto: true}).Verify(eidfile.NewBundle(f)); !errors.Is(err, ErrFileMissing) {
		t.Fatalf("photo required: %v", err)
	}
}

// flip changes one byte of the value of a TLV tag, inside the file.
func flipTag(t testing.TB, file []byte, tag byte) {
	t.Helper()
	fields, err := eidfile.ParseTLV(file, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range fields {
		if fl.Tag == tag && len(fl.Value) > 0 {
			fl.Value[0] ^= 0x01 // shares file's memory
			return
		}
	}
	t.Fatalf("no tag %02X", tag)
}

func TestVerifyBundleFailures(t *testing.T) {
	all := []error{ErrBundleFormat, ErrFileMissing, ErrFileMalformed, ErrIdentityTampered, ErrAddressTampered, ErrPhotoMismatch, ErrBasicKeyMismatch, ErrRRNUntrusted}
	for _, tc := range []struct {
		name   string
		preset string // default citizen-1.8
		edit   func(t *testing.T, f *eidfile.Files, p *virtual.Profile, v *BundleVerifier)
		want   error
		code   string
		result bool    // a result comes back with the error
		also   []error // other failures the change causes, besides want
	}{
		{name: "tampered identity", want: ErrIdentityTampered, code: "IDENTITY_TAMPERED", result: true,
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) {
				flipTag(t, f.Identity, 0x07)
			}},
		{name: "tampered identity RSA", preset: "citizen-1.7", want: ErrIdentityTampered, code: "IDENTITY_TAMPERED", result: true,
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) {
				flipTag(t, f.Identity, 0x06)
			}},
		// The address signature covers the identity signature file too
		// (ref §9.1), so both break.
		{name: "tampered identity signature", want: ErrIdentityTampered, code: "IDENTITY_TAMPERED", result: true, also: []error{ErrAddressTampered},
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) {
				f.IdentitySignature[10] ^= 1
			}},
		{name: "tampered address", want: ErrAddressTampered, code: "ADDRESS_TAMPERED", result: true,
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) {
				flipTag(t, f.Address, 0x01)
			}},
		{name: "tampered address RSA", preset: "citizen-1.7", want: ErrAddressTampered, code: "ADDRESS_TAMPERED", result: true,
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) {
				flipTag(t, f.Address, 0x03)
			}},
		{name: "address of another card", want: ErrAddressTampered, code: "ADDRESS_TAMPERED", result: true,
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) {
				other, _ := vcardFiles(t, "kids-1.8")
				f.Address, f.AddressSignature = other.Address, other.AddressSignature
			}},
		{name: "photo swapped", want: ErrPhotoMismatch, code: "PHOTO_MISMATCH", result: true,
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) {
				f.Photo[len(f.Photo)/2] ^= 1
			}},
		{name: "photo swapped RSA", preset: "citizen-1.7", want: ErrPhotoMismatch, code: "PHOTO_MISMATCH", result: true,
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) {
				f.Photo = append(f.Photo, 0)
			}},
		{name: "basic key swapped", want: ErrBasicKeyMismatch, code: "BASIC_KEY_MISMATCH", result: true,
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) {
				other, _ := vcardFiles(t, "kids-1.8")
				f.BasicKey = other.BasicKey
			}},
		{name: "RRN chain untrusted (embedded roots only)", want: ErrRRNUntrusted, code: "RRN_UNTRUSTED", result: true,
			edit: func(t *testing.T, _ *eidfile.Files, _ *virtual.Profile, v *BundleVerifier) { v.Trust = nil }},
		{name: "RRN chain untrusted RSA", preset: "citizen-1.7", want: ErrRRNUntrusted, code: "RRN_UNTRUSTED", result: true,
			edit: func(t *testing.T, _ *eidfile.Files, _ *virtual.Profile, v *BundleVerifier) {
				v.Trust = &eidfile.TrustStore{}
			}},
		{name: "RRN certificate under a look-alike root", want: ErrRRNUntrusted, code: "RRN_UNTRUSTED", result: true,
			edit: func(t *testing.T, f *eidfile.Files, p *virtual.Profile, _ *BundleVerifier) {
				f.RRNCert, f.RootCert = lookAlikeRRN(t, p)
			}},
		{name: "card root is not the trusted one", want: ErrRRNUntrusted, code: "RRN_UNTRUSTED", result: true,
			edit: func(t *testing.T, f *eidfile.Files, p *virtual.Profile, _ *BundleVerifier) {
				_, f.RootCert = lookAlikeRRN(t, p)
			}},
		{name: "RRN certificate of another PKI", want: ErrRRNUntrusted, code: "RRN_UNTRUSTED", result: true, also: []error{ErrIdentityTampered, ErrAddressTampered},
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) {
				other, _ := vcardFiles(t, "citizen-1.7")
				f.RRNCert = other.RRNCert
			}},
		{name: "no identity", want: ErrFileMissing, code: "FILE_MISSING",
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) { f.Identity = nil }},
		{name: "no identity signature", want: ErrFileMissing, code: "FILE_MISSING",
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) { f.IdentitySignature = nil }},
		{name: "no RRN certificate", want: ErrFileMissing, code: "FILE_MISSING",
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) { f.RRNCert = nil }},
		{name: "RRN certificate all padding", want: ErrFileMissing, code: "FILE_MISSING",
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) {
				f.RRNCert = make([]byte, 32)
			}},
		{name: "address without signature", want: ErrFileMissing, code: "FILE_MISSING",
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) { f.AddressSignature = nil }},
		{name: "address signature without address", want: ErrFileMissing, code: "FILE_MISSING",
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) { f.Address = nil }},
		{name: "1.8 without basic key", want: ErrFileMissing, code: "FILE_MISSING", result: true,
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) { f.BasicKey = nil }},
		{name: "malformed identity", want: ErrFileMalformed, code: "FILE_MALFORMED",
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) {
				f.Identity = []byte{0x01, 0x20, 'x'}
			}},
		{name: "malformed address", want: ErrFileMalformed, code: "FILE_MALFORMED",
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) {
				f.Address = []byte{0x02, 0x01, 'x', 0x01, 0x01, 'y'}
			}},
		{name: "malformed RRN certificate", want: ErrFileMalformed, code: "FILE_MALFORMED",
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) {
				f.RRNCert = f.RRNCert[:40]
			}},
		{name: "RRN certificate not X.509", want: ErrFileMalformed, code: "FILE_MALFORMED",
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) {
				f.RRNCert = []byte{0x30, 0x03, 0x02, 0x01, 0x01}
			}},
		{name: "malformed root certificate", want: ErrFileMalformed, code: "FILE_MALFORMED",
			edit: func(t *testing.T, f *eidfile.Files, _ *virtual.Profile, _ *BundleVerifier) {
				f.RootCert = []byte{0x31, 0x00}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			preset := tc.preset
			if preset == "" {
				preset = "citizen-1.8"
			}
			f, p := vcardFiles(t, preset)
			v := &BundleVerifier{Trust: vcardTrust(p)}
			tc.edit(t, f, p, v)
			js, err := json.Marshal(eidfile.NewBundle(f))
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.VerifyBundle(js)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if got := ErrorCode(err); got != tc.code {
				t.Errorf("code %s, want %s (all: %v)", got, tc.code, ErrorCodes(err))
			}
			// Each failure is its own: no other sentinel matches than
			// those the change necessarily breaks.
			for _, other := range all {
				if other != tc.want && errors.Is(err, other) != slices.Contains(tc.also, other) {
					t.Errorf("matches %v: %v", other, errors.Is(err, other))
				}
			}
			if (res != nil) != tc.result {
				t.Errorf("result %v, want one: %v", res != nil, tc.result)
			}
			if tc.want == ErrFileMalformed && strings.Contains(tc.name, "identity") {
				var fe *eidfile.FormatError
				if !errors.As(err, &fe) || !errors.Is(err, eidfile.ErrMalformed) {
					t.Errorf("%v does not carry the parser's FormatError", err)
				}
			}
			var be *BundleError
			if tc.result && (!errors.As(err, &be) || len(be.Failures) == 0) {
				t.Errorf("%T is not a BundleError with failures", err)
			}
		})
	}
}

func TestParseBundle(t *testing.T) {
	for _, tc := range []struct {
		name, js string
	}{
		{"not JSON", "<bundle/>"},
		{"wrong format", `{"format":"eid-bundle:2","identity":"AA=="}`},
		{"no format", `{"identity":"AA=="}`},
		{"not base64", `{"format":"eid-bundle:1","identity":"!!"}`},
		{"trailing data", `{"format":"eid-bundle:1"} {}`},
		{"array", `[]`},
		{"too large", `{"format":"eid-bundle:1","photo":"` + strings.Repeat("A", MaxBundleSize) + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBundle([]byte(tc.js))
			if !errors.Is(err, ErrBundleFormat) {
				t.Fatalf("%v, want ErrBundleFormat", err)
			}
			if _, err := (&BundleVerifier{}).VerifyBundle([]byte(tc.js)); ErrorCode(err) != "BUNDLE_FORMAT" {
				t.Fatalf("code %s", ErrorCode(err))
			}
		})
	}
	b, err := ParseBundle([]byte(`{"format":"eid-bundle:1","identity":"AQI=","future":"ignored"}`))
	if err != nil || !bytes.Equal(b.Identity, []byte{1, 2}) {
		t.Fatalf("%v %+v", err, b)
	}
	if _, err := (&BundleVerifier{}).Verify(nil); !errors.Is(err, ErrFileMissing) {
		t.Fatalf("nil bundle: %v", err)
	}
}

// The RRN certificate must have been valid when the National Register
// signed (the card's validity begin); judging at a time after its expiry
// keeps the chain trusted.
func TestVerifyBundleClock(t *testing.T) {
	f, p := vcardFiles(t, "citizen-1.8")
	v := &BundleVerifier{Trust: vcardTrust(p), Now: func() time.Time { return p.PKI.RRN.NotAfter.Add(24 * time.Hour) }}
	res, err := v.Verify(eidfile.NewBundle(f))
	if err != nil {
		t.Fatal(err)
	}
	if res.Checks[0].Name != "rrnChain" || !strings.Contains(res.Checks[0].Detail, "expired since") {
		t.Fatalf("chain check %+v", res.Checks[0])
	}
}
