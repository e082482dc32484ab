package viewerxml

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"image/jpeg"
	"reflect"
	"strings"
	"testing"

	"github.com/eid-agent/eid-agent/card/eidfile"
)

// TestUnmarshalExports checks every field of the two public viewer exports
// against what the files contain (ref §11.1).
func TestUnmarshalExports(t *testing.T) {
	wantCard := eidfile.CardInfo{
		CardNumber:          "592000155079",
		ChipNumber:          "534C4250030701048584287C40821312",
		ValidFrom:           "2012-03-01",
		ValidUntil:          "2017-03-01",
		IssuingMunicipality: "Leuven",
		DocumentType:        1,
		DocumentTypeName:    "belgian_citizen",
	}
	wantIdentity := eidfile.Identity{
		NationalNumber: "67063029659",
		Surname:        "Lampaert",
		FirstNames:     "Martine Hilde",
		ThirdInitial:   "",
		Nationality:    "Belg",
		BirthPlace:     "Izegem",
		BirthDate:      "1967-06-30",
		Gender:         "female",
		SpecialStatus:  "none",
	}
	wantAddress := eidfile.Address{
		StreetAndNumber: "Sint-Jansbergsesteenweg 197",
		Zip:             "3001",
		Municipality:    "Leuven",
	}
	// The .60 file is the same card with another gender and first names;
	// eid-mw's gender test uses it.
	male := wantIdentity
	male.Gender, male.FirstNames = "male", "Martin Hugo"

	for _, tc := range []struct {
		file     string
		identity eidfile.Identity
	}{
		{exports[0], wantIdentity},
		{exports[1], male},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r, err := Unmarshal(readExport(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if r.Card != wantCard {
				t.Errorf("card:\n got %+v\nwant %+v", r.Card, wantCard)
			}
			if r.Identity != tc.identity {
				t.Errorf("identity:\n got %+v\nwant %+v", r.Identity, tc.identity)
			}
			if r.Address == nil || *r.Address != wantAddress {
				t.Errorf("address: got %+v, want %+v", r.Address, wantAddress)
			}
			if r.Integrity != (eidfile.Integrity{}) {
				t.Errorf("integrity: got %+v, want empty (the file holds no signatures)", r.Integrity)
			}

			img, err := jpeg.Decode(bytes.NewReader(r.Photo))
			if err != nil {
				t.Fatalf("photo: %v", err)
			}
			if b := img.Bounds(); b.Dx() != 140 || b.Dy() != 200 {
				t.Errorf("photo is %dx%d, want 140x200", b.Dx(), b.Dy())
			}
			sum := sha256.Sum256(r.Photo)
			if r.PhotoSHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("photoSha256 = %s, want the photo's SHA-256", r.PhotoSHA256)
			}

			checkExportCertificates(t, r.Certificates)
		})
	}
}

func checkExportCertificates(t *testing.T, c *eidfile.Certificates) {
	t.Helper()
	if c == nil {
		t.Fatal("no certificates")
	}
	parse := func(name string, der []byte) *x509.Certificate {
		t.Helper()
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("%s certificate: %v", name, err)
		}
		return cert
	}
	root := parse("root", c.Root)
	ca := parse("CA", c.CA)
	auth := parse("authentication", c.Authentication)
	sign := parse("signing", c.Signing)
	rrn := parse("RRN", c.RRN)
	for _, tc := range []struct {
		cert   *x509.Certificate
		cn     string
		issuer *x509.Certificate
	}{
		{root, "Belgium Root CT3", root},
		{ca, "Citizen CT", root},
		{auth, "Martine Lampaert (Authentication)", ca},
		{sign, "Martine Lampaert (Signature)", ca},
		{rrn, "RRN", root},
	} {
		if tc.cert.Subject.CommonName != tc.cn {
			t.Errorf("certificate CN %q, want %q", tc.cert.Subject.CommonName, tc.cn)
		}
		if err := tc.cert.CheckSignatureFrom(tc.issuer); err != nil {
			t.Errorf("%s: not signed by %s: %v", tc.cn, tc.issuer.Subject.CommonName, err)
		}
	}
	for _, cert := range []*x509.Certificate{auth, sign} {
		if cert.Subject.SerialNumber != "67063029659" {
			t.Errorf("%s: subject serial %q, want the national number", cert.Subject.CommonName, cert.Subject.SerialNumber)
		}
	}
}

// TestRoundTripExports: what Marshal writes from a parsed export says the
// same as the export, element by element.
func TestRoundTripExports(t *testing.T) {
	for _, name := range exports {
		t.Run(name, func(t *testing.T) {
			orig := readExport(t, name)
			r, err := Unmarshal(orig)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			a, b := parseXMLTree(t, orig), parseXMLTree(t, out)
			// The exports are format 4.0, which has no version attribute;
			// Marshal always declares its version.
			if v := b.attrs["version"]; v != Version {
				t.Errorf("version = %q, want %q", v, Version)
			}
			delete(b.attrs, "version")
			for _, d := range diffXMLTree(a, b) {
				t.Error(d)
			}
		})
	}
}

// TestRoundTripSynthetic: a Reading with every field the format carries
// comes back unchanged.
func TestRoundTripSynthetic(t *testing.T) {
	for _, tc := range append(syntheticReadings, struct {
		name    string
		reading func() *eidfile.Reading
	}{"kids-foreigner", kidsForeignerReading}) {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.reading()
			out, err := Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Unmarshal(out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestMarshalDropsWhatTheFormatLacks: fields without a place in eidv4.xsd
// are dropped, not smuggled into the file.
func TestMarshalDropsWhatTheFormatLacks(t *testing.T) {
	r := foreignerReading()
	r.Identity.PhotoHash = "00ff"
	r.Identity.SpecialOrganisation = "nato"
	r.Identity.BasicKeyHash = "abcd"
	r.Identity.EUStartDate = "2020-01-01"
	r.Card.AppletVersion = "1.8"
	r.Card.ATR = "3B98"
	r.Card.PKI = "ec"
	r.Integrity.Identity = eidfile.Valid
	out, err := Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := foreignerReading(); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestMarshalKeepsSchemaOrder(t *testing.T) {
	out, err := Marshal(foreignerReading())
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	order := []string{
		`<eid version=`,
		`<identity nationalnumber=`, ` dateofbirth=`, ` gender=`, ` noblecondition=`, ` specialstatus=`,
		` duplicate=`, ` memberoffamily=`, ` dateandcountryofprotection=`,
		`<name>`, `<firstname>`, `<middlenames>`, `<nationality>`, `<placeofbirth>`, `<photo>`,
		`<card documenttype=`, ` cardnumber=`, ` chipnumber=`, ` validitydatebegin=`, ` validitydateend=`,
		`<deliverymunicipality>`, `<workpermit mention=`, ` vat1=`, ` vat2=`, ` regionalfile=`,
		`<cardA mentions1=`, ` mentions2=`,
		`<address>`, `<streetandnumber>`, `<zip>`, `<municipality>`,
		`<certificates>`, `<root>`, `<citizenca>`, `<authentication>`, `<signing>`, `<rrn>`,
	}
	at := 0
	for _, s1 := range order {
		i := strings.Index(s[at:], s1)
		if i < 0 {
			t.Fatalf("%q missing or out of order", s1)
		}
		at += i + len(s1)
	}
}

func TestBirthDates(t *testing.T) {
	for _, tc := range []struct{ reading, xml string }{
		{"1967-06-30", "19670630"},
		{"1985-03", "19850300"},
		{"1979", "19790000"},
		{"2000-02-29", "20000229"},
	} {
		got, err := birthDateXML(tc.reading)
		if err != nil || got != tc.xml {
			t.Errorf("birthDateXML(%q) = %q, %v; want %q", tc.reading, got, err, tc.xml)
		}
		back, err := birthDateFromXML(tc.xml)
		if err != nil || back != tc.reading {
			t.Errorf("birthDateFromXML(%q) = %q, %v; want %q", tc.xml, back, err, tc.reading)
		}
	}
	// The viewer writes a year-only card date as the year, 00, and the
	// first two digits of the year.
	if got, err := birthDateFromXML("19790019"); err != nil || got != "1979" {
		t.Errorf("viewer's year-only date: got %q, %v; want 1979", got, err)
	}
	for _, bad := range []string{"", "1979", "197900001", "19791300", "19790230", "1979-6-3", "abcdefgh"} {
		if got, err := birthDateFromXML(bad); err == nil {
			t.Errorf("birthDateFromXML(%q) = %q, want an error", bad, got)
		}
	}
	for _, bad := range []string{"", "30.06.1967", "1967-13", "1967-02-30", "67", "1967-6-3"} {
		if got, err := birthDateXML(bad); !errors.Is(err, ErrUnrepresentable) {
			t.Errorf("birthDateXML(%q) = %q, %v; want ErrUnrepresentable", bad, got, err)
		}
	}
}

func TestDateAndCountryOfProtection(t *testing.T) {
	got, err := protectionXML("13.08.2014-IT")
	if err != nil || got != "20140813IT" {
		t.Errorf("protectionXML = %q, %v; want 20140813IT", got, err)
	}
	for _, in := range []string{"20140813IT", "13082014IT"} {
		if got, err := protectionFromXML(in); err != nil || got != "13.08.2014-IT" {
			t.Errorf("protectionFromXML(%q) = %q, %v; want 13.08.2014-IT", in, got, err)
		}
	}
	// What the viewer itself writes: the card's string in a <card> child
	// the schema lacks (ref §11.2).
	doc := strings.Replace(string(readExport(t, exports[0])),
		"</deliverymunicipality>", "</deliverymunicipality><protection_date_country>13.08.2014-IT</protection_date_country>", 1)
	r, err := Unmarshal([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if r.Identity.DateAndCountryOfProtection != "13.08.2014-IT" {
		t.Errorf("from <protection_date_country>: got %q", r.Identity.DateAndCountryOfProtection)
	}
}

// TestUnmarshalViewerVariants: forms the viewer writes that Marshal does not.
func TestUnmarshalViewerVariants(t *testing.T) {
	base := string(readExport(t, exports[0]))
	for _, tc := range []struct {
		name, old, new string
		check          func(*eidfile.Reading) bool
	}{
		{"byte order mark", `<?xml`, "\uFEFF<?xml", func(r *eidfile.Reading) bool { return r.Identity.Surname == "Lampaert" }},
		{"memberoffamily 1", `specialstatus="NO_STATUS"`, `specialstatus="NO_STATUS" memberoffamily="1"`,
			func(r *eidfile.Reading) bool { return r.Identity.MemberOfFamily }},
		{"memberoffamily false", `specialstatus="NO_STATUS"`, `specialstatus="NO_STATUS" memberoffamily="false"`,
			func(r *eidfile.Reading) bool { return !r.Identity.MemberOfFamily }},
		{"lowercase chip number", `534C4250030701048584287C40821312`, `534c4250030701048584287c40821312`,
			func(r *eidfile.Reading) bool { return r.Card.ChipNumber == "534C4250030701048584287C40821312" }},
		{"unknown document type kept", `documenttype="belgian_citizen"`, `documenttype="future_card"`,
			func(r *eidfile.Reading) bool {
				return r.Card.DocumentTypeName == "future_card" && r.Card.DocumentType == 0
			}},
		{"kids foreigner", `documenttype="belgian_citizen"`, `documenttype="kids_foreigner_F_plus"`,
			func(r *eidfile.Reading) bool { return r.Card.DocumentType == 68 }},
		{"unknown attributes and elements ignored", `<card `, `<card carddata_appl_version="17" `,
			func(r *eidfile.Reading) bool { return r.Card.AppletVersion == "" }},
		{"version and graphpersoversion", `<eid>`, `<eid version="4.4" graphpersoversion="08">`,
			func(r *eidfile.Reading) bool { return r.Card.CardNumber == "592000155079" }},
		{"no certificates", base[strings.Index(base, "<certificates>"):strings.Index(base, "</eid>")], ``,
			func(r *eidfile.Reading) bool { return r.Certificates == nil }},
		{"work permit", `<deliverymunicipality>Leuven</deliverymunicipality>`,
			`<deliverymunicipality>Leuven</deliverymunicipality><workpermit mention="no" vat1="0123456749"/>`,
			func(r *eidfile.Reading) bool {
				return r.Identity.WorkPermit == "none" && r.Identity.EmployerVAT1 == "0123.456.749"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(base, tc.old, tc.new, 1)
			if doc == base {
				t.Fatal("the edit did not apply")
			}
			r, err := Unmarshal([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(r) {
				t.Errorf("unexpected reading: %+v", r)
			}
		})
	}
}

func TestUnmarshalErrors(t *testing.T) {
	good, err := Marshal(foreignerReading())
	if err != nil {
		t.Fatal(err)
	}
	base := string(good)
	edit := func(old, new string) string {
		if !strings.Contains(base, old) {
			t.Fatalf("%q not in the base document", old)
		}
		return strings.Replace(base, old, new, 1)
	}
	// The viewer's own element for tag 15, with a value that is not the
	// card's dd.MM.yyyy-CC.
	badProtectionElement := strings.Replace(edit(` dateandcountryofprotection="20140813IT"`, ``),
		`</deliverymunicipality>`, `</deliverymunicipality><protection_date_country>2014-IT</protection_date_country>`, 1)
	for _, tc := range []struct {
		name, doc, path string
	}{
		{"empty", "", ""},
		{"not XML", "hello", ""},
		{"truncated", base[:len(base)/2], ""},
		{"wrong root", "<eidx/>", ""},
		{"two roots", base + "<eid/>", ""},
		{"no identity", "<eid><card/></eid>", "identity"},
		{"no card", strings.Replace(edit(`<card `, `<kaart `), `</card>`, `</kaart>`, 1), "card"},
		{"two identities", edit(`</identity>`, `</identity><identity/>`), "identity"},
		{"repeated attribute", edit(`gender="female"`, `gender="female" gender="male"`), ""},
		{"no national number", edit(`nationalnumber="85030012345"`, ``), "identity/@nationalnumber"},
		{"short national number", edit(`"85030012345"`, `"8503001234"`), "identity/@nationalnumber"},
		{"bad birth date", edit(`dateofbirth="19850300"`, `dateofbirth="19851300"`), "identity/@dateofbirth"},
		{"bad gender", edit(`gender="female"`, `gender="F"`), "identity/@gender"},
		{"bad special status", edit(`specialstatus="EXTENDED_MINORITY"`, `specialstatus="2"`), "identity/@specialstatus"},
		{"bad duplicate", edit(`duplicate="01"`, `duplicate="1"`), "identity/@duplicate"},
		{"bad member of family", edit(`memberoffamily="true"`, `memberoffamily="yes"`), "identity/@memberoffamily"},
		{"bad protection", edit(`"20140813IT"`, `"2014081IT"`), "identity/@dateandcountryofprotection"},
		{"bad photo", edit(`<photo>`, `<photo>***`), "identity/photo"},
		{"two names", edit(`<name>`, `<name>x</name><name>`), "identity/name"},
		{"no document type", edit(`documenttype="foreigner_A"`, ``), "card/@documenttype"},
		{"empty document type", edit(`documenttype="foreigner_A"`, `documenttype=""`), "card/@documenttype"},
		{"bad chip number", edit(`"534C494E33660012A5C3000F1E2D3C4B"`, `"534C494E33660012A5C3000F1E2D3C"`), "card/@chipnumber"},
		{"bad validity", edit(`validitydateend="20280502"`, `validitydateend="2028-05-02"`), "card/@validitydateend"},
		{"bad work permit", edit(`mention="limited"`, `mention="8"`), "card/workpermit/@mention"},
		{"bad VAT", edit(`vat1="0123456749"`, `vat1="0123.456.749"`), "card/workpermit/@vat1"},
		{"bad card A mention", edit(`mentions1="Student"`, `mentions1="D"`), "card/cardA/@mentions1"},
		{"brexit without mention1", edit(`<cardA `, `<brexit/><cardA `), "card/brexit/@mention1"},
		{"bad certificate", edit(`<rrn>`, `<rrn>=`), "certificates/rrn"},
		{"bad protection element", badProtectionElement, "card/protection_date_country"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Unmarshal([]byte(tc.doc))
			if err == nil {
				t.Fatalf("no error; got %+v", r)
			}
			if !errors.Is(err, ErrFormat) || errors.Is(err, ErrUnrepresentable) {
				t.Errorf("error %v does not match ErrFormat alone", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FieldError", err)
			}
			if fe.Path != tc.path {
				t.Errorf("path %q, want %q (%v)", fe.Path, tc.path, err)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*eidfile.Reading)
		path   string
	}{
		{"national number", func(r *eidfile.Reading) { r.Identity.NationalNumber = "85.03.00-123.45" }, "identity/@nationalnumber"},
		{"birth date", func(r *eidfile.Reading) { r.Identity.BirthDate = "00 MAAR 1985" }, "identity/@dateofbirth"},
		{"gender", func(r *eidfile.Reading) { r.Identity.Gender = "F" }, "identity/@gender"},
		{"special status", func(r *eidfile.Reading) { r.Identity.SpecialStatus = "2" }, "identity/@specialstatus"},
		{"duplicate", func(r *eidfile.Reading) { r.Identity.Duplicate = "1" }, "identity/@duplicate"},
		{"protection", func(r *eidfile.Reading) { r.Identity.DateAndCountryOfProtection = "13.08.2014" }, "identity/@dateandcountryofprotection"},
		{"no photo", func(r *eidfile.Reading) { r.Photo = nil }, "identity/photo"},
		{"control character", func(r *eidfile.Reading) { r.Identity.Surname = "A\x00B" }, "identity/name"},
		{"invalid UTF-8", func(r *eidfile.Reading) { r.Identity.NobleCondition = "\xff" }, "identity/@noblecondition"},
		{"document type", func(r *eidfile.Reading) { r.Card.DocumentTypeName = "foreigner_z" }, "card/@documenttype"},
		{"document code", func(r *eidfile.Reading) { r.Card.DocumentTypeName, r.Card.DocumentType = "", 99 }, "card/@documenttype"},
		{"card number", func(r *eidfile.Reading) { r.Card.CardNumber = "1234567890123" }, "card/@cardnumber"},
		{"chip number", func(r *eidfile.Reading) { r.Card.ChipNumber = "534C" }, "card/@chipnumber"},
		{"validity", func(r *eidfile.Reading) { r.Card.ValidUntil = "02.05.2028" }, "card/@validitydateend"},
		{"municipality", func(r *eidfile.Reading) { r.Card.IssuingMunicipality = "\x1b" }, "card/deliverymunicipality"},
		{"work permit", func(r *eidfile.Reading) { r.Identity.WorkPermit = "8" }, "card/workpermit/@mention"},
		{"VAT", func(r *eidfile.Reading) { r.Identity.EmployerVAT2 = "BE0123456749" }, "card/workpermit/@vat2"},
		{"VAT without mention", func(r *eidfile.Reading) { r.Identity.WorkPermit = "" }, "card/workpermit/@mention"},
		{"regional file", func(r *eidfile.Reading) { r.Identity.RegionalFileNumber = strings.Repeat("9", 19) }, "card/workpermit/@regionalfile"},
		{"Brexit mention", func(r *eidfile.Reading) { r.Identity.BrexitMention1 = "C" }, "card/brexit/@mention1"},
		{"Brexit mention 2 alone", func(r *eidfile.Reading) { r.Identity.BrexitMention2 = "C" }, "card/brexit/@mention1"},
		{"card A mention", func(r *eidfile.Reading) { r.Identity.CardAMention1 = "K" }, "card/cardA/@mentions1"},
		{"card A mention 2", func(r *eidfile.Reading) { r.Identity.CardAMention2 = "A" }, "card/cardA/@mentions2"},
		{"no address", func(r *eidfile.Reading) { r.Address = nil }, "address"},
		{"address text", func(r *eidfile.Reading) { r.Address.Zip = "\x01" }, "address/zip"},
		{"no certificates", func(r *eidfile.Reading) { r.Certificates = nil }, "certificates"},
		{"no root", func(r *eidfile.Reading) { r.Certificates.Root = nil }, "certificates/root"},
		{"no CA", func(r *eidfile.Reading) { r.Certificates.CA = nil }, "certificates/citizenca"},
		{"no RRN", func(r *eidfile.Reading) { r.Certificates.RRN = []byte{} }, "certificates/rrn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := foreignerReading()
			tc.change(r)
			out, err := Marshal(r)
			if err == nil {
				t.Fatalf("no error; wrote\n%s", out)
			}
			if !errors.Is(err, ErrUnrepresentable) || errors.Is(err, ErrFormat) {
				t.Errorf("error %v does not match ErrUnrepresentable alone", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FieldError", err)
			}
			if fe.Path != tc.path {
				t.Errorf("path %q, want %q (%v)", fe.Path, tc.path, err)
			}
		})
	}
	if _, err := Marshal(nil); !errors.Is(err, ErrUnrepresentable) {
		t.Errorf("Marshal(nil): %v, want ErrUnrepresentable", err)
	}
}

// TestMarshalDocumentTypeFromCode: a Reading with only the numeric code gets
// the name from ref §6.1.
func TestMarshalDocumentTypeFromCode(t *testing.T) {
	r := foreignerReading()
	r.Card.DocumentTypeName = ""
	out, err := Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `documenttype="foreigner_A"`) {
		t.Errorf("code 33 not written as foreigner_A:\n%s", out)
	}
}
