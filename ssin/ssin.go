package ssin

import (
	"fmt"
	"strconv"
)

// Kind tells a National Register number from a BIS number.
type Kind int

const (
	// NN is a National Register number: the month is 00–12.
	NN Kind = iota + 1
	// BIS is a number given by the Crossroads Bank for Social Security to a
	// person outside the National Register: the month carries +20 (sex
	// unknown when the number was given) or +40 (sex known) (ISI+ §4).
	BIS
)

func (k Kind) String() string {
	switch k {
	case NN:
		return "NN"
	case BIS:
		return "BIS"
	}
	return "unknown"
}

// Gender is what the number says about the holder's sex.
type Gender int

const (
	GenderUnknown Gender = iota // BIS number given while the sex was unknown (+20)
	Male                        // odd sequence number
	Female                      // even sequence number
)

func (g Gender) String() string {
	switch g {
	case Male:
		return "male"
	case Female:
		return "female"
	}
	return "unknown"
}

// Date is a birth date as encoded in the number. A zero field is unknown:
// month and day 00 occur (unknown, or a day's counter exhausted), and
// YYMMDD 000001 means the whole date is unknown (ISI+ §4).
type Date struct {
	Year, Month, Day int
}

// String gives YYYY-MM-DD, or YYYY-MM / YYYY when the day or month is
// unknown, and "" when nothing is known.
func (d Date) String() string {
	switch {
	case d.Year == 0:
		return ""
	case d.Month == 0:
		return fmt.Sprintf("%04d", d.Year)
	case d.Day == 0:
		return fmt.Sprintf("%04d-%02d", d.Year, d.Month)
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// Number is a valid SSIN.
type Number struct {
	Digits    string // the 11 digits, no punctuation
	Kind      Kind
	BirthDate Date
	Gender    Gender
	Sequence  int // SSS: the birth-day counter; its parity gives the sex
	// Century is 1900 or 2000: which check-digit rule matched (ref §4.5).
	Century int
}

// String is the display form, see Format.
func (n Number) String() string { return Format(n) }

// Format returns the display form YY.MM.DD-SSS.CC used on the card and by
// the eID Viewer (ref §4.5). A Number that does not hold 11 digits is
// returned as is.
func Format(n Number) string {
	d := n.Digits
	if len(d) != 11 {
		return d
	}
	return d[0:2] + "." + d[2:4] + "." + d[4:6] + "-" + d[6:9] + "." + d[9:11]
}

// Parse validates an SSIN given as 11 digits, with or without the display
// punctuation (YY.MM.DD-SSS.CC, or the SIS card's YYMMDD SSS CC): dots,
// dashes and spaces are ignored wherever they are (ISI+ §4 step 1).
//
// The check digits are 97 − (YYMMDDSSS mod 97); for births from 2000 on
// the nine digits are prefixed with a 2 first. Because 2 000 000 000 mod 97
// is not 0, at most one rule matches, which gives the century. Parse does
// not refuse a 2000-rule number whose year lies in the future: that would
// make the result depend on the clock.
//
// The error is an *Error wrapping ErrFormat, ErrChecksum or ErrDate.
func Parse(s string) (Number, error) {
	digits, century, err := check(s)
	if err != nil {
		return Number{}, err
	}
	yy, _ := strconv.Atoi(digits[0:2])
	mm, _ := strconv.Atoi(digits[2:4])
	dd, _ := strconv.Atoi(digits[4:6])
	seq, _ := strconv.Atoi(digits[6:9])

	n := Number{Digits: digits, Century: century, Sequence: seq, Kind: NN}
	sexKnown := true
	switch {
	case mm <= 12:
	case mm >= 20 && mm <= 32:
		n.Kind, mm, sexKnown = BIS, mm-20, false
	case mm >= 40 && mm <= 52:
		n.Kind, mm = BIS, mm-40
	default:
		return Number{}, nnError(s, ErrDate, "month %s is neither 00–12 nor a BIS month 20–32 or 40–52", digits[2:4])
	}
	year := century + yy
	if dd > daysIn(year, mm) {
		return Number{}, nnError(s, ErrDate, "day %s does not exist in month %02d of %d", digits[4:6], mm, year)
	}
	n.BirthDate = Date{Year: year, Month: mm, Day: dd}
	if yy == 0 && mm == 0 && dd == 1 {
		// 000001: birth date entirely unknown (ISI+ §4, after python-stdnum).
		n.BirthDate = Date{}
	}
	if sexKnown {
		n.Gender = Female
		if seq%2 == 1 {
			n.Gender = Male
		}
	}
	return n, nil
}

// Check validates only the shape and the check digits of an SSIN, not the
// birth date it encodes. It accepts the test-card numbers that Parse
// refuses with ErrDate.
func Check(s string) error {
	_, _, err := check(s)
	return err
}

// check returns the 11 digits and the century whose rule they satisfy.
func check(s string) (digits string, century int, err error) {
	digits, ok := stripDigits(s, 11)
	if !ok {
		return "", 0, nnError(s, ErrFormat, "want 11 digits (YYMMDDSSSCC, optionally written YY.MM.DD-SSS.CC)")
	}
	n, _ := strconv.ParseInt(digits[:9], 10, 64)
	cc, _ := strconv.Atoi(digits[9:])
	c1900 := nnCheck(n)
	c2000 := nnCheck(2_000_000_000 + n)
	switch cc {
	case c1900:
		return digits, 1900, nil
	case c2000:
		return digits, 2000, nil
	}
	return "", 0, nnError(s, ErrChecksum, "check digits %02d match neither %02d (born before 2000) nor %02d (born from 2000)", cc, c1900, c2000)
}

// nnCheck is the SSIN check number: 97 − (n mod 97), so 1..97, never 0.
func nnCheck(n int64) int { return 97 - int(n%97) }

// stripDigits removes the separators '.', '-' and ' ' and reports whether
// exactly want ASCII digits remain.
func stripDigits(s string, want int) (string, bool) {
	if len(s) > 4*want { // refuse absurd input before building anything
		return "", false
	}
	b := make([]byte, 0, want)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			b = append(b, c)
		case c == '.' || c == '-' || c == ' ':
		default:
			return "", false
		}
	}
	return string(b), len(b) == want
}

// daysIn is the number of days in month m of year y; for an unknown month
// (0) any day up to 31 is possible.
func daysIn(y, m int) int {
	switch m {
	case 0, 1, 3, 5, 7, 8, 10, 12:
		return 31
	case 4, 6, 9, 11:
		return 30
	}
	if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		return 29
	}
	return 28
}
