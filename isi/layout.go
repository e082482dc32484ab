package isi

import "strings"

// Layout names a keyboard-layout repair applied to a scan.
//
// A keyboard-wedge scanner does not send characters: it sends key codes for
// the layout it was configured for, and the computer turns them into
// characters with its own layout. When the two differ, the digits of a
// Belgian AZERTY keyboard — which need Shift — come out as the symbols of
// the digit row (issue #6):
//
//   - scanner set to US QWERTY, computer in Belgian AZERTY: "1234567890"
//     arrives as `&é"'(§è!çà`;
//   - scanner set to Belgian AZERTY, computer in US QWERTY: "1234567890"
//     arrives as "!@#$%^&*()".
type Layout string

const (
	LayoutAsIs           Layout = ""                 // no repair
	LayoutQWERTYOnAZERTY Layout = "qwerty-on-azerty" // scanner US QWERTY, computer Belgian AZERTY
	LayoutAZERTYOnQWERTY Layout = "azerty-on-qwerty" // scanner Belgian AZERTY, computer US QWERTY
)

// The main keys of both layouts, row by row in the same key positions,
// unshifted then shifted. Keys that only exist on ISO keyboards (the one
// beside left Shift) and AltGr levels are left out: a key outside these
// rows is passed through unchanged.
var (
	usRows = [][2]string{
		{"`1234567890-=", "~!@#$%^&*()_+"},
		{"qwertyuiop[]", "QWERTYUIOP{}"},
		{"asdfghjkl;'\\", "ASDFGHJKL:\"|"},
		{"zxcvbnm,./", "ZXCVBNM<>?"},
	}
	beRows = [][2]string{
		{"²&é\"'(§è!çà)-", "³1234567890°_"},
		{"azertyuiop^$", "AZERTYUIOP¨*"},
		{"qsdfghjklmùµ", "QSDFGHJKLM%£"},
		{"wxcvbn,;:=", "WXCVBN?./+"},
	}
)

// repairs maps, for each layout mismatch, a character the computer
// produced to the character the scanner meant.
var repairs = map[Layout]map[rune]rune{
	LayoutQWERTYOnAZERTY: keyMap(beRows, usRows),
	LayoutAZERTYOnQWERTY: keyMap(usRows, beRows),
}

// keyMap pairs the characters of the same key position and shift level.
func keyMap(shown, meant [][2]string) map[rune]rune {
	m := map[rune]rune{}
	for i := range shown {
		for level := 0; level < 2; level++ {
			s, t := []rune(shown[i][level]), []rune(meant[i][level])
			for k := range s {
				if s[k] != t[k] {
					m[s[k]] = t[k]
				}
			}
		}
	}
	return m
}

// Repair applies the reverse of layout mismatch l to s.
func Repair(s string, l Layout) string {
	m := repairs[l]
	if m == nil {
		return s
	}
	return strings.Map(func(r rune) rune {
		if t, ok := m[r]; ok {
			return t
		}
		return r
	}, s)
}

// Garble is what a computer in the wrong layout shows for s: the inverse
// of Repair, used by the tests and the documentation to produce the
// garbage a mismatched scanner types.
func Garble(s string, l Layout) string {
	inv := map[rune]rune{}
	for k, v := range repairs[l] {
		inv[v] = k
	}
	return strings.Map(func(r rune) rune {
		if t, ok := inv[r]; ok {
			return t
		}
		return r
	}, s)
}

// digitRowSymbols are the characters that stand for digits under one of
// the mismatches: their presence without any digit marks a scan as
// layout garbage.
const digitRowSymbols = "&é\"'(§è!çà@#$%^*)"
