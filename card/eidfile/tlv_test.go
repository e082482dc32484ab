package eidfile

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// tlv builds a byte string from byte values and strings, for readable
// test inputs.
func tlv(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			b = append(b, byte(v))
		case string:
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		default:
			panic(fmt.Sprintf("tlv: %T", p))
		}
	}
	return b
}

func fieldsString(fs []Field) string {
	var sb strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&sb, "%02X:%q ", f.Tag, f.Value)
	}
	return sb.String()
}

func TestParseTLV(t *testing.T) {
	long := bytes.Repeat([]byte{'x'}, 265)
	tests := []struct {
		name string
		in   []byte
		want []Field
	}{
		{"empty file", nil, nil},
		{"zeros only", make([]byte, 117), nil},
		{"one field", tlv(1, 3, "abc"), []Field{{1, []byte("abc")}}},
		{"empty fields", tlv(1, 0, 9, 0, 0x0E, 0), []Field{{1, []byte{}}, {9, []byte{}}, {0x0E, []byte{}}}},
		{"empty last field", tlv(1, 1, "a", 0x14, 0), []Field{{1, []byte("a")}, {0x14, []byte{}}}},
		{"padding after fields", tlv(1, 1, "a", 3, 1, "b", make([]byte, 50)),
			[]Field{{1, []byte("a")}, {3, []byte("b")}}},
		{"tag 00 after the first field stops parsing", tlv(1, 1, "a", 0, 5, 7, 7, 7),
			[]Field{{1, []byte("a")}}},
		{"leading structure version tag 00", tlv(0, 2, 0, 2, 1, 1, "a", 0, 0),
			[]Field{{0, []byte{0, 2}}, {1, []byte("a")}}},
		{"value ending in zeros at the end of the file", tlv(1, 1, "a", 0x11, 3, 9, 0, 0),
			[]Field{{1, []byte("a")}, {0x11, []byte{9, 0, 0}}}},
		{"length 254", tlv(1, 254, bytes.Repeat([]byte{'y'}, 254)), []Field{{1, bytes.Repeat([]byte{'y'}, 254)}}},
		{"length FF 00 = 255", tlv(1, 0xFF, 0, bytes.Repeat([]byte{'z'}, 255)), []Field{{1, bytes.Repeat([]byte{'z'}, 255)}}},
		{"length FF 0A = 265 (ref §4.1)", tlv(1, 0xFF, 0x0A, long, 2, 0), []Field{{1, long}, {2, []byte{}}}},
		{"length FF FF 02 = 512", tlv(7, 0xFF, 0xFF, 2, bytes.Repeat([]byte{1}, 512)), []Field{{7, bytes.Repeat([]byte{1}, 512)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTLV(tt.in, "test")
			if err != nil {
				t.Fatalf("ParseTLV: %v", err)
			}
			if fieldsString(got) != fieldsString(tt.want) {
				t.Errorf("got  %s\nwant %s", fieldsString(got), fieldsString(tt.want))
			}
		})
	}
}

func TestParseTLVErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		offset int
		reason string
	}{
		{"length missing", tlv(1, 1, "a", 2), 3, "tag 02: length missing"},
		{"FF run without a final byte", tlv(1, 0xFF, 0xFF), 0, "tag 01: length missing"},
		{"value truncated", tlv(1, 5, "abc"), 0, "tag 01: value of 5 bytes runs past the end of the file (3 left)"},
		{"long value truncated", tlv(1, 0xFF, 1, "abc"), 0, "tag 01: value of 256 bytes runs past the end of the file (3 left)"},
		{"descending tags", tlv(2, 1, "a", 1, 1, "b"), 3, "tag 01 after tag 02: tags must be ascending"},
		{"repeated tag", tlv(1, 1, "a", 1, 1, "b"), 3, "tag 01 after tag 01: tags must be ascending"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTLV(tt.in, "identity")
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != "identity" || fe.Offset != tt.offset || fe.Reason != tt.reason {
				t.Errorf("got %#v, want offset %d reason %q", err, tt.offset, tt.reason)
			}
		})
	}
}

func TestEncodeTLV(t *testing.T) {
	tests := []struct {
		n      int
		header []byte
	}{
		{0, []byte{1, 0}},
		{1, []byte{1, 1}},
		{254, []byte{1, 254}},
		{255, []byte{1, 0xFF, 0}},
		{265, []byte{1, 0xFF, 0x0A}},
		{510, []byte{1, 0xFF, 0xFF, 0}},
	}
	for _, tt := range tests {
		v := bytes.Repeat([]byte{'v'}, tt.n)
		got := EncodeTLV([]Field{{1, v}})
		if want := append(append([]byte(nil), tt.header...), v...); !bytes.Equal(got, want) {
			t.Errorf("length %d: header % X", tt.n, got[:len(tt.header)])
		}
		back, err := ParseTLV(got, "test")
		if err != nil || len(back) != 1 || !bytes.Equal(back[0].Value, v) {
			t.Errorf("length %d: round trip gave %v, %v", tt.n, back, err)
		}
	}
	if got := EncodeTLV(nil); len(got) != 0 {
		t.Errorf("EncodeTLV(nil) = % X", got)
	}
}

// The shared dumps re-encode to the bytes they were parsed from (the
// identity file exactly, the address file up to its padding).
func TestTLVRoundTripDumps(t *testing.T) {
	for name := range dumpFiles {
		f := loadDump(t, name)
		for file, b := range map[string][]byte{"identity": f.Identity, "address": f.Address} {
			fields, err := ParseTLV(b, file)
			if err != nil {
				t.Fatalf("%s %s: %v", name, file, err)
			}
			if got := EncodeTLV(fields); !bytes.Equal(got, TrimTrailingZeros(b)) {
				t.Errorf("%s %s: re-encoded\n% X\nwant\n% X", name, file, got, TrimTrailingZeros(b))
			}
		}
	}
}
