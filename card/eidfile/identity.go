package eidfile

import (
	"encoding/hex"
	"strings"
)

// ParseIdentity decodes the identity file 4031 (ref §4.2): the document
// fields go to CardInfo, the holder's to Identity.
//
// Dates become YYYY-MM-DD (the birth date possibly YYYY-MM or YYYY,
// ref §4.4); coded fields get the names of ref §6. A value the tables do not
// know, or a date that cannot be read, is kept as written: the file is
// signed by the National Register, and showing an unexpected value beats
// refusing the card. Only a missing card number (tag 01) or national number
// (tag 06) is an error, a *FormatError like those of ParseTLV. Tags above
// 1F, which a later applet may add, are ignored.
func ParseIdentity(b []byte) (CardInfo, Identity, error) {
	fields, err := ParseTLV(b, "identity")
	if err != nil {
		return CardInfo{}, Identity{}, err
	}
	c := CardInfo{DocumentTypeName: "unknown"}
	id := Identity{SpecialStatus: "none"}
	for _, f := range fields {
		v := string(f.Value)
		switch f.Tag {
		case 0x01:
			c.CardNumber = v
		case 0x02:
			c.ChipNumber = strings.ToUpper(hex.EncodeToString(f.Value))
		case 0x03:
			c.ValidFrom = orRaw(v, cardDate)
		case 0x04:
			c.ValidUntil = orRaw(v, cardDate)
		case 0x05:
			c.IssuingMunicipality = v
		case 0x06:
			id.NationalNumber = v
		case 0x07:
			id.Surname = v
		case 0x08:
			id.FirstNames = v
		case 0x09:
			id.ThirdInitial = v
		case 0x0A:
			id.Nationality = v
		case 0x0B:
			id.BirthPlace = v
		case 0x0C:
			id.BirthDate = orRaw(v, birthDate)
		case 0x0D:
			id.Gender = gender(v)
		case 0x0E:
			id.NobleCondition = v
		case 0x0F:
			c.DocumentType, c.DocumentTypeName = documentType(v)
		case 0x10:
			id.SpecialStatus = specialStatus(v)
		case 0x11:
			id.PhotoHash = hex.EncodeToString(f.Value)
		case 0x12:
			id.Duplicate = v
		case 0x13:
			id.SpecialOrganisation = codeName(specialOrganisationNames, v)
		case 0x14:
			// Presence means true; the tag has no value (ref §4.2).
			id.MemberOfFamily = true
		case 0x15:
			id.DateAndCountryOfProtection = v
		case 0x16:
			id.WorkPermit = codeName(workPermitNames, v)
		case 0x17:
			id.EmployerVAT1 = v
		case 0x18:
			id.EmployerVAT2 = v
		case 0x19:
			id.RegionalFileNumber = v
		case 0x1A:
			id.BasicKeyHash = hex.EncodeToString(f.Value)
		case 0x1B:
			id.BrexitMention1 = v
		case 0x1C:
			id.BrexitMention2 = v
		case 0x1D:
			id.CardAMention1 = v
		case 0x1E:
			id.CardAMention2 = v
		case 0x1F:
			id.EUStartDate = orRaw(v, cardDate)
		}
	}
	if c.CardNumber == "" {
		return CardInfo{}, Identity{}, &FormatError{File: "identity", Offset: -1, Reason: "card number (tag 01) missing"}
	}
	if id.NationalNumber == "" {
		return CardInfo{}, Identity{}, &FormatError{File: "identity", Offset: -1, Reason: "national number (tag 06) missing"}
	}
	return c, id, nil
}
