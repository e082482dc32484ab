package isi

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/eid-agent/eid-agent/proof"
	"github.com/eid-agent/eid-agent/ssin"
)

// TestLayoutTables checks the repair tables against the digit rows quoted
// in issue #6, written out here independently of the tables.
func TestLayoutTables(t *testing.T) {
	for _, tt := range []struct {
		garbage string
		l       Layout
		want    string
	}{
		{`&é"'(§è!çà`, LayoutQWERTYOnAZERTY, "1234567890"},
		{"!@#$%^&*()", LayoutAZERTYOnQWERTY, "1234567890"},
		{"))", LayoutQWERTYOnAZERTY, "--"},   // the AZERTY key right of 0 is where QWERTY has '-'
		{":;,", LayoutQWERTYOnAZERTY, ".,m"}, // AZERTY's bottom row: M sits where QWERTY has ';'
		{"qazwQAZW", LayoutQWERTYOnAZERTY, "aqwzAQWZ"},
		{"<", LayoutAZERTYOnQWERTY, "."}, // '.' is Shift+; on Belgian AZERTY
		{"85073003328 ]C0", LayoutAsIs, "85073003328 ]C0"},
	} {
		if got := Repair(tt.garbage, tt.l); got != tt.want {
			t.Errorf("Repair(%q, %q) = %q, want %q", tt.garbage, tt.l, got, tt.want)
		}
		if got := Garble(tt.want, tt.l); got != tt.garbage {
			t.Errorf("Garble(%q, %q) = %q, want %q", tt.want, tt.l, got, tt.garbage)
		}
	}
	// Each table is a bijection: no character shown by two keys.
	for _, rows := range [][][2]string{usRows, beRows} {
		seen := map[rune]bool{}
		for _, row := range rows {
			for _, level := range row {
				for _, r := range level {
					if seen[r] {
						t.Errorf("%q twice in a layout table", r)
					}
					seen[r] = true
				}
			}
		}
	}
	for i := range usRows {
		for l := 0; l < 2; l++ {
			if utf8.RuneCountInString(usRows[i][l]) != utf8.RuneCountInString(beRows[i][l]) {
				t.Errorf("row %d level %d: %q and %q differ in length", i, l, usRows[i][l], beRows[i][l])
			}
		}
	}
}

func TestParseScanValid(t *testing.T) {
	tests := []struct {
		name, raw                 string
		ssin, kind, birth, gender string
		card                      string
		input                     proof.InputType
		layout                    Layout
		symbology                 string
		uninterpreted             string // joined with |
	}{
		// Vectors of ISI+ §4.
		{"NN 1985", "85073003328", "85073003328", "NN", "1985-07-30", "male", "", proof.InputBarcode, "", "", ""},
		{"NN 2017", "17073003384\r", "17073003384", "NN", "2017-07-30", "male", "", proof.InputBarcode, "", "", ""},
		{"century 1912", "12060105317\r\n", "12060105317", "NN", "1912-06-01", "male", "", proof.InputBarcode, "", "", ""},
		{"century 2012", "12060105346\n", "12060105346", "NN", "2012-06-01", "male", "", proof.InputBarcode, "", "", ""},
		{"BIS +40", "98472899765", "98472899765", "BIS", "1998-07-28", "male", "", proof.InputBarcode, "", "", ""},
		{"BIS 2001", "01490700185", "01490700185", "BIS", "2001-09-07", "male", "", proof.InputBarcode, "", "", ""},
		{"BIS +20 sex unknown", "98272899722", "98272899722", "BIS", "1998-07-28", "unknown", "", proof.InputBarcode, "", "", ""},
		{"display form", "85.07.30-033.28", "85073003328", "NN", "1985-07-30", "male", "", proof.InputBarcode, "", "", ""},
		{"SIS spacing is three parts", "850730 033 28", "", "", "", "", "", "", "", "", ""}, // refused below
		{"AIM Code 128", "]C085073003328\r", "85073003328", "NN", "1985-07-30", "male", "", proof.InputBarcode, "", "]C0", ""},
		{"AIM DataMatrix", "]d285073003328", "85073003328", "NN", "1985-07-30", "male", "", proof.InputBarcode, "", "]d2", ""},
		{"AIM QR", "]Q185073003328", "85073003328", "NN", "1985-07-30", "male", "", proof.InputQR, "", "]Q1", ""},
		{"with card number", "85073003328 591201099997", "85073003328", "NN", "1985-07-30", "male", "591201099997", proof.InputBarcode, "", "", ""},
		{"GS separated", "591-2010999-97\x1d85073003328", "85073003328", "NN", "1985-07-30", "male", "591201099997", proof.InputBarcode, "", "", ""},
		{"ISO 15434 envelope", "[)>\x1e06\x1d85073003328\x1d591191706458\x1e\x04", "85073003328", "NN", "1985-07-30", "male", "591191706458", proof.InputBarcode, "", "", "[)>|06"},
		{"two card numbers: neither", "85073003328;591201099997;591191706458", "85073003328", "NN", "1985-07-30", "male", "", proof.InputBarcode, "", "", "591201099997|591191706458"},
		{"12 digits with bad check", "85073003328|591201099998", "85073003328", "NN", "1985-07-30", "male", "", proof.InputBarcode, "", "", "591201099998"},
		{"names are reported", "85073003328;DUPONT;Jean;2027-12-31", "85073003328", "NN", "1985-07-30", "male", "", proof.InputBarcode, "", "", "DUPONT|Jean|2027-12-31"},
		{"same SSIN twice", "85073003328 85.07.30-033.28", "85073003328", "NN", "1985-07-30", "male", "", proof.InputBarcode, "", "", ""},
		{"valid beside an invalid one", "85073003328 85073003329", "85073003328", "NN", "1985-07-30", "male", "", proof.InputBarcode, "", "", "85073003329"},
		// Keyboard-layout garbage, written out by hand from the rows.
		{"QWERTY scanner on AZERTY", `!(àè"àà""é!`, "85073003328", "NN", "1985-07-30", "male", "", proof.InputBarcode, LayoutQWERTYOnAZERTY, "", ""},
		{"AZERTY scanner on QWERTY", "*%)&#))##@*\r", "85073003328", "NN", "1985-07-30", "male", "", proof.InputBarcode, LayoutAZERTYOnQWERTY, "", ""},
		{"garbled AIM prefix and card", Garble("]C017073003384 591201099997", LayoutQWERTYOnAZERTY), "17073003384", "NN", "2017-07-30", "male", "591201099997", proof.InputBarcode, LayoutQWERTYOnAZERTY, "]C0", ""},
		{"garbled display form", Garble("85.07.30-033.28", LayoutAZERTYOnQWERTY), "85073003328", "NN", "1985-07-30", "male", "", proof.InputBarcode, LayoutAZERTYOnQWERTY, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseScan(tt.raw)
			if tt.ssin == "" {
				if err == nil {
					t.Fatalf("accepted: %+v", res)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.SSIN.Digits != tt.ssin || res.SSIN.Kind.String() != tt.kind || res.BirthDate != tt.birth ||
				res.SSIN.Gender.String() != tt.gender || res.CardNumber != tt.card || res.Input != tt.input ||
				res.Layout != tt.layout || res.Symbology != tt.symbology || strings.Join(res.Uninterpreted, "|") != tt.uninterpreted {
				t.Errorf("got ssin %s %s %s %s card %q input %s layout %q sym %q unint %q",
					res.SSIN.Digits, res.SSIN.Kind, res.BirthDate, res.SSIN.Gender, res.CardNumber, res.Input, res.Layout,
					res.Symbology, res.Uninterpreted)
			}
			if res.Raw != tt.raw {
				t.Errorf("Raw = %q, want the scan as received", res.Raw)
			}
			p := res.Proof(time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC))
			if err := p.Validate(); err != nil {
				t.Errorf("proof: %v", err)
			}
			if p.SupportType != proof.SupportISIPlus || p.InputType != tt.input || p.SSIN != tt.ssin ||
				p.SerialNumber != tt.card || p.RawScan != tt.raw || p.ManualReason != "" || p.SSINKind != tt.kind {
				t.Errorf("proof %+v", p)
			}
		})
	}
}

func TestParseScanInvalid(t *testing.T) {
	tests := []struct {
		name, raw string
		want      []error
	}{
		{"empty", "", []error{ErrEmpty}},
		{"only a terminator", "\r\n", []error{ErrEmpty}},
		{"blanks", "  \t ", []error{ErrEmpty}},
		{"too long", strings.Repeat("8", MaxScanLen+1), []error{ErrTooLong}},
		{"bad UTF-8", "85073\xff003328", []error{ErrEncoding}},
		{"replacement character", "85073\uFFFD003328", []error{ErrEncoding}},
		{"escape", "8507300\x1b3328", []error{ErrControl}},
		{"NUL", "85073003328\x00", []error{ErrControl}},
		{"DEL", "\x7f85073003328", []error{ErrControl}},
		{"C1 control", "85073003328\u0085", []error{ErrControl}},
		{"no digits", "hello world", []error{ErrNoSSIN}},
		{"too few digits", "8507300332", []error{ErrNoSSIN}},
		{"too many digits", "850730033288", []error{ErrNoSSIN}},
		{"run-together SSIN and card", "85073003328591201099997", []error{ErrNoSSIN}}, // no guessing where one ends
		{"bad check digits", "85073003329", []error{ErrInvalidSSIN, ssin.ErrChecksum}},
		{"impossible date", "85130100102", []error{ErrInvalidSSIN, ssin.ErrDate}},
		{"test-card month 71", "71715100070", []error{ErrInvalidSSIN, ssin.ErrDate}},
		{"two SSINs", "85073003328 17073003384", []error{ErrAmbiguous}},
		{"garbled, bad check digits", Garble("85073003329", LayoutQWERTYOnAZERTY), []error{ErrLayout}},
		{"garbled, too short", `&é"`, []error{ErrLayout}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseScan(tt.raw)
			if err == nil {
				t.Fatalf("accepted: %+v", res)
			}
			var se *ScanError
			if !errors.As(err, &se) {
				t.Fatalf("%T is not a *ScanError", err)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("error %q does not wrap %v", err, w)
				}
			}
			// The message explains without quoting the scan (personal data).
			if len(tt.raw) > 8 && strings.Contains(err.Error(), tt.raw[:9]) {
				t.Errorf("error quotes the scan: %v", err)
			}
		})
	}
}

// TestParseScanAmbiguousLayout: one part reads as an SSIN only after the
// QWERTY-on-AZERTY repair, another only after the AZERTY-on-QWERTY one.
// Both repairs give exactly one valid SSIN, different ones: the parser
// must not pick.
func TestParseScanAmbiguousLayout(t *testing.T) {
	s := Garble("85073003328", LayoutQWERTYOnAZERTY) + " " + Garble("17073003384", LayoutAZERTYOnQWERTY)
	for _, l := range []Layout{LayoutQWERTYOnAZERTY, LayoutAZERTYOnQWERTY} {
		if _, err := interpret(Repair(s, l), l); err != nil {
			t.Fatalf("%q does not read under %s: %v; the test proves nothing", s, l, err)
		}
	}
	if _, err := ParseScan(s); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("ParseScan(%q) = %v, want ErrAmbiguous", s, err)
	}
	// The same SSIN under both repairs is not ambiguous.
	same := Garble("85073003328", LayoutQWERTYOnAZERTY) + " " + Garble("85073003328", LayoutAZERTYOnQWERTY)
	if res, err := ParseScan(same); err != nil || res.SSIN.Digits != "85073003328" {
		t.Errorf("ParseScan(%q) = %v", same, err)
	}
}

// makeSSIN builds a valid SSIN from its parts with the check-digit rule
// of ISI+ §4, computed here independently of package ssin.
func makeSSIN(r *rand.Rand) string {
	century := 1900 + 100*r.IntN(2)
	yy, month := r.IntN(100), 1+r.IntN(12)
	day := 1 + r.IntN(time.Date(century+yy, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day())
	mm := month + []int{0, 20, 40}[r.IntN(3)]
	nine := fmt.Sprintf("%02d%02d%02d%03d", yy, mm, day, 1+r.IntN(997))
	n, _ := strconv.ParseInt(nine, 10, 64)
	if century == 2000 {
		n += 2_000_000_000
	}
	return fmt.Sprintf("%s%02d", nine, 97-n%97)
}

// TestParseScanRandom: random valid numbers, as typed, punctuated, after
// each keyboard-layout mismatch and with an AIM prefix, all come back as
// the same SSIN; random 11-digit strings are judged exactly as package
// ssin judges them.
func TestParseScanRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 2014))
	for i := 0; i < 5000; i++ {
		s := makeSSIN(r)
		want, err := ssin.Parse(s)
		if err != nil {
			t.Fatalf("generated %s: %v", s, err)
		}
		forms := []string{s, want.String(), "]d2" + s + "\r\n", s + "\x1d" + "591201099997"}
		for _, l := range []Layout{LayoutQWERTYOnAZERTY, LayoutAZERTYOnQWERTY} {
			forms = append(forms, Garble(s+"\r", l), Garble(want.String(), l))
		}
		for _, f := range forms {
			res, err := ParseScan(f)
			if err != nil {
				t.Fatalf("ParseScan(%q) for %s: %v", f, s, err)
			}
			if res.SSIN != want {
				t.Fatalf("ParseScan(%q) = %+v, want %+v", f, res.SSIN, want)
			}
		}

		d := fmt.Sprintf("%011d", r.Int64N(100_000_000_000))
		res, err := ParseScan(d)
		n, perr := ssin.Parse(d)
		switch {
		case perr == nil && (err != nil || res.SSIN != n):
			t.Fatalf("%s: ssin accepts, ParseScan = %v", d, err)
		case perr != nil && !errors.Is(err, ErrInvalidSSIN):
			t.Fatalf("%s: ssin refuses (%v), ParseScan = %v", d, perr, err)
		}
	}
}

func TestResultJSON(t *testing.T) {
	res, err := ParseScan(Garble("]Q198272899722 DUPONT\r", LayoutQWERTYOnAZERTY))
	if err != nil {
		t.Fatal(err)
	}
	b, err := res.MarshalWithProof(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ssin":"98272899722","ssinKind":"BIS","birthDate":"1998-07-28","gender":"unknown","inputType":"3",` +
		`"raw":"$A&ç!éèé!ççèéé DUPONT\r","normalized":"98272899722 DUPONT","layout":"qwerty-on-azerty","symbology":"]Q1","uninterpreted":["DUPONT"]}`
	if string(b) != want {
		t.Errorf("JSON\n%s\nwant\n%s", b, want)
	}
}
