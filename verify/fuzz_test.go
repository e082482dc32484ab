package verify

import (
	"errors"
	"testing"
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
