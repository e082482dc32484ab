package virtual

import (
	"fmt"
	"strconv"
	"time"
)

// tlvWriter builds the "simplified TLV" identity and address files
// (ref §4.1): one tag byte, one length byte, the value. Lengths stay below
// 128, where the three length decodings found in the field (FF runs, BER,
// 7-bit groups) agree.
type tlvWriter struct {
	b   []byte
	err error
}

func (w *tlvWriter) add(tag byte, v []byte) {
	if len(v) >= 0x80 && w.err == nil {
		w.err = fmt.Errorf("field %02X is %d bytes, over the 127 the emulator writes", tag, len(v))
	}
	w.b = append(w.b, tag, byte(len(v)))
	w.b = append(w.b, v...)
}

func (w *tlvWriter) str(tag byte, s string) { w.add(tag, []byte(s)) }

// Month abbreviations of the birth date, tag 0C (ref §4.4).
var months = map[string][12]string{
	"fr": {"JAN", "FEV", "MARS", "AVR", "MAI", "JUIN", "JUIL", "AOUT", "SEPT", "OCT", "NOV", "DEC"},
	"nl": {"JAN", "FEB", "MAAR", "APR", "MEI", "JUN", "JUL", "AUG", "SEP", "OKT", "NOV", "DEC"},
	"de": {"JAN", "FEB", "MÄR", "APR", "MAI", "JUN", "JUL", "AUG", "SEP", "OKT", "NOV", "DEZ"},
}

// birthDate formats tag 0C: "DD MMM YYYY" on French and Dutch cards,
// "DD.MMM.YYYY" on German ones, e.g. "01 JAN 1971", "08 MAAR 1980",
// "13.AUG.1996" (ref §4.4).
func birthDate(t time.Time, lang string) string {
	m := months[lang][t.Month()-1]
	if lang == "de" {
		return fmt.Sprintf("%02d.%s.%04d", t.Day(), m, t.Year())
	}
	return fmt.Sprintf("%02d %s %04d", t.Day(), m, t.Year())
}

// cardDate formats the validity dates, tags 03 and 04: DD.MM.YYYY.
func cardDate(t time.Time) string { return t.Format("02.01.2006") }

// genderLetter is tag 0D: M, and for women F (French), V (Dutch) or W
// (German) (ref §6.2).
func genderLetter(female bool, lang string) string {
	if !female {
		return "M"
	}
	switch lang {
	case "nl":
		return "V"
	case "de":
		return "W"
	}
	return "F"
}

// NationalNumber builds a Belgian national number YYMMDDSSSCC for a birth
// date and a sequence number (odd for men, even for women, 1–999): the
// check digits are 97 − (YYMMDDSSS mod 97), computed over 2YYMMDDSSS for
// people born in 2000 or later (ref §4.5).
func NationalNumber(birth time.Time, seq int) (string, error) {
	if seq < 1 || seq > 999 {
		return "", &OptionError{Field: "NationalNumber", Reason: "sequence must be 1 to 999"}
	}
	base := fmt.Sprintf("%02d%02d%02d%03d", birth.Year()%100, int(birth.Month()), birth.Day(), seq)
	n, _ := strconv.ParseInt(base, 10, 64)
	if birth.Year() >= 2000 {
		n += 2_000_000_000
	}
	return fmt.Sprintf("%s%02d", base, 97-n%97), nil
}

// validNationalNumber checks the check digits of an 11-digit national number
// under either century rule.
func validNationalNumber(nn string) bool {
	if len(nn) != 11 {
		return false
	}
	n, err := strconv.ParseInt(nn[:9], 10, 64)
	if err != nil {
		return false
	}
	cc, err := strconv.Atoi(nn[9:])
	if err != nil {
		return false
	}
	return 97-n%97 == int64(cc) || 97-(n+2_000_000_000)%97 == int64(cc)
}

// cardNumber makes a 12-digit card number whose last two digits are the
// first ten mod 97 (ref §4.5). body values with remainder 0 are avoided:
// whether the check is then 00 or 97 is unsettled.
func cardNumber(body int64) string {
	body %= 10_000_000_000
	for body%97 == 0 {
		body++
	}
	return fmt.Sprintf("%010d%02d", body, body%97)
}
