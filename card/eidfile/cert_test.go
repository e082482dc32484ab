package eidfile

import (
	"bytes"
	"errors"
	"testing"
)

func TestCertificateDER(t *testing.T) {
	body := bytes.Repeat([]byte{0xAA}, 300)
	long := append([]byte{0x30, 0x82, 0x01, 0x2C}, body...)
	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{"empty file", nil, nil},
		{"absent certificate: zeros (ref §3.1)", make([]byte, 1300), nil},
		{"short form", []byte{0x30, 0x03, 1, 2, 3}, []byte{0x30, 0x03, 1, 2, 3}},
		{"short form with padding", []byte{0x30, 0x03, 1, 2, 3, 0, 0, 0}, []byte{0x30, 0x03, 1, 2, 3}},
		{"long form 81", append([]byte{0x30, 0x81, 0x80}, bytes.Repeat([]byte{1}, 0x80+50)...),
			append([]byte{0x30, 0x81, 0x80}, bytes.Repeat([]byte{1}, 0x80)...)},
		{"long form 82 with 50 zeros", append(append([]byte(nil), long...), make([]byte, 50)...), long},
		{"long form 82 without padding", long, long},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CertificateDER(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) || (tt.want == nil) != (got == nil) {
				t.Errorf("got % X\nwant % X", got, tt.want)
			}
		})
	}
}

func TestCertificateDERErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		reason string
	}{
		{"not a SEQUENCE", []byte{0x31, 0x01, 0}, "starts with 31, not a DER SEQUENCE (30)"},
		{"length missing", []byte{0x30}, "DER length missing"},
		{"indefinite length", []byte{0x30, 0x80, 1, 0, 0}, "DER length byte 80 not supported"},
		{"length of 4 bytes", []byte{0x30, 0x84, 0, 0, 0, 1, 1}, "DER length byte 84 not supported"},
		{"long length truncated", []byte{0x30, 0x82, 0x01}, "DER length truncated"},
		{"body truncated", []byte{0x30, 0x82, 0x01, 0x00, 1, 2, 3}, "certificate of 260 bytes truncated to 7"},
		{"short body truncated", []byte{0x30, 0x05, 1}, "certificate of 7 bytes truncated to 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CertificateDER(tt.in)
			var fe *FormatError
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &fe) || fe.Reason != tt.reason || fe.File != "certificate" {
				t.Errorf("got %v, want %q", err, tt.reason)
			}
		})
	}
}

// The dumps' certificate files: 50 zero bytes after the authentication,
// signing and CA certificates of Alice, none after the root and RRN
// certificates (ref §11.1).
func TestCertificateDERDumps(t *testing.T) {
	f := loadDump(t, "alice-v11-rsa")
	for _, tt := range []struct {
		name    string
		file    []byte
		padding int
	}{
		{"auth", f.AuthCert, 50}, {"sign", f.SignCert, 50}, {"ca", f.CACert, 50},
		{"root", f.RootCert, 0}, {"rrn", f.RRNCert, 0},
	} {
		der, err := CertificateDER(tt.file)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(tt.file)-len(der) != tt.padding {
			t.Errorf("%s: %d bytes of %d kept, want %d padding bytes dropped", tt.name, len(der), len(tt.file), tt.padding)
		}
	}
}
