package ssin

import (
	"fmt"
	"strconv"
)

// ValidateCardNumber checks the number of an eID card (identity tag 01,
// ref §4.2), given with or without the display punctuation
// (123-1234567-12; dots, dashes and spaces are ignored).
//
//   - A Belgian card number has 12 digits; the last two are the first ten
//     mod 97 (ref §4.5) — the remainder itself, not 97 minus it.
//   - A foreigner card number is "B" followed by 9 digits, or 9 digits
//     (ref §4.2, after the eID Viewer). No check-digit rule is documented
//     for them, so only the shape is checked.
//
// The error is an *Error wrapping ErrFormat or ErrChecksum.
func ValidateCardNumber(s string) error {
	if d, ok := stripDigits(s, 12); ok {
		return cardCheck(s, d)
	}
	if _, ok := stripDigits(s, 9); ok {
		return nil
	}
	if len(s) > 0 && (s[0] == 'B' || s[0] == 'b') {
		if _, ok := stripDigits(s[1:], 9); ok {
			return nil
		}
	}
	return cardError(s, ErrFormat, "want 12 digits (Belgian card), or B and 9 digits or 9 digits (foreigner card)")
}

func cardCheck(input, d string) error {
	n, _ := strconv.ParseInt(d[:10], 10, 64)
	cc, _ := strconv.Atoi(d[10:])
	r := int(n % 97)
	// A remainder of 0 is written 97 according to python-stdnum (ISI+ §4),
	// but the public EC test card 000001241600 carries 00 (ref §4.5), so
	// both are accepted.
	if cc == r || (r == 0 && cc == 97) {
		return nil
	}
	want := fmt.Sprintf("%02d", r)
	if r == 0 {
		want = "00 or 97"
	}
	return cardError(input, ErrChecksum, "check digits %02d do not match %s (first ten digits mod 97)", cc, want)
}

func cardError(input string, err error, format string, args ...any) *Error {
	return &Error{What: "card number", Input: input, Reason: fmt.Sprintf(format, args...), Err: err}
}
