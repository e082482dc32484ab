// Package testkit holds what the tests of several packages need alike:
// golden files, checking a signature, a settable clock (Clock) and
// checking a message against the protocol's JSON schemas (jsonschema.go).
// Only tests import it. It builds
// without cgo, unlike internal/lab (the PC/SC lab).
package testkit

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files with what the tests produce")

// Updating reports whether the test binary runs with -update.
func Updating() bool { return *update }

// Golden compares got with the golden file at path (relative to the
// package's directory, where go test runs). With -update it writes got
// there first, creating the directory.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run '%s' -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -run '%s' -update to accept):\n%s", path, t.Name(), got)
	}
}

// Digest hashes msg with h.
func Digest(h crypto.Hash, msg string) []byte {
	d := h.New()
	d.Write([]byte(msg))
	return d.Sum(nil)
}

// VerifySignature fails the test unless sig is pub's signature over digest
// as crypto.Signer makes it with opts: PKCS#1 v1.5, RSASSA-PSS (with the
// salt opts names, the hash's length for Auto, which verifying with Auto
// would not check), or ASN.1 DER ECDSA.
func VerifySignature(t testing.TB, pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) {
	t.Helper()
	var err error
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			salt := pss.SaltLength
			if salt <= 0 {
				salt = rsa.PSSSaltLengthEqualsHash
			}
			if err = rsa.VerifyPSS(pub, pss.HashFunc(), digest, sig, &rsa.PSSOptions{SaltLength: salt}); err != nil {
				err = fmt.Errorf("PSS %v: %w", pss.HashFunc(), err)
			}
		} else if err = rsa.VerifyPKCS1v15(pub, opts.HashFunc(), digest, sig); err != nil {
			err = fmt.Errorf("PKCS#1 v1.5 %v: %w", opts.HashFunc(), err)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			err = fmt.Errorf("ECDSA over %d bytes (%v)", len(digest), opts.HashFunc())
		}
	default:
		err = fmt.Errorf("key type %T", pub)
	}
	if err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
}
