package eidfile

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eid-agent/eid-agent/internal/testkit"
)

// Every field of the Alice dump, as the reference and the dump's README give
// them (ref §4.2, §4.3, §11.1).
func TestDecodeAlice(t *testing.T) {
	f := loadDump(t, "alice-v11-rsa")
	r, err := Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	wantCard := CardInfo{
		CardNumber:          "000000122157",
		ChipNumber:          "534C494E336600296CFF293B2A122219",
		ValidFrom:           "2009-07-23",
		ValidUntil:          "2014-07-23",
		IssuingMunicipality: "Antwerpen",
		DocumentType:        1,
		DocumentTypeName:    "belgian_citizen",
		ATR:                 "3B9813400AA503010101AD1311",
		PKI:                 "rsa",
	}
	if r.Card != wantCard {
		t.Errorf("card\n got %+v\nwant %+v", r.Card, wantCard)
	}
	wantID := Identity{
		NationalNumber: "71715100070",
		Surname:        "SPECIMEN",
		FirstNames:     "Alice Geldigekaart",
		ThirdInitial:   "A",
		Nationality:    "BELG",
		BirthPlace:     "Hamont-Achel",
		BirthDate:      "1971-01-01",
		Gender:         "female",
		SpecialStatus:  "none",
		PhotoHash:      "28f3ec532102b0ccd93c7bdf58ed83400a899790",
	}
	if r.Identity != wantID {
		t.Errorf("identity\n got %+v\nwant %+v", r.Identity, wantID)
	}
	if want := (Address{"Meirplaats 1 bus 1", "2000", "Antwerpen"}); r.Address == nil || *r.Address != want {
		t.Errorf("address %+v, want %+v", r.Address, want)
	}
	// Applet 1.1: the photo hash is SHA-1 (ref §9.2).
	if sum := sha1.Sum(r.Photo); hex.EncodeToString(sum[:]) != r.Identity.PhotoHash {
		t.Errorf("photo SHA-1 %x does not match tag 11", sum)
	}
	if !bytes.Equal(r.Photo, f.Photo) || len(r.PhotoSHA256) != 64 {
		t.Errorf("photo not carried over (sha256 %q)", r.PhotoSHA256)
	}
	c := r.Certificates
	if c == nil || len(c.Authentication) != 1011 || len(c.Signing) != 1032 || len(c.CA) != 992 || len(c.Root) != 929 || len(c.RRN) != 840 {
		t.Fatalf("certificates not trimmed to their DER length: %v", certLens(c))
	}
	// The check digits of 71715100070 are right; its date (month 71) is the
	// test card's impossible one (ref §4.5).
	in := r.Integrity
	if in.NationalNumber != Valid || !strings.Contains(in.NationalNumberDetail, "month 71") || in.CardNumber != Valid || in.CardNumberDetail != "" {
		t.Errorf("check-digit verdicts: %+v", in)
	}
	if in.Identity != "" || in.Address != "" || in.Photo != "" || in.BasicKey != "" || in.RRNChain != "" {
		t.Errorf("Decode filled cryptographic verdicts: %+v", in)
	}
}

// Every field of the re-keyed 1.7 EC dump.
func TestDecodeSpecimenEC(t *testing.T) {
	f := loadDump(t, "specimen-v17-ec")
	r, err := Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	wantCard := CardInfo{
		CardNumber:          "000001241600",
		ChipNumber:          "534C4790025100002239288F12920363",
		ValidFrom:           "2022-07-05",
		ValidUntil:          "2032-07-05",
		IssuingMunicipality: "Brussel",
		DocumentType:        1,
		DocumentTypeName:    "belgian_citizen",
		PKI:                 "ec",
	}
	if r.Card != wantCard {
		t.Errorf("card\n got %+v\nwant %+v", r.Card, wantCard)
	}
	wantID := Identity{
		NationalNumber: "01050399963",
		Surname:        "Specimen",
		FirstNames:     "Nora Angèle",
		Nationality:    "BELG",
		BirthPlace:     "Leuven",
		BirthDate:      "2001-05-03",
		Gender:         "female",
		SpecialStatus:  "none",
		PhotoHash:      "476a2c4072f5fb07642e256d5edfd79c6a675fc69262d327f9979051517b0801",
	}
	if r.Identity != wantID {
		t.Errorf("identity\n got %+v\nwant %+v", r.Identity, wantID)
	}
	if want := (Address{"Specimenstraat 12", "1000", "Brussel"}); r.Address == nil || *r.Address != want {
		t.Errorf("address %+v, want %+v", r.Address, want)
	}
	// The re-keyed card hashes its photo with SHA-256 (ref §9.2).
	if r.PhotoSHA256 != r.Identity.PhotoHash {
		t.Errorf("photoSha256 %s != tag 11 %s", r.PhotoSHA256, r.Identity.PhotoHash)
	}
	c := r.Certificates
	if c == nil || len(c.RRN) != 647 || c.Authentication != nil || c.Signing != nil || c.CA != nil || c.Root != nil {
		t.Errorf("certificates: %v", certLens(c))
	}
	// Card number remainder 0 written 00 (ref §4.5).
	want := Integrity{NationalNumber: Valid, CardNumber: Valid}
	if r.Integrity != want {
		t.Errorf("integrity %+v, want %+v", r.Integrity, want)
	}
}

func certLens(c *Certificates) map[string]int {
	if c == nil {
		return nil
	}
	return map[string]int{"auth": len(c.Authentication), "sign": len(c.Signing), "ca": len(c.CA), "root": len(c.Root), "rrn": len(c.RRN)}
}

// The JSON of Decode for both dumps is the agent's contract; run with
// -update to rewrite it after an intended change.
func TestDecodeGolden(t *testing.T) {
	for name := range dumpFiles {
		t.Run(name, func(t *testing.T) {
			r, err := Decode(loadDump(t, name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			testkit.Golden(t, filepath.Join("testdata", "golden", name+".json"), got)
		})
	}
}

// cardDataSample is the 1.7 GET CARD DATA answer of ref §5.1.
var cardDataSample = []byte{
	0x53, 0x4C, 0x49, 0x4E, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67,
	0xF3, 0x36, 0x01, 0x25, 0x01, 0x17, 0x00, 0x03, 0x00, 0x21, 0x01, 0x0F,
}

func TestDecodeCardData(t *testing.T) {
	f := loadDump(t, "alice-v11-rsa")
	f.CardData = cardDataSample
	r, err := Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	c := r.Card
	if c.AppletVersion != "1.7" || c.ComponentCode != "F3" || c.OSNumber != "36" || c.OSVersion != "01" ||
		c.SoftmaskNumber != "25" || c.SoftmaskVersion != "01" || c.LifeCycle != "0F" {
		t.Errorf("card data not decoded: %+v", c)
	}
	f.CardData = cardDataSample[:20]
	if _, err := Decode(f); !errors.Is(err, ErrMalformed) {
		t.Errorf("short card data: %v", err)
	}
}

func TestDecodePartial(t *testing.T) {
	id := identityFile(map[byte]string{0x01: "000000122158", 0x06: "71715100071", 0x0F: "01"})
	tests := []struct {
		name  string
		files *Files
		check func(*testing.T, *Reading)
	}{
		{"identity only", &Files{Identity: id}, func(t *testing.T, r *Reading) {
			if r.Address != nil || r.Photo != nil || r.PhotoSHA256 != "" || r.Certificates != nil || r.Card.PKI != "" || r.Card.ATR != "" {
				t.Errorf("absent parts filled: %+v", r)
			}
			in := r.Integrity
			if in.NationalNumber != Invalid || !strings.Contains(in.NationalNumberDetail, "check digits 71") ||
				in.CardNumber != Invalid || !strings.Contains(in.CardNumberDetail, "check digits 58 do not match 57") {
				t.Errorf("verdicts %+v", in)
			}
		}},
		{"address of zeros is no address", &Files{Identity: id, Address: make([]byte, 117)}, func(t *testing.T, r *Reading) {
			if r.Address != nil {
				t.Errorf("address %+v", r.Address)
			}
		}},
		{"absent certificates", &Files{Identity: id, AuthCert: make([]byte, 1300), SignCert: []byte{}}, func(t *testing.T, r *Reading) {
			if r.Certificates != nil {
				t.Errorf("certificates %+v", r.Certificates)
			}
		}},
		{"unreadable RRN certificate leaves PKI empty", &Files{Identity: id, RRNCert: []byte{0x30, 0x03, 1, 2, 3}}, func(t *testing.T, r *Reading) {
			if r.Certificates == nil || len(r.Certificates.RRN) != 5 || r.Card.PKI != "" {
				t.Errorf("certificates %+v, PKI %q", r.Certificates, r.Card.PKI)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decode(tt.files)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	id := identityFile(map[byte]string{0x01: "000000122157", 0x06: "71715100070"})
	tests := []struct {
		name  string
		files *Files
		file  string
	}{
		{"nil files", nil, "identity"},
		{"no identity", &Files{Address: []byte{1, 1, 'a'}}, "identity"},
		{"bad identity", &Files{Identity: []byte{1, 9, 'a'}}, "identity"},
		{"bad address", &Files{Identity: id, Address: []byte{1, 9, 'a'}}, "address"},
		{"bad card data", &Files{Identity: id, CardData: []byte{1}}, "card data"},
		{"truncated certificate", &Files{Identity: id, CACert: []byte{0x30, 0x82, 0x03, 0x00, 1}}, "CA certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decode(tt.files)
			var fe *FormatError
			if r != nil || !errors.Is(err, ErrMalformed) || !errors.As(err, &fe) || fe.File != tt.file {
				t.Errorf("got %v, %v; want a %s FormatError", r, err, tt.file)
			}
		})
	}
}

// Decode copies what it keeps: changing the files afterwards does not change
// the Reading.
func TestDecodeDoesNotShare(t *testing.T) {
	f := loadDump(t, "alice-v11-rsa")
	r, err := Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	photo0, rrn0 := r.Photo[0], r.Certificates.RRN[0]
	f.Photo[0]++
	f.RRNCert[0]++
	if r.Photo[0] != photo0 || r.Certificates.RRN[0] != rrn0 {
		t.Error("Reading shares memory with Files")
	}
}
