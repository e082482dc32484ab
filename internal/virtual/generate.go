package virtual

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"
)

// GenerateOptions describes a card for Generate. The zero value is a valid
// applet-1.7 citizen card; every empty field gets a default.
type GenerateOptions struct {
	// Name of the profile; default "<kind>-<generation>", e.g. "citizen-1.7".
	Name string
	// Generation: Generation11, Generation17 (default), Generation17EC or
	// Generation18.
	Generation string
	// DocumentType is the tag 0F code (ref §6.1): 1 citizen (default),
	// 6 Kids-ID, 11–36 foreigner cards, 61–69 kids foreigner cards, 7, 8.
	DocumentType int

	Surname      string // default "Specimen"
	FirstNames   string // the first two given names; default "Jan Pieter"
	ThirdInitial string // tag 09; may be empty
	Female       bool
	BirthDate    time.Time // default 1985-06-15; kids: 2017-04-03
	BirthPlace   string    // default "Leuven"
	Nationality  string    // default by language and document type
	// Language of the card: "nl" (default), "fr" or "de". It selects the
	// month names of the birth date (tag 0C: "08 MAAR 1980", "08 MARS
	// 1980", "08.MÄR.1980") and the letter for women in tag 0D (V, F, W).
	Language string
	// NationalNumber (11 digits, valid check digits); default derived from
	// the birth date and gender.
	NationalNumber string
	// CardNumber (12 digits); default derived from the national number.
	CardNumber string
	// ValidFrom is the start of validity; default the first of the month,
	// one year ago. Validity is 10 years (citizens), 5 (foreigners) or
	// 3 (kids); certificates share it.
	ValidFrom           time.Time
	IssuingMunicipality string // default "Leuven"

	Street       string // default "Specimenstraat 1"
	Zip          string // default "3000"
	Municipality string // default "Leuven"

	PIN string // default DefaultPIN

	// NoAuthCert and NoSignCert leave the certificate (and its key) off the
	// card, as on young kids' cards and citizens without a signature
	// certificate (ref §9.4): the file is all zeros, the CDF and PrKDF
	// entries are gone and MSE SET for that key answers 6A 88.
	NoAuthCert bool
	NoSignCert bool

	// OmitStructureVersion leaves out the leading tag 00 (file structure
	// version) of the 1.8 identity and address files, which the spec has but
	// no public sample shows (ref §4.1).
	OmitStructureVersion bool

	SpecialStatus string // tag 10; default "0"
	Duplicate     string // tag 12 when set, e.g. "01"
	// Foreigner holds tags 13–1F. For a foreigner document type a nil
	// Foreigner gets example values for every tag.
	Foreigner *ForeignerData

	// Photo is the JPEG of 4035; default a generated silhouette.
	Photo []byte
}

// ForeignerData holds the identity tags of foreigner cards (ref §4.2).
// Tags 13 and 15–19 are written even when empty (as some cards do); tag 14
// only when true; tags 1B–1F only when set.
type ForeignerData struct {
	SpecialOrganisation        string // 13: 1 SHAPE, 2 NATO, 4 old blue card, 5 researcher
	MemberOfFamily             bool   // 14
	DateAndCountryOfProtection string // 15: dd.MM.yyyy-CC
	WorkPermit                 string // 16: 7, 8, 9, A
	EmployerVAT1               string // 17
	EmployerVAT2               string // 18
	RegionalFileNumber         string // 19
	BrexitMention1             string // 1B
	BrexitMention2             string // 1C
	CardAMention1              string // 1D
	CardAMention2              string // 1E
	EUStartDate                string // 1F: DD.MM.YYYY
}

// exampleForeigner fills every foreigner tag, so a generated foreigner card
// exercises a reader's whole parser.
var exampleForeigner = ForeignerData{
	SpecialOrganisation:        "1",
	MemberOfFamily:             true,
	DateAndCountryOfProtection: "13.08.2014-IT",
	WorkPermit:                 "7",
	EmployerVAT1:               "0123.456.749",
	EmployerVAT2:               "0987.654.312",
	RegionalFileNumber:         "RF-2024-000123",
	BrexitMention1:             "B",
	BrexitMention2:             "C",
	CardAMention1:              "D",
	CardAMention2:              "K",
	EUStartDate:                "01.02.2020",
}

// holder is the resolved identity used for files and certificates.
type holder struct {
	surname, givenNames, firstName string
	nationalNumber                 string
	validFrom, validUntil          time.Time
}

func isKids(dt int) bool      { return dt == 6 || (dt >= 61 && dt <= 69) }
func isForeigner(dt int) bool { return (dt >= 11 && dt <= 36) || (dt >= 61 && dt <= 69) }

func knownDocumentType(dt int) bool {
	switch {
	case dt == 1, dt == 6, dt == 7, dt == 8:
	case dt >= 11 && dt <= 23, dt == 27, dt == 28, dt >= 31 && dt <= 36, dt >= 61 && dt <= 69:
	default:
		return false
	}
	return true
}

// withDefaults resolves every default; it does not generate keys.
func (o GenerateOptions) withDefaults(now time.Time) (GenerateOptions, error) {
	if o.Generation == "" {
		o.Generation = Generation17
	}
	switch o.Generation {
	case Generation11, Generation17, Generation17EC, Generation18:
	default:
		return o, &OptionError{Field: "Generation", Reason: fmt.Sprintf("%q is not one of 1.1, 1.7, 1.7-ec, 1.8", o.Generation)}
	}
	if o.DocumentType == 0 {
		o.DocumentType = 1
	}
	if !knownDocumentType(o.DocumentType) {
		return o, &OptionError{Field: "DocumentType", Reason: fmt.Sprintf("unknown code %d", o.DocumentType)}
	}
	if o.Language == "" {
		o.Language = "nl"
	}
	if _, ok := months[o.Language]; !ok {
		return o, &OptionError{Field: "Language", Reason: fmt.Sprintf("%q is not fr, nl or de", o.Language)}
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Surname, "Specimen")
	def(&o.FirstNames, "Jan Pieter")
	def(&o.BirthPlace, "Leuven")
	def(&o.IssuingMunicipality, "Leuven")
	def(&o.Street, "Specimenstraat 1")
	def(&o.Zip, "3000")
	def(&o.Municipality, "Leuven")
	def(&o.SpecialStatus, "0")
	def(&o.PIN, DefaultPIN)
	if o.Nationality == "" {
		o.Nationality = map[string]string{"nl": "Belg", "fr": "Belge", "de": "Belgier"}[o.Language]
		if isForeigner(o.DocumentType) {
			o.Nationality = map[string]string{"nl": "Nederlander", "fr": "Néerlandais", "de": "Niederländer"}[o.Language]
		}
	}
	if o.BirthDate.IsZero() {
		o.BirthDate = time.Date(1985, 6, 15, 0, 0, 0, 0, time.UTC)
		if isKids(o.DocumentType) {
			o.BirthDate = time.Date(2017, 4, 3, 0, 0, 0, 0, time.UTC)
		}
	}
	if o.ValidFrom.IsZero() {
		o.ValidFrom = issueDay(now)
	}
	if len(strings.Fields(o.FirstNames)) == 0 {
		return o, &OptionError{Field: "FirstNames", Reason: "no given name"}
	}
	if _, err := pinBlock(o.PIN); err != nil {
		return o, &OptionError{Field: "PIN", Reason: "must be 4 to 12 digits"}
	}
	if o.NationalNumber == "" {
		// A sequence number derived from the names, odd for men and even
		// for women (ref §4.5).
		seq := int(fnv32(o.Surname+o.FirstNames)%499)*2 + 1
		if o.Female {
			seq++
		}
		nn, err := NationalNumber(o.BirthDate, seq)
		if err != nil {
			return o, err
		}
		o.NationalNumber = nn
	} else if !validNationalNumber(o.NationalNumber) {
		return o, &OptionError{Field: "NationalNumber", Reason: fmt.Sprintf("%q has wrong check digits", o.NationalNumber)}
	}
	if o.CardNumber == "" {
		n, _ := strconv.ParseInt(o.NationalNumber[:9], 10, 64)
		o.CardNumber = cardNumber(590_000_000_000/100 + n%100_000_000)
	} else if len(o.CardNumber) != 12 || strings.Trim(o.CardNumber, "0123456789") != "" {
		return o, &OptionError{Field: "CardNumber", Reason: "must be 12 digits"}
	}
	if o.Foreigner == nil && isForeigner(o.DocumentType) {
		f := exampleForeigner
		o.Foreigner = &f
	}
	if o.Name == "" {
		kind := "citizen"
		switch {
		case isKids(o.DocumentType):
			kind = "kids"
		case isForeigner(o.DocumentType):
			kind = "foreigner"
		}
		o.Name = kind + "-" + o.Generation
	}
	return o, nil
}

// issueDay is the default start of a card's validity for a card used
// around day: the first of the month, one year before. Every generated
// card is then valid on day and for at least the next two years (Kids-ID:
// three years), so a test that runs a while keeps valid cards.
func issueDay(day time.Time) time.Time {
	day = day.UTC()
	return time.Date(day.Year()-1, day.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// Generate builds a complete card from a test PKI: identity, address and
// photo files, National Register signatures over them (ref §9.1, §9.2),
// certificates chaining to a test root, the PKCS#15 files, GET CARD DATA,
// the card's private keys and, on 1.8, the basic key. Keys are cached per
// process (see pki.go), so the first RSA card of a test binary takes up to a
// few seconds and later ones milliseconds. Generate caches profiles too:
// identical options give the same *Profile, which callers must not modify.
func Generate(opts GenerateOptions) (*Profile, error) {
	o, err := opts.withDefaults(clock.Now())
	if err != nil {
		return nil, err
	}
	return cached(profCache, optionsKey(o), func() (*Profile, error) { return generate(o) })
}

// optionsKey identifies resolved options for the profile cache.
func optionsKey(o GenerateOptions) string {
	var f ForeignerData
	if o.Foreigner != nil {
		f = *o.Foreigner
	}
	photo := sha256.Sum256(o.Photo)
	o.Foreigner, o.Photo = nil, nil
	return fmt.Sprintf("%#v|%#v|%x", o, f, photo)
}

// Per-generation layout facts (ref §3.1, §5, §9.2).
type layout struct {
	applet        string
	atr           []byte
	family        pkiFamily
	userEC        bool
	userRSABits   int
	photoHash     func([]byte) []byte
	rrnHash       crypto.Hash
	sigFileSize   int // EC: DER zero-padded to this size; RSA: the raw signature
	addressSize   int
	certPad       int  // zero bytes after a certificate's DER
	padRootAndRRN bool // 1.x dumps show no padding on root and RRN files
	absentCert    int  // size of the all-zero file of an absent certificate
	versionBytes  [4]byte
	cardDataTail  []byte // GET CARD DATA bytes 16–27
	docTypeDigits string // format of tag 0F
}

func layoutOf(gen string) layout {
	sha1Sum := func(b []byte) []byte { h := sha1.Sum(b); return h[:] }
	sha256Sum := func(b []byte) []byte { h := sha256.Sum256(b); return h[:] }
	sha384Sum := func(b []byte) []byte { h := sha512.Sum384(b); return h[:] }
	pre18 := layout{
		atr: ATRPre18, userRSABits: 2048, addressSize: 121, certPad: 50, absentCert: 1300,
		versionBytes: [4]byte{0x03, 0x02, 0x00, 0x00}, docTypeDigits: "%d",
		// 1.7 sample values: component F3, OS 36/01, softmask 25/01,
		// applet 17, global OS 0003, interface 00, PKCS#1 v2.1, key
		// exchange 01, life cycle 0F personalised (ref §5.1).
		cardDataTail: []byte{0xF3, 0x36, 0x01, 0x25, 0x01, 0x17, 0x00, 0x03, 0x00, 0x21, 0x01, 0x0F},
	}
	switch gen {
	case Generation11:
		l := pre18
		l.applet, l.family, l.userRSABits = Applet11, familyRSA1, 1024
		l.photoHash, l.rrnHash, l.sigFileSize = sha1Sum, crypto.SHA1, 128
		// 1.1 tail: A5 03 01 01 01, applet 11 00, interface 02 00, PKCS#15
		// version 01 01 (ref §5.2), life cycle 0F.
		l.cardDataTail = []byte{0xA5, 0x03, 0x01, 0x01, 0x01, 0x11, 0x00, 0x02, 0x00, 0x01, 0x01, 0x0F}
		return l
	case Generation17:
		l := pre18
		l.applet, l.family = Applet17, familyRSA7
		l.photoHash, l.rrnHash, l.sigFileSize = sha256Sum, crypto.SHA256, 256
		return l
	case Generation17EC:
		l := pre18
		l.applet, l.family = Applet17, familyEC
		// Re-keyed cards keep the SHA-256 photo hash and store the DER
		// ECDSA signatures zero-padded to 256 bytes (ref §1.2, §9.1).
		l.photoHash, l.rrnHash, l.sigFileSize = sha256Sum, crypto.SHA384, 256
		return l
	}
	return layout{
		applet: Applet18, atr: ATR18, family: familyEC, userEC: true,
		photoHash: sha384Sum, rrnHash: crypto.SHA384,
		// The size of the 1.8 signature files is not documented (ref §14);
		// 256 like the re-keyed 1.7 card.
		sigFileSize: 256, addressSize: 117, certPad: 1100, padRootAndRRN: true, absentCert: 2500,
		versionBytes: [4]byte{0x03, 0x04, 0x00, 0x00}, docTypeDigits: "%02d",
		// Bytes 16–20 of a 1.8 chip are not documented; applet 18, global
		// OS 0001, interface 00, no PKCS#1 v2.x, key exchange 02, life
		// cycle 0F (ref §5.1).
		cardDataTail: []byte{0xF3, 0x37, 0x01, 0x30, 0x01, 0x18, 0x00, 0x01, 0x00, 0x00, 0x02, 0x0F},
	}
}

func generate(o GenerateOptions) (*Profile, error) {
	l := layoutOf(o.Generation)
	pki, err := getPKI(l.family)
	if err != nil {
		return nil, err
	}
	years := 10
	switch {
	case isKids(o.DocumentType):
		years = 3
	case isForeigner(o.DocumentType):
		years = 5
	}
	h := holder{
		surname:        o.Surname,
		givenNames:     o.FirstNames,
		firstName:      strings.Fields(o.FirstNames)[0],
		nationalNumber: o.NationalNumber,
		validFrom:      o.ValidFrom,
		validUntil:     o.ValidFrom.AddDate(years, 0, -1),
	}
	ca, caKey := pki.citizenCA, pki.citizenKey
	if isForeigner(o.DocumentType) {
		ca, caKey = pki.foreignerCA, pki.foreignKey
	}

	p := &Profile{
		Name:       o.Name,
		Generation: o.Generation,
		Applet:     l.applet,
		ATR:        l.atr,
		PIN:        o.PIN,
		Files:      map[string][]byte{},
		PKI: &PKI{
			Root: pki.root, RootKey: pki.rootKey,
			CA: ca, CAKey: caKey,
			RRN: pki.rrn, RRNKey: pki.rrnKey,
		},
	}

	// Card keys and certificates.
	var auth, sign crypto.Signer
	if l.userEC {
		if auth, err = newKey(true, 0); err != nil {
			return nil, err
		}
		if sign, err = newKey(true, 0); err != nil {
			return nil, err
		}
		if p.BasicKey, err = newKey(true, 0); err != nil {
			return nil, err
		}
	} else {
		pair, err := rsaPair(l.userRSABits)
		if err != nil {
			return nil, err
		}
		auth, sign = pair[0], pair[1]
	}
	certFile := func(c *x509.Certificate, pad bool) []byte {
		if c == nil {
			return make([]byte, l.absentCert)
		}
		if !pad {
			return c.Raw
		}
		return append(append([]byte{}, c.Raw...), make([]byte, l.certPad)...)
	}
	var authCert, signCert *x509.Certificate
	if !o.NoAuthCert {
		if authCert, err = holderCert(false, h, ca, caKey, auth.Public()); err != nil {
			return nil, err
		}
		p.AuthKey = auth
	}
	if !o.NoSignCert {
		if signCert, err = holderCert(true, h, ca, caKey, sign.Public()); err != nil {
			return nil, err
		}
		p.SignKey = sign
	}
	p.Files[PathAuthCert] = certFile(authCert, true)
	p.Files[PathSignCert] = certFile(signCert, true)
	p.Files[PathCACert] = certFile(ca, true)
	p.Files[PathRootCert] = certFile(pki.root, l.padRootAndRRN)
	p.Files[PathRRNCert] = certFile(pki.rrn, l.padRootAndRRN)

	// Chip serial: "SLIN" and 12 bytes from the holder, so that it is
	// stable for a holder and differs between holders. It is GET CARD DATA
	// bytes 0–15, identity tag 02 and the TokenInfo serial (ref §12 item 12).
	chip := make([]byte, 16)
	copy(chip, "SLIN")
	sum := sha256.Sum256([]byte(o.Generation + o.NationalNumber + o.CardNumber))
	copy(chip[4:], sum[:12])
	p.CardData = append(append([]byte{}, chip...), l.cardDataTail...)

	photo := o.Photo
	if photo == nil {
		photo = syntheticPhoto(o.NationalNumber + o.FirstNames)
	}
	p.Files[PathPhoto] = photo

	var basicSPKI []byte
	if p.BasicKey != nil {
		if basicSPKI, err = x509.MarshalPKIXPublicKey(p.BasicKey.Public()); err != nil {
			return nil, err
		}
		p.Files[PathBasicKey] = basicSPKI // DER SPKI, 120 bytes for P-384 (ref §3.1)
	}

	version18 := o.Generation == Generation18 && !o.OmitStructureVersion
	id, err := identityFile(o, l, chip, h, l.photoHash(photo), basicSPKI, version18)
	if err != nil {
		return nil, err
	}
	addr, err := addressFile(o, l, version18)
	if err != nil {
		return nil, err
	}
	idSig, err := rrnSign(pki.rrnKey, l, id)
	if err != nil {
		return nil, err
	}
	// The address signature covers the address without its zero padding
	// followed by the whole identity-signature file, padding included
	// (ref §9.1).
	addrSig, err := rrnSign(pki.rrnKey, l, append(bytes.TrimRight(addr, "\x00"), idSig...))
	if err != nil {
		return nil, err
	}
	p.Files[PathIdentity] = id
	p.Files[PathIdentitySig] = idSig
	p.Files[PathAddress] = addr
	p.Files[PathAddressSig] = addrSig

	keyBits := l.userRSABits
	if l.userEC {
		keyBits = 384
	}
	p.Files[PathDIR] = efDIR()
	p.Files[PathODF] = efODF()
	p.Files[PathTokenInfo] = efTokenInfo(chip, l.versionBytes)
	p.Files[PathAODF] = efAODF()
	p.Files[PathPrKDF] = efPrKDF(l.userEC, keyBits, authCert != nil, signCert != nil)
	p.Files[PathCDF] = efCDF(authCert != nil, signCert != nil, true, true)
	return p, p.Validate()
}

// identityFile builds 4031 (ref §4.2): tags in ascending order, exact size.
func identityFile(o GenerateOptions, l layout, chip []byte, h holder, photoHash, basicSPKI []byte, version bool) ([]byte, error) {
	var w tlvWriter
	if version {
		w.add(0x00, []byte{0x00, 0x02}) // file structure version 2 (ref §4.2)
	}
	w.str(0x01, o.CardNumber)
	w.add(0x02, chip)
	w.str(0x03, cardDate(h.validFrom))
	w.str(0x04, cardDate(h.validUntil))
	w.str(0x05, o.IssuingMunicipality)
	w.str(0x06, o.NationalNumber)
	w.str(0x07, o.Surname)
	w.str(0x08, o.FirstNames)
	w.str(0x09, o.ThirdInitial)
	w.str(0x0A, o.Nationality)
	w.str(0x0B, o.BirthPlace)
	w.str(0x0C, birthDate(o.BirthDate, o.Language))
	w.str(0x0D, genderLetter(o.Female, o.Language))
	w.str(0x0E, "")
	w.str(0x0F, fmt.Sprintf(l.docTypeDigits, o.DocumentType))
	w.str(0x10, o.SpecialStatus)
	w.add(0x11, photoHash)
	if o.Duplicate != "" {
		w.str(0x12, o.Duplicate)
	}
	f := o.Foreigner
	if f != nil {
		w.str(0x13, f.SpecialOrganisation)
		if f.MemberOfFamily {
			w.add(0x14, nil) // presence means true (ref §4.2)
		}
		w.str(0x15, f.DateAndCountryOfProtection)
		w.str(0x16, f.WorkPermit)
		w.str(0x17, f.EmployerVAT1)
		w.str(0x18, f.EmployerVAT2)
		w.str(0x19, f.RegionalFileNumber)
	}
	if basicSPKI != nil {
		h := sha512.Sum384(basicSPKI)
		w.add(0x1A, h[:]) // hash of 4040 (ref §4.2, §9.1)
	}
	if f != nil {
		for _, t := range []struct {
			tag byte
			v   string
		}{{0x1B, f.BrexitMention1}, {0x1C, f.BrexitMention2}, {0x1D, f.CardAMention1}, {0x1E, f.CardAMention2}, {0x1F, f.EUStartDate}} {
			if t.v != "" {
				w.str(t.tag, t.v)
			}
		}
	}
	if w.err != nil {
		return nil, &OptionError{Field: "identity", Reason: w.err.Error()}
	}
	return w.b, nil
}

// addressFile builds 4033 (ref §4.3), zero-padded to its fixed size: 121
// bytes as on the 1.x dumps, 117 on 1.8 as the 1.8 content document says.
func addressFile(o GenerateOptions, l layout, version bool) ([]byte, error) {
	var w tlvWriter
	if version {
		w.add(0x00, []byte{0x00, 0x02})
	}
	w.str(0x01, o.Street)
	w.str(0x02, o.Zip)
	w.str(0x03, o.Municipality)
	if w.err != nil {
		return nil, &OptionError{Field: "address", Reason: w.err.Error()}
	}
	if len(w.b) > l.addressSize {
		return nil, &OptionError{Field: "address", Reason: fmt.Sprintf("%d bytes, the file holds %d", len(w.b), l.addressSize)}
	}
	return append(w.b, make([]byte, l.addressSize-len(w.b))...), nil
}

// rrnSign makes a National Register signature file (ref §9.2): RSA PKCS#1
// v1.5 (SHA-1 on 1.1, SHA-256 on 1.7), or DER ECDSA-SHA-384 zero-padded.
func rrnSign(key crypto.Signer, l layout, data []byte) ([]byte, error) {
	hf := l.rrnHash.New()
	hf.Write(data)
	sig, err := key.Sign(rand.Reader, hf.Sum(nil), l.rrnHash)
	if err != nil {
		return nil, err
	}
	if len(sig) > l.sigFileSize {
		return nil, fmt.Errorf("signature of %d bytes does not fit %d", len(sig), l.sigFileSize)
	}
	return append(sig, make([]byte, l.sigFileSize-len(sig))...), nil
}

func fnv32(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
