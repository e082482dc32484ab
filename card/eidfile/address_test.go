package eidfile

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Address
	}{
		{"padded to 121 bytes (ref §4.3)",
			append(tlv(1, 18, "Meirplaats 1 bus 1", 2, 4, "2000", 3, 9, "Antwerpen"), make([]byte, 84)...),
			Address{"Meirplaats 1 bus 1", "2000", "Antwerpen"}},
		{"structure version tag 00 first",
			append(tlv(0, 2, 0, 2, 1, 5, "Rue 1", 2, 4, "1000", 3, 9, "Bruxelles"), make([]byte, 20)...),
			Address{"Rue 1", "1000", "Bruxelles"}},
		{"UTF-8", tlv(1, 11, "Chaussée 7", 2, 4, "4000", 3, 6, "Liège"), Address{"Chaussée 7", "4000", "Liège"}},
		{"empty fields", tlv(1, 0, 2, 0, 3, 0, 0, 0), Address{}},
		{"unknown later tag ignored", tlv(1, 1, "a", 2, 1, "b", 3, 1, "c", 4, 1, "d"), Address{"a", "b", "c"}},
		{"zeros only", make([]byte, 117), Address{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAddress(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	_, err := ParseAddress(tlv(1, 30, "short"))
	var fe *FormatError
	if !errors.As(err, &fe) || fe.File != "address" || !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated address: %v", err)
	}
}

func TestTrimTrailingZeros(t *testing.T) {
	tests := []struct{ in, want []byte }{
		{nil, nil},
		{[]byte{0, 0, 0}, []byte{}},
		{[]byte{1, 2, 3}, []byte{1, 2, 3}},
		{[]byte{1, 0, 3, 0, 0}, []byte{1, 0, 3}},
		// A leading tag 00 and an empty field survive: only the end is cut
		// (ref §4.1).
		{[]byte{0, 2, 0, 2, 1, 0, 2, 1, 'x', 0, 0}, []byte{0, 2, 0, 2, 1, 0, 2, 1, 'x'}},
	}
	for _, tt := range tests {
		if got := TrimTrailingZeros(tt.in); !bytes.Equal(got, tt.want) {
			t.Errorf("TrimTrailingZeros(% X) = % X, want % X", tt.in, got, tt.want)
		}
	}
}
