package viewerxml

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eid-agent/eid-agent/card/eidfile"
)

// Unmarshal reads an eID Viewer file (format 4.0 to 4.5, ref §11.2) into a
// Reading. The file holds no signatures, so the Reading's Integrity is left
// empty: nothing in it has been verified. Malformed input gives an error
// matching ErrFormat.
func Unmarshal(b []byte) (*eidfile.Reading, error) {
	root, err := parse(b)
	if err != nil {
		return nil, err
	}
	if root.name != "eid" {
		return nil, formatErr("", "root element is <%s>, not <eid>", root.name)
	}
	identity, err := root.required("identity")
	if err != nil {
		return nil, err
	}
	cardEl, err := root.required("card")
	if err != nil {
		return nil, err
	}
	address, err := root.optional("address")
	if err != nil {
		return nil, err
	}
	certs, err := root.optional("certificates")
	if err != nil {
		return nil, err
	}

	r := &eidfile.Reading{}
	if err := readIdentity(identity, r); err != nil {
		return nil, err
	}
	if err := readCard(cardEl, r); err != nil {
		return nil, err
	}
	if address != nil {
		if r.Address, err = readAddress(address); err != nil {
			return nil, err
		}
	}
	if certs != nil {
		if r.Certificates, err = readCertificates(certs); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func readIdentity(n *node, r *eidfile.Reading) error {
	id := &r.Identity
	var err error
	if id.NationalNumber, err = n.requiredAttr("nationalnumber"); err != nil {
		return err
	}
	if !isDigits(id.NationalNumber, 11) {
		return formatErr(n.attrPath("nationalnumber"), "%q is not 11 digits", id.NationalNumber)
	}
	dob, err := n.requiredAttr("dateofbirth")
	if err != nil {
		return err
	}
	if id.BirthDate, err = birthDateFromXML(dob); err != nil {
		return formatErr(n.attrPath("dateofbirth"), "%v", err)
	}
	if id.Gender, err = n.requiredAttr("gender"); err != nil {
		return err
	}
	if id.Gender != "male" && id.Gender != "female" {
		return formatErr(n.attrPath("gender"), "%q is neither male nor female", id.Gender)
	}
	id.NobleCondition, _ = n.attr("noblecondition")
	if v, ok := n.codedAttr("specialstatus"); ok {
		if id.SpecialStatus, ok = fromXML(specialStatuses, v); !ok {
			return formatErr(n.attrPath("specialstatus"), "unknown special status %q", v)
		}
	}
	if v, ok := n.codedAttr("duplicate"); ok && v != "" {
		if !isDigits(v, 2) {
			return formatErr(n.attrPath("duplicate"), "%q is not two digits", v)
		}
		id.Duplicate = v
	}
	if v, ok := n.codedAttr("memberoffamily"); ok {
		// xsd:boolean: the viewer writes "1", Marshal "true".
		switch v {
		case "true", "1":
			id.MemberOfFamily = true
		case "false", "0":
		default:
			return formatErr(n.attrPath("memberoffamily"), "%q is not a boolean", v)
		}
	}
	if v, ok := n.codedAttr("dateandcountryofprotection"); ok {
		if id.DateAndCountryOfProtection, err = protectionFromXML(v); err != nil {
			return formatErr(n.attrPath("dateandcountryofprotection"), "%v", err)
		}
	}

	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"name", &id.Surname},
		{"firstname", &id.FirstNames},
		{"middlenames", &id.ThirdInitial},
		{"nationality", &id.Nationality},
		{"placeofbirth", &id.BirthPlace},
	} {
		if *f.dst, err = n.leaf(f.name); err != nil {
			return err
		}
	}
	photo, err := n.optional("photo")
	if err != nil {
		return err
	}
	if photo != nil {
		if r.Photo, err = photo.binary(); err != nil {
			return err
		}
		if r.Photo != nil {
			sum := sha256.Sum256(r.Photo)
			r.PhotoSHA256 = hex.EncodeToString(sum[:])
		}
	}
	return nil
}

func readCard(n *node, r *eidfile.Reading) error {
	c, id := &r.Card, &r.Identity
	var err error
	if c.DocumentTypeName, err = n.requiredAttr("documenttype"); err != nil {
		return err
	}
	if c.DocumentTypeName == "" {
		return formatErr(n.attrPath("documenttype"), "empty")
	}
	// An unknown name is kept with code 0: a newer viewer may know document
	// types that ref §6.1 does not list yet.
	c.DocumentType, _ = documentTypeCode(c.DocumentTypeName)
	if c.CardNumber, err = n.requiredAttr("cardnumber"); err != nil {
		return err
	}
	chip, err := n.requiredAttr("chipnumber")
	if err != nil {
		return err
	}
	if b, err := hex.DecodeString(chip); err != nil || len(b) != 16 {
		return formatErr(n.attrPath("chipnumber"), "%q is not 16 bytes of hex", chip)
	}
	c.ChipNumber = strings.ToUpper(chip)
	for _, f := range []struct {
		name string
		dst  *string
	}{{"validitydatebegin", &c.ValidFrom}, {"validitydateend", &c.ValidUntil}} {
		v, err := n.requiredAttr(f.name)
		if err != nil {
			return err
		}
		t, err := time.Parse("20060102", v)
		if err != nil || !isDigits(v, 8) {
			return formatErr(n.attrPath(f.name), "%q is not a YYYYMMDD date", v)
		}
		*f.dst = t.Format("2006-01-02")
	}
	if c.IssuingMunicipality, err = n.leaf("deliverymunicipality"); err != nil {
		return err
	}

	// What the viewer itself writes for tag 15, outside the schema (ref
	// §11.2); the schema's identity attribute wins when both are there.
	pdc, err := n.optional("protection_date_country")
	if err != nil {
		return err
	}
	if pdc != nil && id.DateAndCountryOfProtection == "" {
		v := strings.TrimSpace(pdc.text.String())
		if _, err := protectionXML(v); err != nil {
			return formatErr(pdc.path, "%q is not dd.MM.yyyy-CC", v)
		}
		id.DateAndCountryOfProtection = v
	}

	for _, child := range []struct {
		name string
		read func(*node, *eidfile.Identity) error
	}{{"workpermit", readWorkPermit}, {"brexit", readBrexit}, {"cardA", readCardA}} {
		e, err := n.optional(child.name)
		if err != nil {
			return err
		}
		if e != nil {
			if err := child.read(e, id); err != nil {
				return err
			}
		}
	}
	return nil
}

func readBrexit(n *node, id *eidfile.Identity) error {
	v, err := n.requiredAttr("mention1")
	if err != nil {
		return err
	}
	var ok bool
	if id.BrexitMention1, ok = fromXML(brexitMentions1, v); !ok {
		return formatErr(n.attrPath("mention1"), "unknown Brexit mention %q", v)
	}
	if v, ok := n.codedAttr("mention2"); ok {
		if id.BrexitMention2, ok = fromXML(brexitMentions2, v); !ok {
			return formatErr(n.attrPath("mention2"), "unknown Brexit mention %q", v)
		}
	}
	return nil
}

func readCardA(n *node, id *eidfile.Identity) error {
	if v, ok := n.codedAttr("mentions1"); ok {
		if id.CardAMention1, ok = fromXML(cardAMentions1, v); !ok {
			return formatErr(n.attrPath("mentions1"), "unknown card A mention %q", v)
		}
	}
	if v, ok := n.codedAttr("mentions2"); ok {
		if id.CardAMention2, ok = fromXML(cardAMentions2, v); !ok {
			return formatErr(n.attrPath("mentions2"), "unknown card A mention %q", v)
		}
	}
	return nil
}

func readWorkPermit(n *node, id *eidfile.Identity) error {
	v, err := n.requiredAttr("mention")
	if err != nil {
		return err
	}
	var ok bool
	if id.WorkPermit, ok = fromXML(workPermits, v); !ok {
		return formatErr(n.attrPath("mention"), "unknown work permit %q", v)
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"vat1", &id.EmployerVAT1}, {"vat2", &id.EmployerVAT2}} {
		v, ok := n.codedAttr(f.name)
		if !ok {
			continue
		}
		if !isDigits(v, 10) {
			return formatErr(n.attrPath(f.name), "%q is not a 10-digit VAT number", v)
		}
		// Back to the card's own spelling, xxxx.xxx.xxx (ref §4.2).
		*f.dst = v[:4] + "." + v[4:7] + "." + v[7:]
	}
	id.RegionalFileNumber, _ = n.attr("regionalfile")
	if utf8.RuneCountInString(id.RegionalFileNumber) > 18 {
		return formatErr(n.attrPath("regionalfile"), "longer than 18 characters")
	}
	return nil
}

func readAddress(n *node) (*eidfile.Address, error) {
	a := &eidfile.Address{}
	var err error
	if a.StreetAndNumber, err = n.leaf("streetandnumber"); err != nil {
		return nil, err
	}
	if a.Zip, err = n.leaf("zip"); err != nil {
		return nil, err
	}
	if a.Municipality, err = n.leaf("municipality"); err != nil {
		return nil, err
	}
	return a, nil
}

func readCertificates(n *node) (*eidfile.Certificates, error) {
	c := &eidfile.Certificates{}
	for _, f := range []struct {
		name string
		dst  *[]byte
	}{
		{"root", &c.Root},
		{"citizenca", &c.CA},
		{"authentication", &c.Authentication},
		{"signing", &c.Signing},
		{"rrn", &c.RRN},
	} {
		e, err := n.optional(f.name)
		if err != nil {
			return nil, err
		}
		if e == nil {
			continue
		}
		if *f.dst, err = e.binary(); err != nil {
			return nil, err
		}
	}
	if c.Root == nil && c.CA == nil && c.Authentication == nil && c.Signing == nil && c.RRN == nil {
		return nil, nil
	}
	return c, nil
}

// birthDateFromXML undoes birthDateXML, and also reads the viewer's own
// year-only dates, whose day is garbage (see the package comment).
func birthDateFromXML(s string) (string, error) {
	if !isDigits(s, 8) {
		return "", errors.New("not eight digits")
	}
	year, month, day := s[:4], s[4:6], s[6:]
	switch {
	case month == "00":
		return year, nil
	case day == "00":
		if _, err := time.Parse("200601", year+month); err != nil {
			return "", errors.New("month out of range")
		}
		return year + "-" + month, nil
	}
	t, err := time.Parse("20060102", s)
	if err != nil {
		return "", errors.New("not a date")
	}
	return t.Format("2006-01-02"), nil
}

// protectionFromXML reads the schema's dcpType back into the card's
// dd.MM.yyyy-CC. It takes the date as YYYYMMDD (what Marshal writes) or, when
// that is not a date, as DDMMYYYY; a year in 19xx or 20xx cannot be misread,
// as 19 and 20 are not months.
func protectionFromXML(s string) (string, error) {
	if len(s) != 10 || !isDigits(s[:8], 8) || !isCountry(s[8:]) {
		return "", errors.New("not eight digits and a two-character country")
	}
	t, err := time.Parse("20060102", s[:8])
	if err != nil {
		if t, err = time.Parse("02012006", s[:8]); err != nil {
			return "", errors.New("not a date")
		}
	}
	return t.Format("02.01.2006") + "-" + s[8:], nil
}

// node is one element of the parsed document. The viewer's format has no
// mixed content, so an element's text is all its character data.
type node struct {
	name     string
	path     string // as in FieldError.Path
	attrs    []xml.Attr
	children []*node
	text     strings.Builder
}

// parse reads b into a tree, rejecting what is not well-formed XML with one
// root element.
func parse(b []byte) (*node, error) {
	// A UTF-8 byte order mark, which Windows tools may write, is not
	// something encoding/xml skips.
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	d := xml.NewDecoder(bytes.NewReader(b))
	var root *node
	var stack []*node
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, formatErr("", "not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name.Local}
			seen := make(map[string]bool, len(t.Attr))
			for _, a := range t.Attr {
				key := a.Name.Space + " " + a.Name.Local
				if seen[key] {
					return nil, formatErr("", "attribute %q repeated on <%s>", a.Name.Local, n.name)
				}
				seen[key] = true
				// Only unqualified attributes belong to the format;
				// namespace declarations and the like are skipped.
				if a.Name.Space == "" && a.Name.Local != "xmlns" {
					n.attrs = append(n.attrs, a)
				}
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, formatErr("", "more than one root element")
				}
				root = n
			} else {
				parent := stack[len(stack)-1]
				n.path = n.name
				if parent.path != "" {
					n.path = parent.path + "/" + n.name
				}
				parent.children = append(parent.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, formatErr("", "text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, formatErr("", "no root element")
	}
	return root, nil
}

// optional returns the only child called name, or nil. A repeated element
// is an error: which one the viewer would take is not defined.
func (n *node) optional(name string) (*node, error) {
	var found *node
	for _, c := range n.children {
		if c.name != name {
			continue
		}
		if found != nil {
			return nil, formatErr(c.path, "element repeated")
		}
		found = c
	}
	return found, nil
}

func (n *node) required(name string) (*node, error) {
	c, err := n.optional(name)
	if err == nil && c == nil {
		err = formatErr(n.childPath(name), "missing")
	}
	return c, err
}

// leaf returns the text of the child called name, "" when absent.
func (n *node) leaf(name string) (string, error) {
	c, err := n.optional(name)
	if c == nil || err != nil {
		return "", err
	}
	return c.text.String(), nil
}

// binary decodes the element's base64 text; the schema type allows white
// space anywhere in it, and an empty element gives nil.
func (n *node) binary() ([]byte, error) {
	s := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, n.text.String())
	if s == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, formatErr(n.path, "bad base64: %v", err)
	}
	return b, nil
}

func (n *node) attr(name string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// codedAttr returns an attribute whose value is a code, a number or a date:
// surrounding white space carries no meaning there and is dropped.
func (n *node) codedAttr(name string) (string, bool) {
	v, ok := n.attr(name)
	return strings.TrimSpace(v), ok
}

func (n *node) requiredAttr(name string) (string, error) {
	v, ok := n.codedAttr(name)
	if !ok {
		return "", formatErr(n.attrPath(name), "missing")
	}
	return v, nil
}

func (n *node) childPath(name string) string {
	if n.path == "" {
		return name
	}
	return n.path + "/" + name
}

func (n *node) attrPath(name string) string { return n.childPath("@" + name) }
