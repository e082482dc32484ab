package card

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// script is a Transport that expects an exact sequence of commands and
// plays back the responses: the T=0 handling is tested against what real
// cards and stacks send, byte for byte.
type script struct {
	t     *testing.T
	steps [][2]string // hex command, hex response
	i     int
}

func (s *script) Transmit(cmd []byte) ([]byte, error) {
	s.t.Helper()
	if s.i >= len(s.steps) {
		s.t.Fatalf("unexpected command %X after the script ended", cmd)
	}
	want, resp := s.steps[s.i][0], s.steps[s.i][1]
	s.i++
	if got := strings.ToUpper(hex.EncodeToString(cmd)); got != strings.ReplaceAll(want, " ", "") {
		s.t.Fatalf("command %d: got %s, want %s", s.i, got, want)
	}
	if resp == "removed" {
		return nil, ErrCardRemoved
	}
	b, err := hex.DecodeString(strings.ReplaceAll(resp, " ", ""))
	if err != nil {
		s.t.Fatal(err)
	}
	return b, nil
}

func (s *script) done() {
	s.t.Helper()
	if s.i != len(s.steps) {
		s.t.Fatalf("script stopped after %d of %d commands", s.i, len(s.steps))
	}
}

func hexRepeat(b byte, n int) string { return strings.Repeat(hex.EncodeToString([]byte{b}), n) }

func TestReadFile(t *testing.T) {
	sel := "00A4080C063F00DF014031"
	full := hexRepeat(0xAB, 256)
	tests := []struct {
		name  string
		steps [][2]string
		want  int // bytes
		cert  bool
	}{
		{"short block ends the file", [][2]string{{sel, "9000"}, {"00B0000000", hexRepeat(0xAB, 179) + "9000"}}, 179, false},
		{"6C xx is re-sent with the right Le", [][2]string{{sel, "9000"}, {"00B0000000", "6CB3"}, {"00B00000B3", hexRepeat(0xAB, 179) + "9000"}}, 179, false},
		{"6B00 after a full block ends the file", [][2]string{{sel, "9000"}, {"00B0000000", full + "9000"}, {"00B0010000", "6B00"}}, 256, false},
		{"6C on the second block", [][2]string{{sel, "9000"}, {"00B0000000", full + "9000"}, {"00B0010000", "6C10"}, {"00B0010010", hexRepeat(0xAB, 16) + "9000"}}, 272, false},
		{"select by path refused falls back to the FID walk", [][2]string{
			{sel, "6A86"}, {"00A4020C023F00", "9000"}, {"00A4020C02DF01", "9000"}, {"00A4020C024031", "9000"},
			{"00B0000000", hexRepeat(0xAB, 10) + "9000"}}, 10, false},
		{"certificate sized by its DER header, padding not read", [][2]string{
			{sel, "9000"}, {"00B0000000", "308201F0" + hexRepeat(0xAB, 252) + "9000"},
			{"00B00100F4", hexRepeat(0xAB, 0xF4) + "9000"}}, 0x1F4, true},
		{"absent certificate: one block of zeros", [][2]string{{sel, "9000"}, {"00B0000000", hexRepeat(0, 256) + "9000"}}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{t: t, steps: tt.steps}
			c := New(s, "test", nil)
			c.Delay6C = 0
			var size func([]byte) int
			if tt.cert {
				size = derSize
			}
			got, err := c.readFile(PathIdentity, size)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("read %d bytes, want %d", len(got), tt.want)
			}
			s.done()
		})
	}
}

func TestTransmitChaining(t *testing.T) {
	sig := hexRepeat(0x5A, 256)
	s := &script{t: t, steps: [][2]string{
		{"002A9E9A03010203", "6100"},
		{"00C0000000", sig[:200*2] + "6138"},
		{"00C0000038", sig[200*2:] + "9000"},
	}}
	c := New(s, "test", nil)
	data, sw, err := c.Transmit([]byte{0x00, 0x2A, 0x9E, 0x9A, 0x03, 1, 2, 3})
	if err != nil || sw != 0x9000 {
		t.Fatalf("sw %04X err %v", sw, err)
	}
	if !bytes.Equal(data, bytes.Repeat([]byte{0x5A}, 256)) {
		t.Fatalf("got %d bytes", len(data))
	}
	s.done()
	if st := c.Stats(); st.APDUs != 3 {
		t.Fatalf("APDUs %d, want 3", st.APDUs)
	}
}

func TestStatusErrors(t *testing.T) {
	tests := []struct {
		resp  string
		check func(error) bool
	}{
		{"6A82", func(err error) bool {
			var se *StatusError
			return errors.As(err, &se) && se.SW() == 0x6A82 && isNotFound(err)
		}},
		{"63C1", func(err error) bool { var pe *PINError; return errors.As(err, &pe) && pe.Retries == 1 }},
		{"63C0", func(err error) bool { return errors.Is(err, ErrPINBlocked) }},
		{"6983", func(err error) bool { return errors.Is(err, ErrPINBlocked) }},
		{"removed", func(err error) bool { return errors.Is(err, ErrCardRemoved) }},
		{"90", func(err error) bool { return errors.Is(err, ErrUnsupportedCard) }},
	}
	for _, tt := range tests {
		t.Run(tt.resp, func(t *testing.T) {
			s := &script{t: t, steps: [][2]string{{"00200001", tt.resp}}}
			_, err := New(s, "", nil).command("VERIFY", []byte{0x00, 0x20, 0x00, 0x01})
			if !tt.check(err) {
				t.Fatalf("unexpected error %v", err)
			}
		})
	}
}

func TestIsBELPICATR(t *testing.T) {
	tests := []struct {
		atr  string
		want bool
	}{
		{"3B9813400AA503010101AD1311", true},               // 1.1 and 1.7
		{"3B9894400AA503010101AD1310", true},               // 1.0 EMV ATR
		{"3B989440FFA503010101AD1310", true},               // beta 5
		{"3B7F96000080318065B085040120120FFF829000", true}, // 1.8
		{"3B7F96000080318065B085040120120FFF829001", false},
		{"3B8F8001804F0CA000000306030001000000006A", false},
		{"", false},
	}
	for _, tt := range tests {
		b, _ := hex.DecodeString(strings.ReplaceAll(tt.atr, " ", ""))
		if got := IsBELPICATR(b); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.atr, got, tt.want)
		}
	}
}
