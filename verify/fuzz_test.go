package verify

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/eid-agent/eid-agent/card/eidfile"
)

func FuzzParseToken(f *testing.F) {
	f.Add([]byte(`{"unverifiedCertificate":"MIIB","algorithm":"ES384","signature":"AA==","format":"web-eid:1.0","appVersion":"x"}`))
	f.Add([]byte(`{"format":"web-eid:1","unverifiedCertificate":"","algorithm":"PS512"}`))
	f.Add([]byte(`[{"a":1}]`))
	f.Add([]byte(`{"unverifiedCertificate":"\u0000","algorithm":"ES384","signature":"AA==","format":"web-eid:1."} x`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseToken(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if tok.UnverifiedCertificate == "" || tok.Signature == "" || tok.Algorithm == "" {
			t.Fatalf("accepted incomplete token %+v", tok)
		}
		// Decoding parts of an accepted token must not panic either.
		if c, err := tok.Certificate(); err == nil {
			_ = verifySignature(tok, c, "https://a.example", "n")
		} else if !errors.Is(err, ErrFormat) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

// FuzzVerifyBundle: any bytes a client posts end in a typed error or a
// result, never a panic, and a result without error only with every check
// passed.
func FuzzVerifyBundle(f *testing.F) {
	files, p := vcardFiles(f, "citizen-1.8")
	good, err := json.Marshal(eidfile.NewBundle(files))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"format":"eid-bundle:1","identity":"AQEx","identitySignature":"AA==","rrnCertificate":"MAA="}`))
	f.Add([]byte(`{"format":"eid-bundle:1"}`))
	f.Add([]byte(`{"format":"eid-bundle:1","identity":null,"address":"AA=="}`))
	v := &BundleVerifier{Trust: vcardTrust(p)}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := v.VerifyBundle(data)
		if err != nil {
			if ErrorCode(err) == "INTERNAL" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, c := range res.Checks {
			if c.Verdict == eidfile.Invalid || c.Verdict == eidfile.Untrusted {
				if c.Name != "nationalNumber" && c.Name != "cardNumber" {
					t.Fatalf("accepted with %s %s", c.Name, c.Verdict)
				}
			}
		}
	})
}
