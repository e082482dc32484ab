package viewerxml

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eid-agent/eid-agent/card/eidfile"
)

// Version is the value of the <eid version> attribute Marshal writes: the
// newest eidv4.xsd enumerates (see the package comment).
const Version = "4.5"

// base64Line is the line length of base64 content. The viewer writes through
// libxml2's base64 writer, which breaks lines at 72 characters; matching it
// keeps our files diffable against the viewer's.
const base64Line = 72

// Marshal writes r as an eID Viewer file (eidv4.xsd, ref §11.2). Elements and
// attributes follow the schema's order. A Reading the format cannot carry
// gives an error matching ErrUnrepresentable; see the package comment for
// what that covers.
func Marshal(r *eidfile.Reading) ([]byte, error) {
	if r == nil {
		return nil, unrepresentable("", "no reading")
	}
	w := &writer{}
	w.buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w.start("eid", []attr{{"version", Version}})
	for _, part := range []func(*writer, *eidfile.Reading) error{
		writeIdentity, writeCard, writeAddress, writeCertificates,
	} {
		if err := part(w, r); err != nil {
			return nil, err
		}
		if w.err != nil {
			return nil, w.err
		}
	}
	w.end()
	return w.buf.Bytes(), nil
}

func writeIdentity(w *writer, r *eidfile.Reading) error {
	id := &r.Identity
	if !isDigits(id.NationalNumber, 11) {
		return unrepresentable("identity/@nationalnumber", "%q is not 11 digits", id.NationalNumber)
	}
	dob, err := birthDateXML(id.BirthDate)
	if err != nil {
		return err
	}
	if id.Gender != "male" && id.Gender != "female" {
		return unrepresentable("identity/@gender", "%q is neither male nor female", id.Gender)
	}
	attrs := []attr{
		{"nationalnumber", id.NationalNumber},
		{"dateofbirth", dob},
		{"gender", id.Gender},
	}
	attrs = optional(attrs, "noblecondition", id.NobleCondition)
	if id.SpecialStatus != "" {
		v, ok := toXML(specialStatuses, id.SpecialStatus)
		if !ok {
			return unrepresentable("identity/@specialstatus", "unknown special status %q", id.SpecialStatus)
		}
		attrs = append(attrs, attr{"specialstatus", v})
	}
	if id.Duplicate != "" && !isDigits(id.Duplicate, 2) {
		return unrepresentable("identity/@duplicate", "%q is not two digits", id.Duplicate)
	}
	attrs = optional(attrs, "duplicate", id.Duplicate)
	if id.MemberOfFamily {
		attrs = append(attrs, attr{"memberoffamily", "true"})
	}
	if id.DateAndCountryOfProtection != "" {
		v, err := protectionXML(id.DateAndCountryOfProtection)
		if err != nil {
			return err
		}
		attrs = append(attrs, attr{"dateandcountryofprotection", v})
	}
	if len(r.Photo) == 0 {
		return unrepresentable("identity/photo", "the schema requires the photo")
	}

	w.start("identity", attrs)
	w.text("name", id.Surname)
	w.text("firstname", id.FirstNames)
	w.text("middlenames", id.ThirdInitial)
	w.text("nationality", id.Nationality)
	w.text("placeofbirth", id.BirthPlace)
	w.binary("photo", r.Photo)
	w.end()
	return nil
}

func writeCard(w *writer, r *eidfile.Reading) error {
	c, id := &r.Card, &r.Identity
	doctype := c.DocumentTypeName
	if doctype == "" {
		name, ok := documentTypeName(c.DocumentType)
		if !ok {
			return unrepresentable("card/@documenttype", "unknown document type %d", c.DocumentType)
		}
		doctype = name
	} else if _, ok := documentTypeCode(doctype); !ok {
		return unrepresentable("card/@documenttype", "unknown document type %q", doctype)
	}
	if utf8.RuneCountInString(c.CardNumber) > 12 {
		return unrepresentable("card/@cardnumber", "%q is longer than 12 characters", c.CardNumber)
	}
	chip, err := hex.DecodeString(c.ChipNumber)
	if err != nil || len(chip) != 16 {
		return unrepresentable("card/@chipnumber", "%q is not 16 bytes of hex", c.ChipNumber)
	}
	from, err := dateXML("card/@validitydatebegin", c.ValidFrom)
	if err != nil {
		return err
	}
	until, err := dateXML("card/@validitydateend", c.ValidUntil)
	if err != nil {
		return err
	}

	// Build the optional children first so an error leaves nothing half
	// written.
	var workpermit, brexit, cardA []attr
	switch {
	case id.WorkPermit != "":
		v, ok := toXML(workPermits, id.WorkPermit)
		if !ok {
			return unrepresentable("card/workpermit/@mention", "unknown work permit %q", id.WorkPermit)
		}
		workpermit = []attr{{"mention", v}}
		for _, f := range []struct{ name, value string }{{"vat1", id.EmployerVAT1}, {"vat2", id.EmployerVAT2}} {
			if f.value == "" {
				continue
			}
			vat, ok := vatXML(f.value)
			if !ok {
				return unrepresentable("card/workpermit/@"+f.name, "%q is not a 10-digit VAT number", f.value)
			}
			workpermit = append(workpermit, attr{f.name, vat})
		}
		if utf8.RuneCountInString(id.RegionalFileNumber) > 18 {
			return unrepresentable("card/workpermit/@regionalfile", "%q is longer than 18 characters", id.RegionalFileNumber)
		}
		workpermit = optional(workpermit, "regionalfile", id.RegionalFileNumber)
	case id.EmployerVAT1 != "" || id.EmployerVAT2 != "" || id.RegionalFileNumber != "":
		// The schema hangs these on <workpermit>, whose mention is required.
		return unrepresentable("card/workpermit/@mention", "employer or regional file number without a work permit mention")
	}
	switch {
	case id.BrexitMention1 != "":
		v, ok := toXML(brexitMentions1, id.BrexitMention1)
		if !ok {
			return unrepresentable("card/brexit/@mention1", "unknown Brexit mention %q", id.BrexitMention1)
		}
		brexit = []attr{{"mention1", v}}
		if id.BrexitMention2 != "" {
			v, ok := toXML(brexitMentions2, id.BrexitMention2)
			if !ok {
				return unrepresentable("card/brexit/@mention2", "unknown Brexit mention %q", id.BrexitMention2)
			}
			brexit = append(brexit, attr{"mention2", v})
		}
	case id.BrexitMention2 != "":
		return unrepresentable("card/brexit/@mention1", "second Brexit mention without the first")
	}
	if id.CardAMention1 != "" {
		v, ok := toXML(cardAMentions1, id.CardAMention1)
		if !ok {
			return unrepresentable("card/cardA/@mentions1", "unknown card A mention %q", id.CardAMention1)
		}
		cardA = append(cardA, attr{"mentions1", v})
	}
	if id.CardAMention2 != "" {
		v, ok := toXML(cardAMentions2, id.CardAMention2)
		if !ok {
			return unrepresentable("card/cardA/@mentions2", "unknown card A mention %q", id.CardAMention2)
		}
		cardA = append(cardA, attr{"mentions2", v})
	}

	w.start("card", []attr{
		{"documenttype", doctype},
		{"cardnumber", c.CardNumber},
		{"chipnumber", strings.ToUpper(c.ChipNumber)},
		{"validitydatebegin", from},
		{"validitydateend", until},
	})
	w.text("deliverymunicipality", c.IssuingMunicipality)
	if len(workpermit) > 0 {
		w.empty("workpermit", workpermit)
	}
	if len(brexit) > 0 {
		w.empty("brexit", brexit)
	}
	if len(cardA) > 0 {
		w.empty("cardA", cardA)
	}
	w.end()
	return nil
}

func writeAddress(w *writer, r *eidfile.Reading) error {
	a := r.Address
	if a == nil {
		return unrepresentable("address", "the schema requires the address")
	}
	w.start("address", nil)
	w.text("streetandnumber", a.StreetAndNumber)
	w.text("zip", a.Zip)
	w.text("municipality", a.Municipality)
	w.end()
	return nil
}

func writeCertificates(w *writer, r *eidfile.Reading) error {
	c := r.Certificates
	if c == nil {
		return unrepresentable("certificates", "the schema requires the root, CA and RRN certificates")
	}
	for _, req := range []struct {
		name string
		der  []byte
	}{{"root", c.Root}, {"citizenca", c.CA}, {"rrn", c.RRN}} {
		if len(req.der) == 0 {
			return unrepresentable("certificates/"+req.name, "the schema requires this certificate")
		}
	}
	w.start("certificates", nil)
	w.binary("root", c.Root)
	w.binary("citizenca", c.CA)
	if len(c.Authentication) > 0 {
		w.binary("authentication", c.Authentication)
	}
	if len(c.Signing) > 0 {
		w.binary("signing", c.Signing)
	}
	w.binary("rrn", c.RRN)
	w.end()
	return nil
}

// birthDateXML turns the Reading's birth date (YYYY-MM-DD, YYYY-MM or YYYY,
// ref §4.4) into the schema's eight digits, with 00 for an unknown month or
// day (see the package comment).
func birthDateXML(s string) (string, error) {
	const path = "identity/@dateofbirth"
	var layout, suffix string
	switch len(s) {
	case len("2006-01-02"):
		layout = "2006-01-02"
	case len("2006-01"):
		layout, suffix = "2006-01", "00"
	case len("2006"):
		layout, suffix = "2006", "0000"
	default:
		return "", unrepresentable(path, "%q is not YYYY-MM-DD, YYYY-MM or YYYY", s)
	}
	if _, err := time.Parse(layout, s); err != nil {
		return "", unrepresentable(path, "%q is not a date", s)
	}
	return strings.ReplaceAll(s, "-", "") + suffix, nil
}

func dateXML(path, s string) (string, error) {
	if _, err := time.Parse("2006-01-02", s); err != nil {
		return "", unrepresentable(path, "%q is not a YYYY-MM-DD date", s)
	}
	return strings.ReplaceAll(s, "-", ""), nil
}

// protectionXML turns the card's "dd.MM.yyyy-CC" (ref §4.2, tag 15) into the
// schema's dcpType, date first as YYYYMMDD.
func protectionXML(s string) (string, error) {
	const path = "identity/@dateandcountryofprotection"
	date, country, ok := strings.Cut(s, "-")
	if !ok || !isCountry(country) {
		return "", unrepresentable(path, "%q is not dd.MM.yyyy-CC", s)
	}
	t, err := time.Parse("02.01.2006", date)
	if err != nil {
		return "", unrepresentable(path, "%q is not dd.MM.yyyy-CC", s)
	}
	return t.Format("20060102") + country, nil
}

// vatXML turns the card's "xxxx.xxx.xxx" employer number (ref §4.2, tags 17
// and 18) into the schema's ten digits.
func vatXML(s string) (string, bool) {
	digits := strings.ReplaceAll(s, ".", "")
	return digits, isDigits(digits, 10)
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isCountry(s string) bool {
	if len(s) != 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

type attr struct{ name, value string }

// optional appends an attribute only when it has a value: the viewer omits
// empty optional attributes, and so do we.
func optional(attrs []attr, name, value string) []attr {
	if value == "" {
		return attrs
	}
	return append(attrs, attr{name, value})
}

// writer emits the document with two-space indentation. Written by hand
// rather than with encoding/xml so that element order, attribute order and
// the escaping of line breaks are under our control. The first text that
// XML cannot hold is kept in err, with its path.
type writer struct {
	buf   bytes.Buffer
	stack []string
	err   error
}

func (w *writer) indent() {
	w.buf.WriteString(strings.Repeat("  ", len(w.stack)))
}

func (w *writer) open(name string, attrs []attr) {
	w.indent()
	w.buf.WriteByte('<')
	w.buf.WriteString(name)
	for _, a := range attrs {
		w.check(name+"/@"+a.name, a.value)
		w.buf.WriteByte(' ')
		w.buf.WriteString(a.name)
		w.buf.WriteString(`="`)
		escape(&w.buf, a.value, true)
		w.buf.WriteByte('"')
	}
}

func (w *writer) start(name string, attrs []attr) {
	w.open(name, attrs)
	w.buf.WriteString(">\n")
	w.stack = append(w.stack, name)
}

func (w *writer) end() {
	name := w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
	w.indent()
	w.buf.WriteString("</" + name + ">\n")
}

func (w *writer) empty(name string, attrs []attr) {
	w.open(name, attrs)
	w.buf.WriteString("/>\n")
}

func (w *writer) text(name, value string) {
	w.check(name, value)
	w.open(name, nil)
	w.buf.WriteByte('>')
	escape(&w.buf, value, false)
	w.buf.WriteString("</" + name + ">\n")
}

func (w *writer) binary(name string, data []byte) {
	w.open(name, nil)
	w.buf.WriteByte('>')
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > base64Line {
		w.buf.WriteString(enc[:base64Line])
		w.buf.WriteByte('\n')
		enc = enc[base64Line:]
	}
	w.buf.WriteString(enc)
	w.buf.WriteString("</" + name + ">\n")
}

// check records the first value XML 1.0 cannot carry: invalid UTF-8 or a
// control character other than tab, line feed and carriage return.
func (w *writer) check(name, value string) {
	if w.err != nil {
		return
	}
	for i, r := range value {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(value[i:]); size == 1 {
				w.err = unrepresentable(w.path(name), "invalid UTF-8 at byte %d", i)
				return
			}
		}
		if !isXMLChar(r) {
			w.err = unrepresentable(w.path(name), "character %U at byte %d is not allowed in XML", r, i)
			return
		}
	}
}

// path names a node the way FieldError does: without the <eid> root.
func (w *writer) path(name string) string {
	if len(w.stack) < 2 {
		return name
	}
	return strings.Join(w.stack[1:], "/") + "/" + name
}

func isXMLChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		0x20 <= r && r <= 0xD7FF ||
		0xE000 <= r && r <= 0xFFFD ||
		0x10000 <= r && r <= 0x10FFFF
}

// escape writes s as character data or, with attr, as an attribute value.
// Line breaks and tabs in attributes become references because a parser
// would otherwise normalise them to spaces; a carriage return in text too,
// because parsers fold CR LF into LF.
func escape(b *bytes.Buffer, s string, attr bool) {
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '\r':
			b.WriteString("&#xD;")
		case attr && r == '"':
			b.WriteString("&quot;")
		case attr && r == '\n':
			b.WriteString("&#xA;")
		case attr && r == '\t':
			b.WriteString("&#x9;")
		default:
			b.WriteRune(r)
		}
	}
}
