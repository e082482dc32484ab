package ssin

import (
	"errors"
	"strings"
	"testing"
)

// Vectors from ref §4.5, §11.1 and ISI+ §4.
func TestParseValid(t *testing.T) {
	tests := []struct {
		in      string
		digits  string
		kind    Kind
		date    string
		gender  Gender
		century int
	}{
		{"67063029659", "67063029659", NN, "1967-06-30", Female, 1900}, // eID Viewer test export
		{"67.06.30-296.59", "67063029659", NN, "1967-06-30", Female, 1900},
		{"01050399963", "01050399963", NN, "2001-05-03", Male, 2000}, // EC test card (2000 rule)
		{"85073003328", "85073003328", NN, "1985-07-30", Male, 1900},
		{"17073003384", "17073003384", NN, "2017-07-30", Male, 2000},
		{"12060105317", "12060105317", NN, "1912-06-01", Male, 1900},
		{"12060105346", "12060105346", NN, "2012-06-01", Male, 2000},
		{"98472899765", "98472899765", BIS, "1998-07-28", Male, 1900}, // +40: sex known
		{"01490700185", "01490700185", BIS, "2001-09-07", Male, 2000},
		{"980728 997 76", "98072899776", NN, "1998-07-28", Male, 1900}, // SIS card spacing
		{"01050399934", "01050399934", NN, "1901-05-03", Male, 1900},   // same digits, other century
		// Built with the rule: BIS +20 (sex unknown), unknown month/day,
		// 29 February 2000, and 000001 (date entirely unknown).
		{"98272899722", "98272899722", BIS, "1998-07-28", GenderUnknown, 1900},
		{"85310100131", "85310100131", BIS, "1985-11-01", GenderUnknown, 1900},
		{"75000000221", "75000000221", NN, "1975", Female, 1900},
		{"75030000242", "75030000242", NN, "1975-03", Female, 1900},
		{"00022900145", "00022900145", NN, "2000-02-29", Male, 2000},
		{"00000100166", "00000100166", NN, "", Male, 1900},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n.Digits != tt.digits || n.Kind != tt.kind || n.BirthDate.String() != tt.date ||
				n.Gender != tt.gender || n.Century != tt.century {
				t.Errorf("got %+v (date %q), want digits %s kind %v date %q gender %v century %d",
					n, n.BirthDate, tt.digits, tt.kind, tt.date, tt.gender, tt.century)
			}
			if err := Check(tt.in); err != nil {
				t.Errorf("Check: %v", err)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		in        string
		want      error
		checkOnly bool // Check accepts it: only the date is wrong
	}{
		{"", ErrFormat, false},
		{"6706302965", ErrFormat, false},   // 10 digits
		{"670630296590", ErrFormat, false}, // 12 digits
		{"67O63029659", ErrFormat, false},  // letter O
		{"67/06/30-296.59", ErrFormat, false},
		{"６７063029659", ErrFormat, false},   // full-width digits
		{"67063029660", ErrChecksum, false}, // the .60 viewer export: neither rule matches
		{"67063029658", ErrChecksum, false},
		{"76063029659", ErrChecksum, false}, // transposed
		{"71715100070", ErrDate, true},      // Alice test card: month 71, day 51 (ref §4.5)
		{"85130100102", ErrDate, true},      // month 13
		{"85330100145", ErrDate, true},      // BIS month 33
		{"85043100109", ErrDate, true},      // 31 April
		{"00022900116", ErrDate, true},      // 29 February 1900
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse error = %v, want %v", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.What != "national number" || e.Input != tt.in || e.Reason == "" {
				t.Errorf("error %#v is not a complete *Error", err)
			}
			if err := Check(tt.in); (err == nil) != tt.checkOnly {
				t.Errorf("Check = %v, want accepted=%v", err, tt.checkOnly)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Parse("67.06.30-296.58")
	want := `invalid national number "67.06.30-296.58": check digits 58 match neither 59 (born before 2000) nor 88 (born from 2000)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	_, err = Parse(strings.Repeat("9", 100))
	if err == nil || len(err.Error()) > 160 {
		t.Errorf("long input not shortened in %q", err)
	}
}

func TestFormat(t *testing.T) {
	n, err := Parse("67063029659")
	if err != nil {
		t.Fatal(err)
	}
	if got := Format(n); got != "67.06.30-296.59" {
		t.Errorf("Format = %q", got)
	}
	if got := n.String(); got != "67.06.30-296.59" {
		t.Errorf("String = %q", got)
	}
	if got := Format(Number{Digits: "123"}); got != "123" {
		t.Errorf("Format of a short number = %q", got)
	}
}

func TestStrings(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{NN.String(), "NN"}, {BIS.String(), "BIS"}, {Kind(0).String(), "unknown"},
		{Male.String(), "male"}, {Female.String(), "female"}, {GenderUnknown.String(), "unknown"},
		{Date{}.String(), ""}, {Date{Year: 1971}.String(), "1971"},
		{Date{Year: 1971, Month: 1}.String(), "1971-01"}, {Date{Year: 1971, Month: 1, Day: 2}.String(), "1971-01-02"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestValidateCardNumber(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"592000155079", nil},   // eID Viewer test export (ref §11.1)
		{"000000122157", nil},   // Alice
		{"000001241600", nil},   // EC test card: remainder 0 written 00 (ref §4.5)
		{"591201099997", nil},   // remainder 0 written 97 (ISI+ §4)
		{"591-2010999-97", nil}, // display form
		{"591-1917064-58", nil},
		{"B123456789", nil}, // foreigner card, shape only
		{"b123456789", nil},
		{"123456789", nil},
		{"592000155078", ErrChecksum},
		{"592000155097", ErrChecksum}, // 97 only stands for remainder 0
		{"000001241697", nil},
		{"000001241601", ErrChecksum},
		{"", ErrFormat},
		{"59200015507", ErrFormat},
		{"5920001550790", ErrFormat},
		{"B12345678", ErrFormat},
		{"X123456789", ErrFormat},
		{"BB23456789", ErrFormat},
		{"59200015507A", ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := ValidateCardNumber(tt.in)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.What != "card number" {
				t.Errorf("error %#v is not a card-number *Error", err)
			}
		})
	}
}
