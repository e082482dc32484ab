package eidfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/eid-agent/eid-agent/ssin"
)

// Decode parses the files of a card into a Reading: card and holder data,
// address, photo, DER-trimmed certificates, the key family of the National
// Register (PKI), and the check-digit verdicts of the national number and
// the card number. The cryptographic verdicts of Integrity are left empty
// for Verify to fill.
//
// The identity file is required. A file that is present but malformed is an
// error matching ErrMalformed; a file that is absent (nil) leaves its part
// of the Reading empty. The Reading does not share memory with f.
func Decode(f *Files) (*Reading, error) {
	if f == nil || f.Identity == nil {
		return nil, &FormatError{File: "identity", Offset: -1, Reason: "file not read"}
	}
	c, id, err := ParseIdentity(f.Identity)
	if err != nil {
		return nil, err
	}
	r := &Reading{Card: c, Identity: id}

	if f.CardData != nil {
		d, err := ParseCardData(f.CardData)
		if err != nil {
			return nil, err
		}
		r.Card.AppletVersion = d.AppletVersion
		r.Card.ComponentCode = hexByte(d.ComponentCode)
		r.Card.OSNumber = hexByte(d.OSNumber)
		r.Card.OSVersion = hexByte(d.OSVersion)
		r.Card.SoftmaskNumber = hexByte(d.SoftmaskNumber)
		r.Card.SoftmaskVersion = hexByte(d.SoftmaskVersion)
		r.Card.LifeCycle = hexByte(d.LifeCycle)
	}
	if len(f.ATR) > 0 {
		r.Card.ATR = strings.ToUpper(hex.EncodeToString(f.ATR))
	}

	// An address file of zeros only holds no address: treat it as absent.
	if len(TrimTrailingZeros(f.Address)) > 0 {
		a, err := ParseAddress(f.Address)
		if err != nil {
			return nil, err
		}
		r.Address = &a
	}

	if len(f.Photo) > 0 {
		r.Photo = bytes.Clone(f.Photo)
		sum := sha256.Sum256(f.Photo)
		r.PhotoSHA256 = hex.EncodeToString(sum[:])
	}

	if r.Certificates, err = decodeCertificates(f); err != nil {
		return nil, err
	}
	if r.Certificates != nil {
		r.Card.PKI = keyFamily(r.Certificates.RRN)
	}

	r.Integrity.NationalNumber, r.Integrity.NationalNumberDetail = nationalNumberVerdict(id.NationalNumber)
	r.Integrity.CardNumber, r.Integrity.CardNumberDetail = Valid, ""
	if err := ssin.ValidateCardNumber(c.CardNumber); err != nil {
		r.Integrity.CardNumber, r.Integrity.CardNumberDetail = Invalid, err.Error()
	}
	return r, nil
}

// decodeCertificates trims each certificate file to its DER certificate;
// nil when the card has none of them.
func decodeCertificates(f *Files) (*Certificates, error) {
	var cs Certificates
	for _, c := range []struct {
		dst  *[]byte
		file []byte
		name string
	}{
		{&cs.Authentication, f.AuthCert, "authentication certificate"},
		{&cs.Signing, f.SignCert, "signing certificate"},
		{&cs.CA, f.CACert, "CA certificate"},
		{&cs.Root, f.RootCert, "root certificate"},
		{&cs.RRN, f.RRNCert, "RRN certificate"},
	} {
		der, err := certificateDER(c.file, c.name)
		if err != nil {
			return nil, err
		}
		*c.dst = bytes.Clone(der)
	}
	if cs.Authentication == nil && cs.Signing == nil && cs.CA == nil && cs.Root == nil && cs.RRN == nil {
		return nil, nil
	}
	return &cs, nil
}

// nationalNumberVerdict judges the check digits of the national number
// (ref §4.5). Test cards carry numbers whose check digits are right but
// whose date is impossible (Alice: month 71); their verdict is valid, with
// a detail saying why the number is still odd.
func nationalNumberVerdict(nn string) (string, string) {
	if err := ssin.Check(nn); err != nil {
		return Invalid, err.Error()
	}
	_, err := ssin.Parse(nn)
	var e *ssin.Error
	if errors.As(err, &e) {
		return Valid, fmt.Sprintf("check digits valid; %s, as on test cards", e.Reason)
	}
	return Valid, ""
}

func hexByte(b byte) string { return fmt.Sprintf("%02X", b) }
