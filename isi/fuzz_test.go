package isi

import (
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/eid-agent/eid-agent/ssin"
)

// FuzzParseScan feeds arbitrary input to the scan parser: it never panics,
// refuses with a typed error, and what it accepts is a valid SSIN whose
// proof can be journaled.
func FuzzParseScan(f *testing.F) {
	for _, s := range []string{"85073003328", "]C085073003328\r\n", "85.07.30-033.28", `!(àè"àà""é!`, "*%)&#))##@*",
		"[)>\x1e06\x1d85073003328\x1d591191706458\x1e\x04", "85073003328 17073003384", "85073003329", "\x00", "",
		"]Q198472899765;DUPONT", "\xff\xfe", "))))))))))))"} {
		f.Add(s)
	}
	sentinels := []error{ErrEmpty, ErrTooLong, ErrEncoding, ErrControl, ErrLayout, ErrNoSSIN, ErrInvalidSSIN, ErrAmbiguous}
	f.Fuzz(func(t *testing.T, raw string) {
		res, err := ParseScan(raw)
		if err != nil {
			var se *ScanError
			if !errors.As(err, &se) {
				t.Fatalf("untyped error %v", err)
			}
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error %v wraps no sentinel", err)
		}
		if res.Raw != raw || !utf8.ValidString(raw) || len(raw) > MaxScanLen {
			t.Fatalf("accepted %q as %+v", raw, res)
		}
		if n, err := ssin.Parse(res.SSIN.Digits); err != nil || n != res.SSIN {
			t.Fatalf("SSIN %+v does not re-parse: %v", res.SSIN, err)
		}
		if res.CardNumber != "" && ssin.ValidateCardNumber(res.CardNumber) != nil {
			t.Fatalf("card number %q", res.CardNumber)
		}
		if err := res.Proof(time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)).Validate(); err != nil {
			t.Fatalf("proof of an accepted scan: %v", err)
		}
		// What was interpreted reads the same without any repair.
		again, err := ParseScan(res.Symbology + res.Normalized)
		if err != nil || again.SSIN != res.SSIN || again.CardNumber != res.CardNumber || again.Layout != LayoutAsIs {
			t.Fatalf("normalized %q re-parses as %+v, %v", res.Normalized, again, err)
		}
	})
}
