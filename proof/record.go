package proof

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Brussels must resolve on machines without zoneinfo

	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/ssin"
)

// Brussels is the time zone of every reading time: billing files carry the
// local date (YYYYMMDD) and time (HHmm) of the reading (ISI+ §3.3), and the
// RFC 3339 form keeps the offset so the instant is never ambiguous.
var Brussels = mustZone("Europe/Brussels")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		// Cannot happen: time/tzdata embeds the database.
		panic(err)
	}
	return loc
}

// Validity of the document on the day of the reading.
type Validity string

const (
	DocumentValid       Validity = "valid"
	DocumentExpired     Validity = "expired"
	DocumentNotYetValid Validity = "not_yet_valid"
	// DocumentValidityUnknown: the dates were not read, as for an ISI+
	// scan, whose payload format is not public (ISI+ §1.3).
	DocumentValidityUnknown Validity = "unknown"
)

// Record is the proof of one identity reading: what billing and eHealth
// need besides the identity itself (ISI+ §0 point 4 and §3.4). Its JSON
// form is one line of the journal and the reading-proof of the bridge.
type Record struct {
	// ID is unique per record (16 hex digits), given by Journal.Append
	// when empty, so an export can be imported twice without doubles.
	ID string
	// ReadAt is the moment of the reading, whole seconds.
	ReadAt       time.Time
	SupportType  SupportType
	InputType    InputType
	ManualReason ManualReason // only with InputManual
	// SerialNumber is the support's number: the eID card number or the
	// ISI+ card number.
	SerialNumber string
	SSIN         string // 11 digits
	SSINKind     string // "NN" or "BIS"; empty when the number is not a valid SSIN (test cards)
	// DocumentType is the eID document type (identity tag 0F), 0 for other
	// supports.
	DocumentType int
	ValidFrom    string // YYYY-MM-DD, when known
	ValidUntil   string // YYYY-MM-DD, when known
	Validity     Validity
	ChipNumber   string // eID chip serial (hex)
	Reader       string // PC/SC reader or scanner device
	// Integrity is the verdict on an eID reading's data (IntegrityVerified,
	// IntegrityPartial or IntegrityFailed); empty for supports that carry
	// nothing to verify.
	Integrity string
	// NotChecked names the checks an eID reading did not make, with
	// IntegrityPartial (and with IntegrityFailed when some were also
	// skipped): the Integrity members of the Reading JSON, such as
	// "address", "photo", "chipAuthentication".
	NotChecked []string
	// RawScan is the scanned string as received, kept because the ISI+
	// payload format is not public (ISI+ §3.4): it can be re-read later.
	RawScan string
	// Caller is who had the reading made: a web origin, "app:NAME" for a
	// desktop application, or CallerCLI. Empty in records written before
	// callers were recorded. proofs.list shows a caller only its own
	// records (see SSINGivenTo).
	Caller string
	// Fields are the Reading members the caller received from an eID
	// reading through the agent (a plain read of "card" gives no SSIN);
	// empty when the caller received the whole record (reading-proof
	// lists its fields; ISI+ entries and the CLI have none).
	Fields []string
}

// SSINFields are the Reading members that hold the national number: the
// identity, the raw identity file of the bundle, and the certificates
// (their subject's serial number).
var SSINFields = []string{"identity", "bundle", "certificates"}

// SSINGivenTo reports whether caller made this reading and received its
// SSIN with it: a reading-proof or an ISI+ entry, or a read of a member
// holding the national number. A read of the card alone, journaled like
// every reading, is not listed to its caller, which never had the SSIN:
// granting it the identity later does not open the readings before.
func (r Record) SSINGivenTo(caller string) bool {
	if caller == "" || r.Caller != caller {
		return false
	}
	if len(r.Fields) == 0 {
		return true
	}
	for _, f := range r.Fields {
		if slices.Contains(SSINFields, f) {
			return true
		}
	}
	return false
}

// CallerCLI is the Caller of the records the eid-agent commands write.
const CallerCLI = "cli"

// Integrity values.
const (
	// IntegrityVerified: every check the card allows passed: the
	// National Register's signatures over identity, address and photo, the
	// RRN chain, the check digits, and on applet 1.8 the basic key and the
	// chip authentication.
	IntegrityVerified = "verified"
	// IntegrityPartial: every check made passed, but the reading skipped
	// some (NotChecked), because the caller did not ask for those files:
	// a reading of the card and identity alone does not read the address
	// or the photo. The identity signature, the RRN chain and the check
	// digits, which vouch for what the record holds, were checked.
	IntegrityPartial = "partial"
	// IntegrityFailed: a check failed, or one the record's own data rests
	// on (identity signature, RRN chain, check digits) could not be made.
	IntegrityFailed = "failed"
)

// recordJSON fixes the field names and order of the JSON form.
type recordJSON struct {
	ID           string       `json:"id"`
	ReadAt       string       `json:"readAt"`      // RFC 3339, Brussels offset
	ReadingDate  string       `json:"readingDate"` // YYYYMMDD, Brussels (eFact)
	ReadingTime  string       `json:"readingTime"` // HHmm, Brussels (eFact)
	SupportType  SupportType  `json:"supportType"`
	InputType    InputType    `json:"inputType"`
	ManualReason ManualReason `json:"manualReason,omitempty"`
	SerialNumber string       `json:"serialNumber,omitempty"`
	SSIN         string       `json:"ssin"`
	SSINKind     string       `json:"ssinKind,omitempty"`
	DocumentType int          `json:"documentType,omitempty"`
	ValidFrom    string       `json:"validFrom,omitempty"`
	ValidUntil   string       `json:"validUntil,omitempty"`
	Validity     Validity     `json:"validity"`
	ChipNumber   string       `json:"chipNumber,omitempty"`
	Reader       string       `json:"reader,omitempty"`
	Integrity    string       `json:"integrity,omitempty"`
	NotChecked   []string     `json:"notChecked,omitempty"`
	RawScan      string       `json:"rawScan,omitempty"`
	Caller       string       `json:"caller,omitempty"`
	Fields       []string     `json:"fields,omitempty"`
}

// MarshalJSON writes readAt in Europe/Brussels with its offset, and the
// eFact split date and time beside it.
func (r Record) MarshalJSON() ([]byte, error) {
	t := r.ReadAt.In(Brussels)
	return json.Marshal(recordJSON{
		ID: r.ID, ReadAt: t.Format(time.RFC3339), ReadingDate: t.Format("20060102"), ReadingTime: t.Format("1504"),
		SupportType: r.SupportType, InputType: r.InputType, ManualReason: r.ManualReason,
		SerialNumber: r.SerialNumber, SSIN: r.SSIN, SSINKind: r.SSINKind, DocumentType: r.DocumentType,
		ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil, Validity: r.Validity, ChipNumber: r.ChipNumber,
		Reader: r.Reader, Integrity: r.Integrity, NotChecked: r.NotChecked, RawScan: r.RawScan, Caller: r.Caller,
		Fields: r.Fields,
	})
}

// UnmarshalJSON reads the form MarshalJSON writes. readingDate and
// readingTime are derived from readAt and ignored.
func (r *Record) UnmarshalJSON(b []byte) error {
	var j recordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, j.ReadAt)
	if err != nil {
		return fmt.Errorf("readAt: %w", err)
	}
	*r = Record{
		ID: j.ID, ReadAt: t.In(Brussels), SupportType: j.SupportType, InputType: j.InputType,
		ManualReason: j.ManualReason, SerialNumber: j.SerialNumber, SSIN: j.SSIN, SSINKind: j.SSINKind,
		DocumentType: j.DocumentType, ValidFrom: j.ValidFrom, ValidUntil: j.ValidUntil, Validity: j.Validity,
		ChipNumber: j.ChipNumber, Reader: j.Reader, Integrity: j.Integrity, NotChecked: j.NotChecked, RawScan: j.RawScan,
		Caller: j.Caller, Fields: j.Fields,
	}
	return nil
}

// Validate checks what every record must satisfy to be journaled. The
// error is a *RecordError wrapping ErrInvalid or ErrManualReason.
func (r Record) Validate() error {
	bad := func(field string, sentinel error, format string, args ...any) error {
		return &RecordError{Field: field, Reason: fmt.Sprintf(format, args...), Err: sentinel}
	}
	switch {
	case r.ReadAt.IsZero():
		return bad("readAt", ErrInvalid, "readAt is missing")
	case !r.SupportType.Valid():
		return bad("supportType", ErrInvalid, "supportType %q is not a current support code (1, 2, 4, 7, 8, 9, A)", r.SupportType)
	case !r.InputType.Valid():
		return bad("inputType", ErrInvalid, "inputType %q is not an input code (1, 2, 3, 4, A)", r.InputType)
	case r.InputType == InputManual && r.ManualReason == "":
		return bad("manualReason", ErrManualReason, "manualReason is required for a manual entry (ISI+ §3.3)")
	case r.InputType == InputManual:
		if _, err := ParseManualReason(string(r.ManualReason)); err != nil {
			return &RecordError{Field: "manualReason", Reason: err.Error(), Err: ErrManualReason}
		}
	case r.ManualReason != "":
		return bad("manualReason", ErrManualReason, "manualReason %q given for input type %s; it only justifies a manual entry", r.ManualReason, r.InputType)
	}
	if err := ssin.Check(r.SSIN); err != nil || len(r.SSIN) != 11 {
		return bad("ssin", ErrInvalid, "ssin is not 11 digits with valid check digits")
	}
	if len(r.RawScan) > MaxRawScan {
		return bad("rawScan", ErrInvalid, "rawScan is longer than %d bytes", MaxRawScan)
	}
	return nil
}

// MaxRawScan bounds the raw scan kept in a record; a DataMatrix holds at
// most 1 556 bytes, so this is room for any symbol.
const MaxRawScan = 4096

// Warnings lists what INAMI billing will refuse though the record is a
// true account of the reading: the agent journals it anyway, and the
// caller shows the warning to the operator.
func (r Record) Warnings() []string {
	var w []string
	if r.SerialNumber == "" && r.SupportType.serialRequired() {
		w = append(w, fmt.Sprintf("no support serial number: billing requires it for support type %s (%s), manual entry included (ISI+ §3.3)", r.SupportType, r.SupportType.Name()))
	}
	switch r.Validity {
	case DocumentExpired:
		w = append(w, "the document had expired on the day of the reading")
	case DocumentNotYetValid:
		w = append(w, "the document was not yet valid on the day of the reading")
	}
	switch r.Integrity {
	case IntegrityFailed:
		w = append(w, "the card's data failed an integrity check")
	case IntegrityPartial:
		w = append(w, "integrity only partly checked (not checked: "+strings.Join(r.NotChecked, ", ")+")")
	}
	return w
}

// FromReading builds the proof of an eID reading at now. input is
// normally InputChip; a caller that typed the eID's data sets InputManual
// and then ManualReason on the result.
func FromReading(r *eidfile.Reading, input InputType, now time.Time) Record {
	rec := Record{
		ReadAt:       now.Truncate(time.Second).In(Brussels),
		SupportType:  supportForDocument(r.Card.DocumentType),
		InputType:    input,
		SerialNumber: r.Card.CardNumber,
		SSIN:         r.Identity.NationalNumber,
		DocumentType: r.Card.DocumentType,
		ValidFrom:    r.Card.ValidFrom,
		ValidUntil:   r.Card.ValidUntil,
		ChipNumber:   r.Card.ChipNumber,
		Reader:       r.Card.Reader,
	}
	if n, err := ssin.Parse(r.Identity.NationalNumber); err == nil {
		rec.SSINKind = n.Kind.String()
	}
	rec.Validity = ValidityOn(now, r.Card.ValidFrom, r.Card.ValidUntil)
	rec.Integrity, rec.NotChecked = IntegrityOf(r.Integrity)
	return rec
}

// IntegrityOf sums up the verdicts of an eID reading for its proof: the
// Integrity value and the checks not made (by their names in the Reading
// JSON's integrity member).
//
// A verdict of "missing" is a check not made, because the file was not
// read (a caller that asked for the card and identity alone), not a
// failure: only "invalid" and "untrusted" fail. The checks the record's
// own data rests on — the identity signature (it covers the national
// number, the card number, the dates and the chip number), the RRN chain
// and the check digits — fail the proof when they could not be made. On a
// card with a basic key (applet 1.8), a chip authentication not run is a
// check not made.
func IntegrityOf(in eidfile.Integrity) (string, []string) {
	failed := false
	var notChecked []string
	for _, c := range []struct {
		name, verdict, pass string
		core                bool
	}{
		{"identity", in.Identity, eidfile.Valid, true},
		{"address", in.Address, eidfile.Valid, false},
		{"photo", in.Photo, eidfile.Valid, false},
		{"basicKey", in.BasicKey, eidfile.Valid, false},
		{"chipAuthentication", in.ChipAuthentication, eidfile.Valid, false},
		{"rrnChain", in.RRNChain, eidfile.Trusted, true},
		{"nationalNumber", in.NationalNumber, eidfile.Valid, true},
		{"cardNumber", in.CardNumber, eidfile.Valid, true},
	} {
		switch {
		case c.verdict == c.pass:
		case c.verdict == "" && c.name == "chipAuthentication" && in.BasicKey != "":
			// A 1.8 card can prove its chip; this reading did not ask it.
			notChecked = append(notChecked, c.name)
		case c.verdict == "" && !c.core:
			// Not applicable to this card (no basic key before applet 1.8).
		case c.verdict == "" || c.verdict == eidfile.Missing:
			if c.core {
				failed = true
			}
			notChecked = append(notChecked, c.name)
		default:
			failed = true
		}
	}
	switch {
	case failed:
		return IntegrityFailed, notChecked
	case len(notChecked) > 0:
		return IntegrityPartial, notChecked
	}
	return IntegrityVerified, nil
}

// ValidityOn compares the Brussels date of now with the document's dates
// (YYYY-MM-DD, both days included). Missing or unreadable dates give
// DocumentValidityUnknown.
func ValidityOn(now time.Time, from, until string) Validity {
	f, err1 := time.Parse(time.DateOnly, from)
	u, err2 := time.Parse(time.DateOnly, until)
	if err1 != nil || err2 != nil {
		return DocumentValidityUnknown
	}
	today := now.In(Brussels).Format(time.DateOnly)
	switch {
	case today < f.Format(time.DateOnly):
		return DocumentNotYetValid
	case today > u.Format(time.DateOnly):
		return DocumentExpired
	}
	return DocumentValid
}

// NewID returns a random record identifier.
func NewID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}
