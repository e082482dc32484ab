package ssin

import (
	"errors"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{"67063029659", "71715100070", "01050399963", "67.06.30-296.59",
		"98472899765", "01490700185", "00000100166", "", "-.- ", "99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		checkErr := Check(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !(errors.Is(err, ErrFormat) || errors.Is(err, ErrChecksum) || errors.Is(err, ErrDate)) {
				t.Fatalf("untyped error %v", err)
			}
			if errors.Is(err, ErrDate) != (checkErr == nil) {
				t.Fatalf("Check = %v but Parse = %v", checkErr, err)
			}
			return
		}
		if checkErr != nil {
			t.Fatalf("Parse accepted but Check = %v", checkErr)
		}
		if len(n.Digits) != 11 || strings.Trim(n.Digits, "0123456789") != "" {
			t.Fatalf("Digits %q", n.Digits)
		}
		if n.Kind != NN && n.Kind != BIS || n.Century != 1900 && n.Century != 2000 {
			t.Fatalf("bad result %+v", n)
		}
		back, err := Parse(Format(n))
		if err != nil || back != n {
			t.Fatalf("Parse(Format(n)) = %+v, %v; want %+v", back, err, n)
		}
	})
}

func FuzzValidateCardNumber(f *testing.F) {
	for _, s := range []string{"592000155079", "000000122157", "000001241600", "591-2010999-97",
		"B123456789", "123456789", "", "B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateCardNumber(s)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) || !(errors.Is(err, ErrFormat) || errors.Is(err, ErrChecksum)) {
			t.Fatalf("untyped error %v", err)
		}
		if errors.Is(err, ErrChecksum) {
			if d, ok := stripDigits(s, 12); !ok || d == "" {
				t.Fatalf("checksum error on a non-12-digit input %q", s)
			}
		}
	})
}
