package virtual

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// dumpFiles maps the file names of the known dump layouts (lower-cased) to
// card paths: the commons-eid "Alice" layout (Identity.tlv, …, ATR.bin; the
// misspelt AuthentificationCertificate is theirs) and the re-keyed 1.7 EC
// layout (identity.tlv, identity-signature.der, photo.jpg, rrn-cert.der).
var dumpFiles = map[string]string{
	"identity.tlv":                    PathIdentity,
	"identitysignature.tlv":           PathIdentitySig,
	"identity-signature.der":          PathIdentitySig,
	"address.tlv":                     PathAddress,
	"addresssignature.tlv":            PathAddressSig,
	"address-signature.der":           PathAddressSig,
	"photo.tlv":                       PathPhoto,
	"photo.jpg":                       PathPhoto,
	"authentificationcertificate.tlv": PathAuthCert,
	"authenticationcertificate.tlv":   PathAuthCert,
	"signingcertificate.tlv":          PathSignCert,
	"cacertificate.tlv":               PathCACert,
	"rootcertificate.tlv":             PathRootCert,
	"rrncertificate.tlv":              PathRRNCert,
	"rrn-cert.der":                    PathRRNCert,
}

// LoadDump builds a profile from a folder of raw card files, such as the
// public test-card dumps in shared/testdata/cards. Files are served exactly
// as found, padding included. What a dump does not hold is synthesised:
//
//   - the ATR (from ATR.bin, else the one of the generation);
//   - the applet version, from the photo hash length in identity tag 11
//     (20 bytes 1.1, 32 bytes 1.7, 48 bytes 1.8) or a 1.8 ATR; an EC RRN
//     certificate on a 1.7 card makes it Generation17EC;
//   - GET CARD DATA: the chip serial of identity tag 02 followed by the
//     sample bytes of the generation (ref §5);
//   - the PKCS#15 files, with CDF and PrKDF entries only for the
//     certificates present (ref §3.2);
//   - absent certificate files, as all-zero files of the generation's size.
//
// A dump has no private keys. The profile therefore has none, and signing
// fails the way a card without the key does: MSE SET for key 82 or 83 (or
// INTERNAL AUTHENTICATE) answers 6A 88. A throwaway key was rejected: its
// signatures would not verify with the certificates on the card, which
// would hide reader bugs. The PIN is DefaultPIN; VERIFY works. Profiles
// missing any file a real card has are marked Incomplete, with Notes.
func LoadDump(dir string) (*Profile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	p := &Profile{Name: filepath.Base(dir), Files: map[string][]byte{}}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := strings.ToLower(e.Name())
		path, isFile := dumpFiles[name]
		if !isFile && name != "atr.bin" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if isFile {
			p.Files[path] = b
		} else {
			p.ATR = b
		}
	}
	id := p.Files[PathIdentity]
	if id == nil {
		return nil, fmt.Errorf("%s: %w (no identity file)", dir, ErrUnknownDump)
	}
	var chip, photoHash []byte
	for _, f := range parseSimpleTLV(id) {
		v := f.raw[2:] // lengths in the identity file are < 255
		switch f.tag {
		case 0x02:
			chip = v
		case 0x11:
			photoHash = v
		}
	}
	if len(chip) != 16 {
		return nil, fmt.Errorf("%s: %w (identity tag 02 is %d bytes, want 16)", dir, ErrUnknownDump, len(chip))
	}

	rrnEC := false
	if c, err := p.Certificate(PathRRNCert); err == nil {
		_, rrnEC = c.PublicKey.(*ecdsa.PublicKey)
	}
	switch {
	case len(photoHash) == 48 || string(p.ATR) == string(ATR18):
		p.Generation = Generation18
	case len(photoHash) == 20:
		p.Generation = Generation11
	case rrnEC:
		p.Generation = Generation17EC
	default:
		p.Generation = Generation17
	}
	l := layoutOf(p.Generation)
	p.Applet = l.applet
	if p.ATR == nil {
		p.ATR = l.atr
		p.Notes = append(p.Notes, "ATR not in the dump: the generation's ATR is used")
	}
	p.CardData = append(append([]byte{}, chip...), l.cardDataTail...)
	p.Notes = append(p.Notes,
		"GET CARD DATA bytes 16-27 and the PKCS#15 files are synthesised",
		"no private keys: MSE SET for keys 82/83 and INTERNAL AUTHENTICATE answer 6A 88")

	var missing []string
	for _, want := range []string{PathIdentitySig, PathAddress, PathAddressSig, PathPhoto} {
		if p.Files[want] == nil {
			missing = append(missing, want)
		}
	}
	present := map[string]bool{}
	for _, cert := range []string{PathAuthCert, PathSignCert, PathCACert, PathRootCert, PathRRNCert} {
		if _, err := p.Certificate(cert); err == nil {
			present[cert] = true
			continue
		}
		if p.Files[cert] == nil {
			p.Files[cert] = make([]byte, l.absentCert)
			missing = append(missing, cert)
		}
	}
	if p.Generation == Generation18 && p.Files[PathBasicKey] == nil {
		missing = append(missing, PathBasicKey)
	}
	if len(missing) > 0 {
		p.Incomplete = true
		p.Notes = append(p.Notes, "not in the dump (certificates zero-filled): "+strings.Join(missing, ", "))
	}

	p.PKI = &PKI{}
	p.PKI.Root, _ = p.Certificate(PathRootCert)
	p.PKI.CA, _ = p.Certificate(PathCACert)
	p.PKI.RRN, _ = p.Certificate(PathRRNCert)

	keyBits := l.userRSABits
	if l.userEC {
		keyBits = 384
	}
	for _, path := range []string{PathAuthCert, PathSignCert} {
		if c, err := p.Certificate(path); err == nil {
			keyBits = publicKeyBits(c, keyBits)
		}
	}
	p.Files[PathDIR] = efDIR()
	p.Files[PathODF] = efODF()
	p.Files[PathTokenInfo] = efTokenInfo(chip, l.versionBytes)
	p.Files[PathAODF] = efAODF()
	p.Files[PathPrKDF] = efPrKDF(l.userEC, keyBits, present[PathAuthCert], present[PathSignCert])
	p.Files[PathCDF] = efCDF(present[PathAuthCert], present[PathSignCert], present[PathCACert], present[PathRootCert])
	return p, p.Validate()
}

func publicKeyBits(c *x509.Certificate, def int) int {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return k.N.BitLen()
	case *ecdsa.PublicKey:
		return k.Curve.Params().BitSize
	}
	return def
}
