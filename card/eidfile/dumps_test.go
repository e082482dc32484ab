package eidfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/eid-agent/eid-agent/internal/lab"
)

// dumpFiles names the files of each public test-card dump
// (shared/testdata/cards/README.md). A name left empty is not in the dump.
var dumpFiles = map[string]struct {
	identity, identitySig, address, addressSig, photo string
	auth, sign, ca, root, rrn, atr                    string
}{
	"alice-v11-rsa": {
		identity: "Identity.tlv", identitySig: "IdentitySignature.tlv",
		address: "Address.tlv", addressSig: "AddressSignature.tlv", photo: "Photo.tlv",
		auth: "AuthentificationCertificate.tlv", sign: "SigningCertificate.tlv",
		ca: "CACertificate.tlv", root: "RootCertificate.tlv", rrn: "RRNCertificate.tlv",
		atr: "ATR.bin",
	},
	"specimen-v17-ec": {
		identity: "identity.tlv", identitySig: "identity-signature.der",
		address: "address.tlv", addressSig: "address-signature.der", photo: "photo.jpg",
		rrn: "rrn-cert.der",
	},
}

// loadDump reads a public test-card dump ("alice-v11-rsa" or
// "specimen-v17-ec") from the shared test data, in place, into Files. Files
// the dump does not have stay nil. It skips the test when the shared data
// is absent (fails in CI, see lab.SharedTestdata).
func loadDump(t testing.TB, name string) *Files {
	t.Helper()
	names, ok := dumpFiles[name]
	if !ok {
		t.Fatalf("unknown test-card dump %q", name)
	}
	dir := filepath.Join(lab.SharedTestdata(t), "cards", name)
	read := func(file string) []byte {
		if file == "" {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatalf("test-card dump %s: %v", name, err)
		}
		return b
	}
	return &Files{
		ATR:               read(names.atr),
		Identity:          read(names.identity),
		IdentitySignature: read(names.identitySig),
		Address:           read(names.address),
		AddressSignature:  read(names.addressSig),
		Photo:             read(names.photo),
		AuthCert:          read(names.auth),
		SignCert:          read(names.sign),
		CACert:            read(names.ca),
		RootCert:          read(names.root),
		RRNCert:           read(names.rrn),
	}
}
