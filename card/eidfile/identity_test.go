package eidfile

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// identityFile encodes an identity file from tag → value, in tag order.
func identityFile(values map[byte]string) []byte {
	var fs []Field
	for tag := 0; tag < 0x40; tag++ {
		if v, ok := values[byte(tag)]; ok {
			fs = append(fs, Field{Tag: byte(tag), Value: []byte(v)})
		}
	}
	return EncodeTLV(fs)
}

// A 1.8-style foreigner card carrying every tag of ref §4.2 (values made
// up, shaped as the reference describes them).
func TestParseIdentityAllTags(t *testing.T) {
	b := identityFile(map[byte]string{
		0x00: "\x00\x02",
		0x01: "B012345678",
		0x02: "\x53\x4c\x49\x4e\x33\x66\x00\x29\x6c\xff\x29\x3b\x2a\x12\x22\x19",
		0x03: "05.07.2022",
		0x04: "05.07.2027",
		0x05: "Liège",
		0x06: "98472899765",
		0x07: "Müller-Lüdenscheidt",
		0x08: "Anna Maria",
		0x09: "J",
		0x0A: "Duitse",
		0x0B: "Köln",
		0x0C: "28.JUL.1998",
		0x0D: "W",
		0x0E: "Gräfin",
		0x0F: "33",
		0x10: "4",
		0x11: strings.Repeat("\xAB", 48),
		0x12: "01",
		0x13: "5",
		0x14: "",
		0x15: "13.08.2014-IT",
		0x16: "A",
		0x17: "0123.456.789",
		0x18: "0987.654.321",
		0x19: "RF-123456",
		0x1A: strings.Repeat("\x0C", 48),
		0x1B: "B",
		0x1C: "C",
		0x1D: "D",
		0x1E: "K",
		0x1F: "01.02.2020",
	})
	c, id, err := ParseIdentity(b)
	if err != nil {
		t.Fatal(err)
	}
	wantCard := CardInfo{
		CardNumber:          "B012345678",
		ChipNumber:          "534C494E336600296CFF293B2A122219",
		ValidFrom:           "2022-07-05",
		ValidUntil:          "2027-07-05",
		IssuingMunicipality: "Liège",
		DocumentType:        33,
		DocumentTypeName:    "foreigner_A",
	}
	if c != wantCard {
		t.Errorf("card\n got %+v\nwant %+v", c, wantCard)
	}
	wantID := Identity{
		NationalNumber:             "98472899765",
		Surname:                    "Müller-Lüdenscheidt",
		FirstNames:                 "Anna Maria",
		ThirdInitial:               "J",
		Nationality:                "Duitse",
		BirthPlace:                 "Köln",
		BirthDate:                  "1998-07-28",
		Gender:                     "female",
		NobleCondition:             "Gräfin",
		SpecialStatus:              "yellow_cane",
		Duplicate:                  "01",
		PhotoHash:                  strings.Repeat("ab", 48),
		SpecialOrganisation:        "researcher",
		MemberOfFamily:             true,
		DateAndCountryOfProtection: "13.08.2014-IT",
		WorkPermit:                 "seasonal_worker",
		EmployerVAT1:               "0123.456.789",
		EmployerVAT2:               "0987.654.321",
		RegionalFileNumber:         "RF-123456",
		BasicKeyHash:               strings.Repeat("0c", 48),
		BrexitMention1:             "B",
		BrexitMention2:             "C",
		CardAMention1:              "D",
		CardAMention2:              "K",
		EUStartDate:                "2020-02-01",
	}
	if id != wantID {
		t.Errorf("identity\n got %+v\nwant %+v", id, wantID)
	}
}

// Codes of ref §6 and §4.2, and values outside the tables.
func TestParseIdentityCodes(t *testing.T) {
	base := func() map[byte]string { return map[byte]string{0x01: "000000122157", 0x06: "71715100070"} }
	tests := []struct {
		tag   byte
		value string
		get   func(CardInfo, Identity) any
		want  any
	}{
		{0x0F, "1", idDocType, "1 belgian_citizen"},
		{0x0F, "01", idDocType, "1 belgian_citizen"},
		{0x0F, "6", idDocType, "6 kids_card"},
		{0x0F, "16", idDocType, "16 foreigner_e_plus"},
		{0x0F, "19", idDocType, "19 european_blue_card_h"},
		{0x0F, "61", idDocType, "61 kids_foreigner_eu"},
		{0x0F, "68", idDocType, "68 kids_foreigner_F_plus"},
		{0x0F, "99", idDocType, "99 unknown"},
		{0x0F, "X", idDocType, "0 unknown"},
		{0x0F, "", idDocType, "0 unknown"},
		{0x0D, "M", idGender, "male"},
		{0x0D, "F", idGender, "female"},
		{0x0D, "V", idGender, "female"},
		{0x0D, "W", idGender, "female"},
		{0x0D, "X", idGender, "X"},
		{0x10, "0", idStatus, "none"},
		{0x10, "1", idStatus, "white_cane"},
		{0x10, "2", idStatus, "extended_minority"},
		{0x10, "3", idStatus, "white_cane_extended_minority"},
		{0x10, "4", idStatus, "yellow_cane"},
		{0x10, "5", idStatus, "yellow_cane_extended_minority"},
		{0x10, "", idStatus, "none"},
		{0x10, "9", idStatus, "9"},
		{0x13, "1", idOrg, "shape"},
		{0x13, "2", idOrg, "nato"},
		{0x13, "4", idOrg, "old_european_blue_card"},
		{0x13, "5", idOrg, "researcher"},
		{0x13, "3", idOrg, "3"},
		{0x13, "", idOrg, ""},
		{0x16, "7", idPermit, "unlimited"},
		{0x16, "8", idPermit, "limited"},
		{0x16, "9", idPermit, "none"},
		{0x16, "A", idPermit, "seasonal_worker"},
		{0x16, "B", idPermit, "B"},
		{0x14, "", idFamily, true},
		{0x03, "31.02.2020", idValidFrom, "31.02.2020"}, // not a date: kept as written
		{0x1F, "2020-02-01", idEUStart, "2020-02-01"},
	}
	for _, tt := range tests {
		values := base()
		values[tt.tag] = tt.value
		c, id, err := ParseIdentity(identityFile(values))
		if err != nil {
			t.Fatalf("tag %02X %q: %v", tt.tag, tt.value, err)
		}
		if got := tt.get(c, id); got != tt.want {
			t.Errorf("tag %02X %q: got %v, want %v", tt.tag, tt.value, got, tt.want)
		}
	}

	// Absent optional tags.
	c, id, err := ParseIdentity(identityFile(base()))
	if err != nil {
		t.Fatal(err)
	}
	if id.SpecialStatus != "none" || id.MemberOfFamily || c.DocumentTypeName != "unknown" {
		t.Errorf("defaults: %+v %+v", c, id)
	}
}

func idDocType(c CardInfo, _ Identity) any {
	return fmt.Sprintf("%d %s", c.DocumentType, c.DocumentTypeName)
}
func idGender(_ CardInfo, id Identity) any   { return id.Gender }
func idStatus(_ CardInfo, id Identity) any   { return id.SpecialStatus }
func idOrg(_ CardInfo, id Identity) any      { return id.SpecialOrganisation }
func idPermit(_ CardInfo, id Identity) any   { return id.WorkPermit }
func idFamily(_ CardInfo, id Identity) any   { return id.MemberOfFamily }
func idValidFrom(c CardInfo, _ Identity) any { return c.ValidFrom }
func idEUStart(_ CardInfo, id Identity) any  { return id.EUStartDate }

func TestParseIdentityErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		reason string
	}{
		{"no card number", identityFile(map[byte]string{0x06: "71715100070"}), "card number (tag 01) missing"},
		{"empty card number", identityFile(map[byte]string{0x01: "", 0x06: "71715100070"}), "card number (tag 01) missing"},
		{"no national number", identityFile(map[byte]string{0x01: "000000122157"}), "national number (tag 06) missing"},
		{"empty file", nil, "card number (tag 01) missing"},
		{"truncated", tlv(1, 12, "0000001221"), "tag 01: value of 12 bytes runs past the end of the file (10 left)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseIdentity(tt.in)
			var fe *FormatError
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &fe) || fe.File != "identity" || fe.Reason != tt.reason {
				t.Errorf("got %v, want identity FormatError %q", err, tt.reason)
			}
		})
	}
}

// Birth dates as the cards write them (ref §4.4).
func TestBirthDate(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"01 JAN 1971", "1971-01-01", true},
		{"03 MEI 2001", "2001-05-03", true},
		{"08 MAAR 1980", "1980-03-08", true},
		{"08 MARS 1980", "1980-03-08", true},
		{"08.MÄR.1980", "1980-03-08", true},
		{"08.MAR.1980", "1980-03-08", true},
		{"13.AUG. 1996", "1996-08-13", true},
		{"26 AVR  1975", "1975-04-26", true},
		{"29 FEV 2000", "2000-02-29", true},
		{"01 FEB 1971", "1971-02-01", true},
		{"01 APR 1971", "1971-04-01", true},
		{"01 MAI 1971", "1971-05-01", true},
		{"01 JUIN 1971", "1971-06-01", true},
		{"01 JUN 1971", "1971-06-01", true},
		{"01 JUIL 1971", "1971-07-01", true},
		{"01 JUL 1971", "1971-07-01", true},
		{"01 AOUT 1971", "1971-08-01", true},
		{"01 SEPT 1971", "1971-09-01", true},
		{"01 SEP 1971", "1971-09-01", true},
		{"01 OCT 1971", "1971-10-01", true},
		{"01 OKT 1971", "1971-10-01", true},
		{"01 NOV 1971", "1971-11-01", true},
		{"01 DEC 1971", "1971-12-01", true},
		{"01.DEZ.1971", "1971-12-01", true},
		{"01 jan 1971", "1971-01-01", true},
		{"01.01.1971", "1971-01-01", true},
		{"1971", "1971", true},
		{"01     1971", "1971", true}, // month of three spaces: unknown
		{"00 JAN 1971", "1971-01", true},
		{"   JAN 1971", "1971-01", true},
		{"01 JAN 1971 ", "1971-01-01", true},
		{"", "", false},
		{"197", "", false},
		{"01 JAN 19X1", "", false},
		{"01 XYZ 1971", "", false},
		{"30 FEV 2000", "", false},
		{"29 FEB 1900", "", false},
		{"32 JAN 1971", "", false},
		{"001 JAN 1971", "", false},
		{"01 JAN FEB 1971", "", false},
		{"01 13 1971", "", false},
		{"+971", "", false},
	}
	for _, tt := range tests {
		got, ok := birthDate(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("birthDate(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCardDate(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"23.07.2009", "2009-07-23", true},
		{"29.02.2024", "2024-02-29", true},
		{"29.02.2023", "", false},
		{"2009-07-23", "", false},
		{"23.7.2009", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := cardDate(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("cardDate(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
