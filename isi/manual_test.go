package isi

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/proof"
	"github.com/eid-agent/eid-agent/ssin"
)

func TestManualValid(t *testing.T) {
	res, err := Manual(Entry{SSIN: " 17.07.30-033.84 ", Reason: proof.ReasonNoChip, CardNumber: "6012 3456 7890",
		LastName: "  Van den Broeck ", FirstName: "Zoë", BirthDate: "2017-07-30"})
	if err != nil {
		t.Fatal(err)
	}
	if res.SSIN.Digits != "17073003384" || res.Input != proof.InputManual || res.ManualReason != proof.ReasonNoChip ||
		res.CardNumber != "601234567890" || res.LastName != "Van den Broeck" || res.FirstName != "Zoë" ||
		res.BirthDate != "2017-07-30" || res.Raw != "" {
		t.Errorf("result %+v", res)
	}
	p := res.Proof(time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC))
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if p.SupportType != proof.SupportISIPlus || p.InputType != proof.InputManual || p.ManualReason != proof.ReasonNoChip ||
		p.SerialNumber != "601234567890" || p.SSIN != "17073003384" || p.SSINKind != "NN" || p.Validity != proof.DocumentValidityUnknown {
		t.Errorf("proof %+v", p)
	}
	if w := p.Warnings(); len(w) != 0 {
		t.Errorf("warnings %v", w)
	}

	// Minimal entry: SSIN and reason. The birth date comes from the SSIN;
	// the proof warns that billing wants the card number.
	res, err = Manual(Entry{SSIN: "98472899765", Reason: "3"})
	if err != nil {
		t.Fatal(err)
	}
	if res.BirthDate != "1998-07-28" || res.SSIN.Kind != ssin.BIS {
		t.Errorf("result %+v", res)
	}
	if w := res.Proof(time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)).Warnings(); len(w) != 1 || !strings.Contains(w[0], "serial number") {
		t.Errorf("warnings %v", w)
	}
	// A BIS number with an unknown day agrees with any day of its month.
	if _, err := Manual(Entry{SSIN: "75030000242", Reason: "2", BirthDate: "1975-03-17"}); err != nil {
		t.Errorf("partial SSIN date: %v", err)
	}
}

func TestManualInvalid(t *testing.T) {
	ok := Entry{SSIN: "85073003328", Reason: proof.ReasonNoChip}
	tests := []struct {
		name  string
		edit  func(*Entry)
		field string
		want  []error
	}{
		{"no SSIN", func(e *Entry) { e.SSIN = " " }, "ssin", []error{ErrInvalidSSIN}},
		{"bad check digits", func(e *Entry) { e.SSIN = "85073003329" }, "ssin", []error{ErrInvalidSSIN, ssin.ErrChecksum}},
		{"letters", func(e *Entry) { e.SSIN = "8507300332B" }, "ssin", []error{ErrInvalidSSIN, ssin.ErrFormat}},
		{"impossible date", func(e *Entry) { e.SSIN = "85043100109" }, "ssin", []error{ErrInvalidSSIN, ssin.ErrDate}},
		{"no reason", func(e *Entry) { e.Reason = "" }, "reason", []error{proof.ErrManualReason}},
		{"reason 1", func(e *Entry) { e.Reason = proof.ReasonNotApplicable }, "reason", []error{proof.ErrManualReason}},
		{"reason 7", func(e *Entry) { e.Reason = "7" }, "reason", []error{proof.ErrManualReason}},
		{"short card number", func(e *Entry) { e.CardNumber = "12345678" }, "cardNumber", []error{ErrCardNumber}},
		{"card number letters", func(e *Entry) { e.CardNumber = "B123456789" }, "cardNumber", []error{ErrCardNumber}},
		{"birth date format", func(e *Entry) { e.BirthDate = "30/07/1985" }, "birthDate", []error{ErrBirthDate}},
		{"birth date impossible", func(e *Entry) { e.BirthDate = "1985-02-30" }, "birthDate", []error{ErrBirthDate}},
		{"birth date disagrees", func(e *Entry) { e.BirthDate = "2085-07-30" }, "birthDate", []error{ErrBirthDate}},
		{"name control", func(e *Entry) { e.LastName = "Dupont\x1b[2J" }, "lastName", []error{ErrName}},
		{"name too long", func(e *Entry) { e.FirstName = strings.Repeat("a", 201) }, "firstName", []error{ErrName}},
		{"name bad UTF-8", func(e *Entry) { e.FirstName = "Zo\xeb" }, "firstName", []error{ErrName}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ok
			tt.edit(&e)
			_, err := Manual(e)
			var ee *EntryError
			if !errors.As(err, &ee) || ee.Field != tt.field {
				t.Fatalf("Manual = %v, want an *EntryError on %s", err, tt.field)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("%v does not wrap %v", err, w)
				}
			}
		})
	}
}
