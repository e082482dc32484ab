package isi

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/eid-agent/eid-agent/proof"
	"github.com/eid-agent/eid-agent/ssin"
)

// Entry is an ISI+ reading typed by the operator (issue #6 way 3).
type Entry struct {
	SSIN       string             // required; 11 digits, display punctuation allowed
	Reason     proof.ManualReason // required: 2 to 6 (ISI+ §3.3); 2 = document without chip
	CardNumber string             // the ISI+ card number printed on the card; optional
	LastName   string             // optional
	FirstName  string             // optional
	BirthDate  string             // optional, YYYY-MM-DD; must agree with the SSIN
}

// maxName bounds a typed name; the eID identity file allows far less.
const maxName = 200

// Manual validates a typed entry. The SSIN must be valid (check digits and
// birth date, ISI+ §4); the reason must justify a manual entry; a card
// number is checked for shape only (9 to 16 digits), because the ISI+
// card-number format is not public (ISI+ §1.3, §6 question 2); a birth
// date must be a real date and agree with the one the SSIN encodes. The
// error is an *EntryError.
func Manual(e Entry) (*Result, error) {
	bad := func(field string, sentinel error, cause error, format string, args ...any) error {
		return &EntryError{Field: field, Reason: fmt.Sprintf(format, args...), Err: sentinel, Cause: cause}
	}
	if strings.TrimSpace(e.SSIN) == "" {
		return nil, bad("ssin", ErrInvalidSSIN, nil, "required")
	}
	n, err := ssin.Parse(strings.TrimSpace(e.SSIN))
	if err != nil {
		reason := err.Error()
		var se *ssin.Error
		if errors.As(err, &se) {
			reason = se.Reason
		}
		return nil, bad("ssin", ErrInvalidSSIN, err, "%s", reason)
	}
	if e.Reason == "" {
		return nil, bad("reason", proof.ErrManualReason, nil, "required for a manual entry (%s)", proof.ReasonList())
	}
	reason, err := proof.ParseManualReason(string(e.Reason))
	if err != nil {
		return nil, bad("reason", proof.ErrManualReason, nil, "%s", strings.TrimPrefix(err.Error(), proof.ErrManualReason.Error()+": "))
	}
	res := &Result{SSIN: n, Input: proof.InputManual, ManualReason: reason, BirthDate: n.BirthDate.String()}

	if c := strings.TrimSpace(e.CardNumber); c != "" {
		digits, ok := numericPart(strings.ReplaceAll(c, " ", ""))
		if !ok || len(digits) < 9 || len(digits) > 16 {
			return nil, bad("cardNumber", ErrCardNumber, nil, "want 9 to 16 digits (dots, dashes and spaces allowed)")
		}
		res.CardNumber = digits
	}
	if res.LastName, err = cleanName(e.LastName); err != nil {
		return nil, bad("lastName", ErrName, nil, "%v", err)
	}
	if res.FirstName, err = cleanName(e.FirstName); err != nil {
		return nil, bad("firstName", ErrName, nil, "%v", err)
	}
	if b := strings.TrimSpace(e.BirthDate); b != "" {
		t, err := time.Parse(time.DateOnly, b)
		if err != nil {
			return nil, bad("birthDate", ErrBirthDate, nil, "want a real date written YYYY-MM-DD")
		}
		if !agrees(n.BirthDate, t) {
			return nil, bad("birthDate", ErrBirthDate, nil, "%s does not agree with the birth date the SSIN encodes (%s)", b, describe(n.BirthDate))
		}
		res.BirthDate = t.Format(time.DateOnly)
	}
	return res, nil
}

// agrees: every part of the date the SSIN knows matches t (unknown parts,
// written 00, match anything — ISI+ §4 step 4).
func agrees(d ssin.Date, t time.Time) bool {
	return (d.Year == 0 || d.Year == t.Year()) && (d.Month == 0 || d.Month == int(t.Month())) && (d.Day == 0 || d.Day == t.Day())
}

func describe(d ssin.Date) string {
	if s := d.String(); s != "" {
		return s
	}
	return "unknown"
}

// cleanName trims a typed name and refuses control characters and absurd
// lengths; anything else a person's name may hold is accepted.
func cleanName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case !utf8.ValidString(s):
		return "", errors.New("not valid UTF-8")
	case len(s) > maxName:
		return "", fmt.Errorf("longer than %d bytes", maxName)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", errors.New("contains a control character")
	}
	return s, nil
}
