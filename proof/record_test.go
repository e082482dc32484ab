package proof

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/card/eidfile"
)

// at is a Brussels wall-clock time.
func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, Brussels)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseManualReason(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want ManualReason
		err  bool
	}{
		{"2", ReasonNoChip, false}, {" 3 ", ReasonNoReader, false}, {"4", ReasonDeferredNoDoc, false},
		{"5", ReasonDeferredForgot, false}, {"6", ReasonNoInterconnect, false},
		{"1", "", true}, // "not applicable" never justifies a manual entry
		{"0", "", true}, {"7", "", true}, {"", "", true}, {"02", "", true}, {"two", "", true},
	} {
		got, err := ParseManualReason(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseManualReason(%q) = %q, %v", tt.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrManualReason) {
			t.Errorf("ParseManualReason(%q): error %v does not wrap ErrManualReason", tt.in, err)
		}
	}
	if l := ReasonList(); !strings.Contains(l, "2 = document without chip") || strings.Contains(l, "1 =") {
		t.Errorf("ReasonList = %q", l)
	}
}

func TestParseSupportType(t *testing.T) {
	for _, ok := range []string{"1", "2", "4", "7", "8", "9", "A", "a"} {
		if _, err := ParseSupportType(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	// 3, 5 and 6 are historic codes (Kids-ID before 2017, residence
	// document, SIS card): no longer in the value set (ISI+ §3.3).
	for _, bad := range []string{"3", "5", "6", "0", "B", "", "eid"} {
		if _, err := ParseSupportType(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: got %v, want ErrInvalid", bad, err)
		}
	}
	if SupportISIPlus.Name() != "ISI+ card" || InputQR.Name() != "QR code" || ReasonNoReader.Name() != "card reader unavailable" ||
		SupportType("X").Name() != "unknown" || InputType("9").Name() != "unknown" || ManualReason("9").Name() != "unknown" {
		t.Error("code names")
	}
}

func validRecord() Record {
	return Record{
		ReadAt: at("2025-07-01 09:30:00"), SupportType: SupportISIPlus, InputType: InputBarcode,
		SerialNumber: "591201099997", SSIN: "17073003384", SSINKind: "NN", Validity: DocumentValidityUnknown,
	}
}

func TestValidate(t *testing.T) {
	if err := validRecord().Validate(); err != nil {
		t.Fatalf("valid record: %v", err)
	}
	tests := []struct {
		name  string
		edit  func(*Record)
		field string
		want  error
	}{
		{"no time", func(r *Record) { r.ReadAt = time.Time{} }, "readAt", ErrInvalid},
		{"historic SIS support", func(r *Record) { r.SupportType = "6" }, "supportType", ErrInvalid},
		{"empty support", func(r *Record) { r.SupportType = "" }, "supportType", ErrInvalid},
		{"bad input", func(r *Record) { r.InputType = "5" }, "inputType", ErrInvalid},
		{"manual without reason", func(r *Record) { r.InputType = InputManual }, "manualReason", ErrManualReason},
		{"manual with n/a", func(r *Record) { r.InputType, r.ManualReason = InputManual, ReasonNotApplicable }, "manualReason", ErrManualReason},
		{"reason on a scan", func(r *Record) { r.ManualReason = ReasonNoChip }, "manualReason", ErrManualReason},
		{"no SSIN", func(r *Record) { r.SSIN = "" }, "ssin", ErrInvalid},
		{"bad check digits", func(r *Record) { r.SSIN = "17073003385" }, "ssin", ErrInvalid},
		{"punctuated SSIN", func(r *Record) { r.SSIN = "17.07.30-033.84" }, "ssin", ErrInvalid},
		{"huge raw scan", func(r *Record) { r.RawScan = strings.Repeat("x", MaxRawScan+1) }, "rawScan", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRecord()
			tt.edit(&r)
			err := r.Validate()
			var re *RecordError
			if !errors.Is(err, tt.want) || !errors.As(err, &re) || re.Field != tt.field {
				t.Fatalf("Validate = %#v, want %v on %s", err, tt.want, tt.field)
			}
			if strings.Contains(err.Error(), "1707300338") {
				t.Errorf("error quotes the SSIN: %v", err)
			}
		})
	}
	m := validRecord()
	m.InputType, m.ManualReason = InputManual, ReasonNoChip
	if err := m.Validate(); err != nil {
		t.Errorf("manual entry with reason 2: %v", err)
	}
	// The Alice test card's number has valid check digits but month 71:
	// a proof of reading it is still a true record.
	m.SSIN = "71715100070"
	if err := m.Validate(); err != nil {
		t.Errorf("test-card SSIN: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	r := validRecord()
	if w := r.Warnings(); len(w) != 0 {
		t.Errorf("warnings on a complete record: %v", w)
	}
	r.SerialNumber, r.Validity, r.Integrity = "", DocumentExpired, IntegrityFailed
	if w := r.Warnings(); len(w) != 3 || !strings.Contains(w[0], "support type 4") {
		t.Errorf("warnings = %q", w)
	}
	r.SupportType = SupportSticker // TDM3: no serial number for types 7, 8, 9
	if w := r.Warnings(); len(w) != 2 {
		t.Errorf("sticker warnings = %q", w)
	}
	r.Validity = DocumentNotYetValid
	r.Integrity = IntegrityVerified
	if w := r.Warnings(); len(w) != 1 || !strings.Contains(w[0], "not yet valid") {
		t.Errorf("warnings = %q", w)
	}
}

// TestJSONOffsets checks readAt in Brussels local time with the offset of
// the day (CET +01:00 in winter, CEST +02:00 in summer, whatever the
// machine's zone), and the eFact split date and time.
func TestJSONOffsets(t *testing.T) {
	for _, tt := range []struct {
		utc                    string
		readAt, date, hourMins string
	}{
		{"2025-01-15T08:05:09Z", "2025-01-15T09:05:09+01:00", "20250115", "0905"},
		{"2025-07-15T08:05:09Z", "2025-07-15T10:05:09+02:00", "20250715", "1005"},
		{"2025-03-30T00:59:59Z", "2025-03-30T01:59:59+01:00", "20250330", "0159"}, // last second of winter time
		{"2025-03-30T01:00:00Z", "2025-03-30T03:00:00+02:00", "20250330", "0300"},
		{"2024-12-31T23:30:00Z", "2025-01-01T00:30:00+01:00", "20250101", "0030"}, // the Brussels day, not UTC's
	} {
		u, _ := time.Parse(time.RFC3339, tt.utc)
		r := validRecord()
		r.ReadAt = u.In(time.UTC)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		if m["readAt"] != tt.readAt || m["readingDate"] != tt.date || m["readingTime"] != tt.hourMins {
			t.Errorf("%s: got %v %v %v", tt.utc, m["readAt"], m["readingDate"], m["readingTime"])
		}
		var back Record
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !back.ReadAt.Equal(u) || back.ReadAt.Location() != Brussels {
			t.Errorf("round trip: %v", back.ReadAt)
		}
		back.ReadAt, r.ReadAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(back, r) {
			t.Errorf("round trip: %+v != %+v", back, r)
		}
	}
	var r Record
	if err := json.Unmarshal([]byte(`{"readAt":"yesterday"}`), &r); err == nil {
		t.Error("bad readAt accepted")
	}
}

func TestFromReading(t *testing.T) {
	now := at("2025-07-01 14:03:59")
	base := func(docType int) *eidfile.Reading {
		return &eidfile.Reading{
			Card: eidfile.CardInfo{CardNumber: "592000155079", ChipNumber: "534C494E33660012", ValidFrom: "2021-03-01",
				ValidUntil: "2031-03-01", DocumentType: docType, Reader: "Virtual PCD 00 00"},
			Identity: eidfile.Identity{NationalNumber: "67063029659"},
			Integrity: eidfile.Integrity{Identity: eidfile.Valid, Address: eidfile.Valid, Photo: eidfile.Valid,
				RRNChain: eidfile.Trusted, NationalNumber: eidfile.Valid, CardNumber: eidfile.Valid},
		}
	}
	r := FromReading(base(1), InputChip, now.Add(700*time.Millisecond))
	want := Record{
		ReadAt: now, SupportType: SupportEID, InputType: InputChip, SerialNumber: "592000155079", SSIN: "67063029659",
		SSINKind: "NN", DocumentType: 1, ValidFrom: "2021-03-01", ValidUntil: "2031-03-01", Validity: DocumentValid,
		ChipNumber: "534C494E33660012", Reader: "Virtual PCD 00 00", Integrity: IntegrityVerified,
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("FromReading =\n%+v\nwant\n%+v", r, want)
	}
	if err := r.Validate(); err != nil {
		t.Error(err)
	}
	for _, tt := range []struct {
		doc  int
		want SupportType
	}{{1, SupportEID}, {6, SupportEID}, {11, SupportForeignerCard}, {18, SupportForeignerCard},
		{33, SupportForeignerCard}, {61, SupportForeignerCard}, {7, ""}, {8, ""}, {0, ""}} {
		if got := FromReading(base(tt.doc), InputChip, now).SupportType; got != tt.want {
			t.Errorf("document type %d: support %q, want %q", tt.doc, got, tt.want)
		}
	}
	if err := FromReading(base(8), InputChip, now).Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("habilitation card: %v", err)
	}

	rd := base(1)
	rd.Identity.NationalNumber = "71715100070" // Alice test card: check digits valid, month 71
	rd.Integrity.RRNChain = eidfile.Untrusted
	rd.Card.ValidUntil = "2025-06-30"
	r = FromReading(rd, InputChip, now)
	if r.SSINKind != "" || r.Integrity != IntegrityFailed || r.Validity != DocumentExpired {
		t.Errorf("test card: %+v", r)
	}
}

func TestValidityOn(t *testing.T) {
	for _, tt := range []struct {
		now, from, until string
		want             Validity
	}{
		{"2025-07-01 00:00:00", "2025-07-01", "2035-07-01", DocumentValid},
		{"2025-06-30 23:59:59", "2025-07-01", "2035-07-01", DocumentNotYetValid},
		{"2035-07-01 23:59:59", "2025-07-01", "2035-07-01", DocumentValid},
		{"2035-07-02 00:00:00", "2025-07-01", "2035-07-01", DocumentExpired},
		{"2025-07-01 12:00:00", "", "2035-07-01", DocumentValidityUnknown},
		{"2025-07-01 12:00:00", "2025-07-01", "01.07.2035", DocumentValidityUnknown},
	} {
		if got := ValidityOn(at(tt.now), tt.from, tt.until); got != tt.want {
			t.Errorf("ValidityOn(%s, %s, %s) = %s, want %s", tt.now, tt.from, tt.until, got, tt.want)
		}
	}
	// 23:30 UTC on 30 June is already 1 July in Brussels.
	if got := ValidityOn(time.Date(2025, 6, 30, 23, 30, 0, 0, time.UTC), "2025-07-01", "2035-07-01"); got != DocumentValid {
		t.Errorf("Brussels day: %s", got)
	}
}

// TestIntegrityOf: a check not made ("missing": the file was not read) is
// reported by name and makes the verdict partial, never failed; only a
// check that ran and failed, or one the record's own data rests on that
// could not run, fails it.
func TestIntegrityOf(t *testing.T) {
	full := eidfile.Integrity{Identity: eidfile.Valid, Address: eidfile.Valid, Photo: eidfile.Valid,
		RRNChain: eidfile.Trusted, NationalNumber: eidfile.Valid, CardNumber: eidfile.Valid}
	full18 := full
	full18.BasicKey, full18.ChipAuthentication = eidfile.Valid, eidfile.Valid
	// What a read of ["card"] (or ["card","identity"]) leaves: only the
	// identity file, its signature and the RRN certificate are read.
	cardOnly := full
	cardOnly.Address, cardOnly.Photo = eidfile.Missing, eidfile.Missing
	cardOnly18 := cardOnly
	cardOnly18.BasicKey = eidfile.Valid // the basic key is read on every 1.8 reading
	for _, tt := range []struct {
		name       string
		edit       func(*eidfile.Integrity)
		base       eidfile.Integrity
		want       string
		notChecked []string
	}{
		{"everything, applet 1.1/1.7", nil, full, IntegrityVerified, nil},
		{"everything, applet 1.8", nil, full18, IntegrityVerified, nil},
		{"card only, applet 1.7", nil, cardOnly, IntegrityPartial, []string{"address", "photo"}},
		{"card only, applet 1.8", nil, cardOnly18, IntegrityPartial, []string{"address", "photo", "chipAuthentication"}},
		{"1.8 without the chip check", func(i *eidfile.Integrity) { i.ChipAuthentication = "" }, full18, IntegrityPartial, []string{"chipAuthentication"}},
		{"photo invalid", func(i *eidfile.Integrity) { i.Photo = eidfile.Invalid }, full, IntegrityFailed, nil},
		{"untrusted chain, rest not read", func(i *eidfile.Integrity) { i.RRNChain = eidfile.Untrusted }, cardOnly, IntegrityFailed, []string{"address", "photo"}},
		{"chip authentication invalid", func(i *eidfile.Integrity) { i.ChipAuthentication = eidfile.Invalid }, full18, IntegrityFailed, nil},
		{"national number check digits", func(i *eidfile.Integrity) { i.NationalNumber = eidfile.Invalid }, full, IntegrityFailed, nil},
		{"identity signature not read", func(i *eidfile.Integrity) { i.Identity = eidfile.Missing }, full, IntegrityFailed, []string{"identity"}},
		{"no verdicts at all", func(i *eidfile.Integrity) { *i = eidfile.Integrity{} }, full, IntegrityFailed,
			[]string{"identity", "rrnChain", "nationalNumber", "cardNumber"}},
	} {
		in := tt.base
		if tt.edit != nil {
			tt.edit(&in)
		}
		got, nc := IntegrityOf(in)
		if got != tt.want || !reflect.DeepEqual(nc, tt.notChecked) {
			t.Errorf("%s: %s %q, want %s %q", tt.name, got, nc, tt.want, tt.notChecked)
		}
	}
	r := validRecord()
	r.Integrity, r.NotChecked = IntegrityPartial, []string{"address", "photo"}
	if w := r.Warnings(); len(w) != 1 || !strings.Contains(w[0], "not checked: address, photo") {
		t.Errorf("partial warnings = %q", w)
	}
}

// TestOldRecords: records written before callers and notChecked existed
// read back and are written again byte for byte (the journal keeps its
// format), and they have no caller.
func TestOldRecords(t *testing.T) {
	for _, line := range []string{
		`{"id":"0000000000000005","readAt":"2025-03-30T07:00:00+02:00","readingDate":"20250330","readingTime":"0700","supportType":"1","inputType":"1","serialNumber":"592000155079","ssin":"17073003384","ssinKind":"NN","documentType":1,"validFrom":"2021-03-01","validUntil":"2031-03-01","validity":"valid","chipNumber":"534C494E33660012","reader":"Virtual PCD 0 00 00","integrity":"failed"}`,
		`{"id":"0000000000000006","readAt":"2025-03-30T09:00:00+02:00","readingDate":"20250330","readingTime":"0900","supportType":"4","inputType":"2","serialNumber":"591201099997","ssin":"98472899765","ssinKind":"BIS","validity":"unknown","rawScan":"]C085073003328\r"}`,
	} {
		var r Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.Caller != "" || r.NotChecked != nil {
			t.Errorf("old record read as %+v", r)
		}
		b, err := json.Marshal(r)
		if err != nil || string(b) != line {
			t.Errorf("written again as\n%s\nwant\n%s", b, line)
		}
	}
}

// TestSSINGivenTo: a record is its caller's when the caller received its
// SSIN: the whole record (reading-proof, ISI+), or a read of a member
// that holds the national number.
func TestSSINGivenTo(t *testing.T) {
	const a = "https://a.example"
	for _, tt := range []struct {
		caller string
		fields []string
		who    string
		want   bool
	}{
		{a, nil, a, true},
		{a, []string{"card", "identity"}, a, true},
		{a, []string{"bundle"}, a, true},
		{a, []string{"certificates", "photo"}, a, true},
		{a, []string{"card"}, a, false},
		{a, []string{"photo", "photoSha256", "address", "integrity"}, a, false},
		{a, nil, "https://b.example", false},
		{"", nil, a, false},
		{"", nil, "", false},
		{CallerCLI, nil, CallerCLI, true},
	} {
		r := validRecord()
		r.Caller, r.Fields = tt.caller, tt.fields
		if got := r.SSINGivenTo(tt.who); got != tt.want {
			t.Errorf("record of %q with %v, for %q: %v", tt.caller, tt.fields, tt.who, got)
		}
	}
}
