package eidfile

import (
	"bytes"
	"errors"
	"testing"
)

// seedDumps adds to the fuzz corpus the chosen file of both shared dumps,
// plus extra seeds.
func seedDumps(f *testing.F, file func(*Files) []byte, extra ...[]byte) {
	for name := range dumpFiles {
		if b := file(loadDump(f, name)); b != nil {
			f.Add(b)
		}
	}
	for _, b := range extra {
		f.Add(b)
	}
}

// checkFormatError fails unless err is nil or a *FormatError matching
// ErrMalformed.
func checkFormatError(t *testing.T, err error) {
	t.Helper()
	var fe *FormatError
	if err != nil && (!errors.As(err, &fe) || !errors.Is(err, ErrMalformed)) {
		t.Fatalf("error %v (%T) is not a FormatError", err, err)
	}
}

func FuzzParseTLV(f *testing.F) {
	seedDumps(f, func(fs *Files) []byte { return fs.Identity },
		tlv(0, 2, 0, 2, 1, 0xFF, 0x01, bytes.Repeat([]byte{'x'}, 256)), tlv(1, 0xFF), []byte{0, 0, 0})
	seedDumps(f, func(fs *Files) []byte { return fs.Address })
	f.Fuzz(func(t *testing.T, b []byte) {
		fields, err := ParseTLV(b, "fuzz")
		checkFormatError(t, err)
		if err != nil {
			return
		}
		enc := EncodeTLV(fields)
		if len(enc) > len(b) {
			t.Fatalf("re-encoding grew from %d to %d bytes", len(b), len(enc))
		}
		back, err := ParseTLV(enc, "fuzz")
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if len(TrimTrailingZeros(enc)) == 0 {
			return // a lone all-zero tag 00 reads as padding (see EncodeTLV)
		}
		if fieldsString(back) != fieldsString(fields) {
			t.Fatalf("round trip:\n%s\n%s", fieldsString(fields), fieldsString(back))
		}
	})
}

func FuzzParseIdentity(f *testing.F) {
	seedDumps(f, func(fs *Files) []byte { return fs.Identity })
	f.Fuzz(func(t *testing.T, b []byte) {
		c, id, err := ParseIdentity(b)
		checkFormatError(t, err)
		if err == nil && (c.CardNumber == "" || id.NationalNumber == "" || c.DocumentTypeName == "" || id.SpecialStatus == "") {
			t.Fatalf("accepted without mandatory fields: %+v %+v", c, id)
		}
	})
}

func FuzzParseAddress(f *testing.F) {
	seedDumps(f, func(fs *Files) []byte { return fs.Address })
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := ParseAddress(b)
		checkFormatError(t, err)
	})
}

func FuzzParseCardData(f *testing.F) {
	f.Add(cardDataSample)
	f.Add(append(append([]byte(nil), cardDataSample...), 3, 0xFF, 0xFF))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseCardData(b)
		checkFormatError(t, err)
		if err == nil && (len(d.Serial) != 16 || len(d.AppletVersion) != 3 || d.PINTries < -1 || d.PINTries > 254) {
			t.Fatalf("bad result %+v", d)
		}
	})
}

func FuzzCertificateDER(f *testing.F) {
	for _, file := range []func(*Files) []byte{
		func(fs *Files) []byte { return fs.AuthCert },
		func(fs *Files) []byte { return fs.RootCert },
		func(fs *Files) []byte { return fs.RRNCert },
	} {
		seedDumps(f, file)
	}
	f.Add(make([]byte, 50))
	f.Fuzz(func(t *testing.T, b []byte) {
		der, err := CertificateDER(b)
		checkFormatError(t, err)
		if err != nil {
			return
		}
		if der == nil {
			if len(TrimTrailingZeros(b)) != 0 {
				t.Fatal("nil certificate from a file that is not all zeros")
			}
			return
		}
		if !bytes.HasPrefix(b, der) || der[0] != 0x30 {
			t.Fatalf("result is not a DER prefix of the file")
		}
		keyFamily(der) // must not panic on any DER-framed input
	})
}
