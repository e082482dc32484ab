package isi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/eid-agent/eid-agent/proof"
	"github.com/eid-agent/eid-agent/ssin"
)

// MaxScanLen bounds a raw scan in bytes. The largest DataMatrix holds
// 1 556 bytes; anything longer is not one scan.
const MaxScanLen = proof.MaxRawScan

// Result is one validated ISI+ reading, scanned or typed.
type Result struct {
	SSIN ssin.Number
	// CardNumber is the ISI+ card number when the scan holds exactly one
	// 12-digit number with valid mod-97 check digits (the eID card-number
	// rule; the ISI+ rule is not public, ISI+ §1.3), or as typed.
	CardNumber string
	LastName   string // typed entry only
	FirstName  string // typed entry only
	// BirthDate is YYYY-MM-DD as typed, or what the SSIN encodes (possibly
	// only YYYY-MM or YYYY, or empty when unknown).
	BirthDate string

	Input        proof.InputType    // InputBarcode, InputQR or InputManual
	ManualReason proof.ManualReason // with InputManual

	// Raw is the scan exactly as received; it is always kept, since the
	// payload format is not public and may be re-read later (ISI+ §3.4).
	Raw string
	// Normalized is the scan after the layout repair and without the
	// symbology identifier and terminator: what was interpreted.
	Normalized string
	Layout     Layout // the keyboard-layout repair applied, if any
	// Symbology is the AIM symbology identifier the scanner put in front
	// of the data (for example "]C0" Code 128, "]d2" DataMatrix, "]Q1" QR).
	Symbology string
	// Uninterpreted lists the parts of the scan that are neither the SSIN
	// nor the card number, in order: reported, not guessed at.
	Uninterpreted []string
}

// Proof is the reading-proof record of r at now: support type 4 (ISI+),
// with the input type and reason of the reading (ISI+ §3.3: support 4 +
// input 2 for a scanned card, support 4 + input 4 + reason 2 when typed).
// The document's validity is unknown: it is not in any known payload.
func (r *Result) Proof(now time.Time) proof.Record {
	return proof.Record{
		ReadAt:       now.Truncate(time.Second).In(proof.Brussels),
		SupportType:  proof.SupportISIPlus,
		InputType:    r.Input,
		ManualReason: r.ManualReason,
		SerialNumber: r.CardNumber,
		SSIN:         r.SSIN.Digits,
		SSINKind:     r.SSIN.Kind.String(),
		Validity:     proof.DocumentValidityUnknown,
		RawScan:      r.Raw,
	}
}

// MarshalJSON gives the public form of a result (docs/isi-and-proofs.md).
func (r *Result) MarshalJSON() ([]byte, error) { return r.MarshalWithProof(nil) }

// MarshalWithProof is MarshalJSON with the reading-proof record added as
// member "proof" (when p is not nil): the answer of `eid-agent isi --json`.
// Unlike encoding/json's default, '&', '<' and '>' in a scan are not
// escaped: the output is not meant for HTML.
func (r *Result) MarshalWithProof(p *proof.Record) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		SSIN          string             `json:"ssin"`
		SSINKind      string             `json:"ssinKind"`
		BirthDate     string             `json:"birthDate,omitempty"`
		Gender        string             `json:"gender"`
		CardNumber    string             `json:"cardNumber,omitempty"`
		LastName      string             `json:"lastName,omitempty"`
		FirstName     string             `json:"firstName,omitempty"`
		InputType     proof.InputType    `json:"inputType"`
		ManualReason  proof.ManualReason `json:"manualReason,omitempty"`
		Raw           string             `json:"raw,omitempty"`
		Normalized    string             `json:"normalized,omitempty"`
		Layout        Layout             `json:"layout,omitempty"`
		Symbology     string             `json:"symbology,omitempty"`
		Uninterpreted []string           `json:"uninterpreted,omitempty"`
		Proof         *proof.Record      `json:"proof,omitempty"`
	}{
		r.SSIN.Digits, r.SSIN.Kind.String(), r.BirthDate, r.SSIN.Gender.String(), r.CardNumber,
		r.LastName, r.FirstName, r.Input, r.ManualReason, r.Raw, r.Normalized, r.Layout, r.Symbology,
		r.Uninterpreted, p,
	})
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), err
}

// ParseScan interprets the raw string of one barcode or 2-D code scan, as
// a keyboard-wedge scanner typed it (through the web page) or a serial
// scanner sent it. The ISI+ payload format is not public (ISI+ §1.3), so
// the parser is defensive:
//
//  1. Control characters other than the separators a symbol may carry
//     (tab, CR, LF, GS, RS, FS, US, EOT) are refused (ErrControl); a
//     trailing CR/LF is the scanner's terminator and is dropped.
//  2. A leading AIM symbology identifier (]Xm) is kept in Symbology; "]Q"
//     (QR Code) makes the input type QR, anything else is a barcode.
//  3. The scan is split at separators (white space, controls, ; | , / : =).
//     A part made of digits (with the SSIN's display dots and dashes) of
//     length 11 is an SSIN candidate, validated with the mod-97 and
//     century rule (ISI+ §4); of length 12 with valid mod-97 check digits,
//     a card-number candidate. Everything else is Uninterpreted.
//  4. Exactly one distinct valid SSIN is required (ErrNoSSIN,
//     ErrInvalidSSIN, ErrAmbiguous); a second card-number candidate makes
//     both uninterpreted.
//  5. When the scan as typed holds no SSIN, the two AZERTY/QWERTY
//     mismatches are undone (see Layout) and the steps above re-run; the
//     repair is kept only when exactly one of them gives an SSIN.
func ParseScan(raw string) (*Result, error) {
	if err := checkRaw(raw); err != nil {
		return nil, err
	}
	res, asIsErr := interpret(raw, LayoutAsIs)
	if asIsErr == nil {
		return res, nil
	}
	var found []*Result
	for _, l := range []Layout{LayoutQWERTYOnAZERTY, LayoutAZERTYOnQWERTY} {
		if r, err := interpret(Repair(raw, l), l); err == nil {
			r.Raw = raw
			found = append(found, r)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1 && found[0].SSIN.Digits == found[1].SSIN.Digits:
		return found[0], nil
	case len(found) > 1:
		return nil, &ScanError{Reason: "both keyboard-layout repairs give a valid SSIN; scan again with the scanner set to the computer's layout", Err: ErrAmbiguous}
	}
	if looksGarbled(raw) {
		return nil, &ScanError{Reason: "the scan looks typed through a keyboard-layout mismatch (AZERTY digit row) and no repair gives a valid SSIN; set the scanner to the computer's keyboard layout", Err: ErrLayout}
	}
	return nil, asIsErr
}

// checkRaw enforces the limits that do not depend on interpretation.
func checkRaw(raw string) error {
	switch {
	case len(raw) > MaxScanLen:
		return &ScanError{Reason: fmt.Sprintf("%d bytes, more than the %d a scan can hold", len(raw), MaxScanLen), Err: ErrTooLong}
	case !utf8.ValidString(raw):
		return &ScanError{Reason: "not valid UTF-8 (check the scanner's character set)", Err: ErrEncoding}
	case strings.TrimFunc(raw, isSeparator) == "":
		return &ScanError{Reason: "nothing was scanned", Err: ErrEmpty}
	}
	for i, r := range raw {
		if r == unicode.ReplacementChar {
			return &ScanError{Reason: fmt.Sprintf("replacement character U+FFFD at byte %d: the text was mis-decoded before it got here (check the scanner's character set)", i), Err: ErrEncoding}
		}
		if unicode.IsControl(r) && !isControlSeparator(r) {
			return &ScanError{Reason: fmt.Sprintf("control character U+%04X at byte %d (only tab, CR, LF, GS, RS, FS, US and EOT may occur in a scan)", r, i), Err: ErrControl}
		}
	}
	return nil
}

// isControlSeparator: the controls a symbol may legitimately carry — the
// ISO/IEC 15434 envelope uses RS, GS and EOT, GS1 element strings use GS.
func isControlSeparator(r rune) bool {
	switch r {
	case '\t', '\r', '\n', 0x1C, 0x1D, 0x1E, 0x1F, 0x04:
		return true
	}
	return false
}

func isSeparator(r rune) bool {
	return unicode.IsSpace(r) || isControlSeparator(r) || strings.ContainsRune(";|,/:=", r)
}

// interpret runs steps 2 to 4 of ParseScan on s.
func interpret(s string, l Layout) (*Result, error) {
	res := &Result{Raw: s, Layout: l, Input: proof.InputBarcode}
	body := strings.TrimRight(s, "\r\n")
	if sym, ok := aimPrefix(body); ok {
		res.Symbology = sym
		body = body[len(sym):]
		if sym[1] == 'Q' {
			res.Input = proof.InputQR
		}
	}
	res.Normalized = body

	var ssins []ssin.Number
	var cards []string
	var firstBad error
	for _, part := range strings.FieldsFunc(body, isSeparator) {
		digits, numeric := numericPart(part)
		switch {
		case numeric && len(digits) == 11:
			n, err := ssin.Parse(digits)
			if err != nil {
				if firstBad == nil {
					firstBad = err
				}
				res.Uninterpreted = append(res.Uninterpreted, part)
				continue
			}
			if !containsSSIN(ssins, n) {
				ssins = append(ssins, n)
			}
		case numeric && len(digits) == 12 && ssin.ValidateCardNumber(digits) == nil:
			cards = append(cards, digits)
		default:
			res.Uninterpreted = append(res.Uninterpreted, part)
		}
	}
	switch {
	case len(ssins) > 1:
		return nil, &ScanError{Reason: fmt.Sprintf("%d different valid SSINs in one scan", len(ssins)), Err: ErrAmbiguous}
	case len(ssins) == 0 && firstBad != nil:
		reason := firstBad.Error()
		var se *ssin.Error
		if errors.As(firstBad, &se) {
			reason = se.Reason
		}
		return nil, &ScanError{Reason: "the 11-digit number is not a valid SSIN: " + reason, Err: ErrInvalidSSIN, Cause: firstBad}
	case len(ssins) == 0:
		return nil, &ScanError{Reason: "no 11-digit number (SSIN) found", Err: ErrNoSSIN}
	}
	res.SSIN = ssins[0]
	res.BirthDate = ssins[0].BirthDate.String()
	switch len(cards) {
	case 1:
		res.CardNumber = cards[0]
	case 0:
	default:
		res.Uninterpreted = append(res.Uninterpreted, cards...)
	}
	return res, nil
}

func containsSSIN(list []ssin.Number, n ssin.Number) bool {
	for _, m := range list {
		if m.Digits == n.Digits {
			return true
		}
	}
	return false
}

// numericPart reports whether part is digits with optional '.' and '-'
// (the SSIN display form YY.MM.DD-SSS.CC) and returns the digits.
func numericPart(part string) (string, bool) {
	var b strings.Builder
	for _, r := range part {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '.' || r == '-':
		default:
			return "", false
		}
	}
	return b.String(), b.Len() > 0
}

// aimPrefix recognises an AIM symbology identifier: ']', a code letter
// and a modifier character (ISO/IEC 15424).
func aimPrefix(s string) (string, bool) {
	if len(s) < 3 || s[0] != ']' {
		return "", false
	}
	c, m := s[1], s[2]
	if !isASCIILetter(c) || !(isASCIILetter(m) || m >= '0' && m <= '9') {
		return "", false
	}
	return s[:3], true
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// looksGarbled: digit-row symbols and no digit at all.
func looksGarbled(raw string) bool {
	return strings.ContainsAny(raw, digitRowSymbols) && !strings.ContainsAny(raw, "0123456789")
}
