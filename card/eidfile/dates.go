package eidfile

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cardDate converts a DD.MM.YYYY date (validity tags 03/04, EU start date
// tag 1F, ref §4.4) to YYYY-MM-DD. ok is false when v is not a real date in
// that form.
func cardDate(v string) (string, bool) {
	t, err := time.Parse("02.01.2006", strings.TrimSpace(v))
	if err != nil {
		return "", false
	}
	return t.Format(time.DateOnly), true
}

// orRaw returns the converted value, or v itself when it could not be
// converted: a signed card value is shown as written rather than dropped or
// turned into a read failure.
func orRaw(v string, conv func(string) (string, bool)) string {
	if out, ok := conv(v); ok {
		return out
	}
	return v
}

// monthNames are the birth-date month abbreviations in French, Dutch and
// German (ref §4.4). MAR is the German MÄR as sometimes written without
// the umlaut.
var monthNames = map[string]int{
	"JAN": 1,
	"FEV": 2, "FEB": 2,
	"MARS": 3, "MAAR": 3, "MÄR": 3, "MAR": 3,
	"AVR": 4, "APR": 4,
	"MAI": 5, "MEI": 5,
	"JUIN": 6, "JUN": 6,
	"JUIL": 7, "JUL": 7,
	"AOUT": 8, "AUG": 8,
	"SEPT": 9, "SEP": 9,
	"OCT": 10, "OKT": 10,
	"NOV": 11,
	"DEC": 12, "DEZ": 12,
}

// birthDate converts the birth date of tag 0C to YYYY-MM-DD, YYYY-MM (day
// unknown) or YYYY (month unknown) (ref §4.4). The card writes
// "DD MMM YYYY" (French, Dutch) or "DD.MMM.YYYY" (German), with variants
// seen on real cards: "13.AUG. 1996", "26 AVR  1975", a month of three
// spaces for an unknown month, and a bare "YYYY". As in the eID Viewer the
// year is the last four characters and the day and month are the tokens
// before it, separated by dots or spaces. A numeric month is accepted too.
func birthDate(v string) (string, bool) {
	s := strings.TrimRight(v, " ")
	if len(s) < 4 {
		return "", false
	}
	if !isDigits(s[len(s)-4:]) {
		return "", false
	}
	year, _ := strconv.Atoi(s[len(s)-4:])
	tokens := strings.FieldsFunc(s[:len(s)-4], func(r rune) bool { return r == ' ' || r == '.' })
	day, month := 0, 0
	if len(tokens) > 0 && isDigits(tokens[0]) {
		day, _ = strconv.Atoi(tokens[0])
		if len(tokens[0]) > 2 || day > 31 {
			return "", false
		}
		tokens = tokens[1:]
	}
	switch len(tokens) {
	case 0:
	case 1:
		m, ok := monthNames[strings.ToUpper(tokens[0])]
		if !ok && isDigits(tokens[0]) && len(tokens[0]) <= 2 {
			m, _ = strconv.Atoi(tokens[0])
			ok = m >= 1 && m <= 12
		}
		if !ok {
			return "", false
		}
		month = m
	default:
		return "", false
	}
	switch {
	case month == 0:
		return fmt.Sprintf("%04d", year), true
	case day == 0:
		return fmt.Sprintf("%04d-%02d", year, month), true
	}
	if day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return "", false
	}
	return fmt.Sprintf("%04d-%02d-%02d", year, month, day), true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
