package virtual

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// h decodes hex with spaces; it panics on bad input (test tables only).
func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(fmt.Sprintf("bad hex %q: %v", s, err))
	}
	return b
}

// cat joins hex strings and byte slices into one APDU.
func cat(parts ...any) []byte {
	var out []byte
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			out = append(out, h(v)...)
		case []byte:
			out = append(out, v...)
		case byte:
			out = append(out, v)
		case int:
			out = append(out, byte(v))
		default:
			panic(fmt.Sprintf("cat: %T", p))
		}
	}
	return out
}

func swOf(resp []byte) int {
	if len(resp) < 2 {
		return -1
	}
	return int(resp[len(resp)-2])<<8 | int(resp[len(resp)-1])
}

// step is one APDU and what must come back: want is either the full
// response in hex, or "SW xxxx" to check only the status word (data of any
// length allowed), or "=xxxx" for a bare status word without data.
type step struct {
	name string
	cmd  []byte
	want string
}

func run(t *testing.T, c *Card, steps []step) {
	t.Helper()
	for i, s := range steps {
		resp := c.Transmit(s.cmd)
		ok := false
		switch {
		case strings.HasPrefix(s.want, "SW "):
			ok = fmt.Sprintf("%04X", swOf(resp)) == strings.ToUpper(s.want[3:])
		case strings.HasPrefix(s.want, "="):
			ok = len(resp) == 2 && fmt.Sprintf("%04X", swOf(resp)) == strings.ToUpper(s.want[1:])
		default:
			ok = bytes.Equal(resp, h(s.want))
		}
		if !ok {
			t.Fatalf("step %d %q: %X -> %X, want %s", i, s.name, s.cmd, resp, s.want)
		}
	}
}

// preset returns a card on a preset profile.
func preset(t testing.TB, name string, opts ...Option) *Card {
	t.Helper()
	p, err := Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return New(p, opts...)
}

// xfer sends an APDU and fails unless the status word is want; it returns
// the data.
func xfer(t testing.TB, c *Card, cmd []byte, want int) []byte {
	t.Helper()
	resp := c.Transmit(cmd)
	if swOf(resp) != want {
		t.Fatalf("%X -> %X, want SW %04X", cmd, resp, want)
	}
	return resp[:len(resp)-2]
}

// readFile selects a path and reads it in blocks of n bytes the way eid-mw
// does: until a short block, 6B 00, or after resolving 6C xx (ref §2.4).
func readFile(t testing.TB, c *Card, path string, n int) []byte {
	t.Helper()
	p := h(path)
	xfer(t, c, cat("00 A4 08 0C", len(p), p), 0x9000)
	var out []byte
	for {
		resp := c.Transmit(cat("00 B0", byte(len(out)>>8), byte(len(out)), byte(n)))
		switch s := swOf(resp); {
		case s == 0x9000:
			out = append(out, resp[:len(resp)-2]...)
			if len(resp)-2 < n {
				return out
			}
		case s == 0x6B00:
			return out
		case s&0xFF00 == 0x6C00:
			resp = c.Transmit(cat("00 B0", byte(len(out)>>8), byte(len(out)), byte(s)))
			if swOf(resp) != 0x9000 {
				t.Fatalf("re-read after 6C: %X", resp)
			}
			return append(out, resp[:len(resp)-2]...)
		default:
			t.Fatalf("READ BINARY %s at %d: %X", path, len(out), resp)
		}
	}
}

func pinVerify(pin string) []byte {
	b, err := pinBlock(pin)
	if err != nil {
		panic(err)
	}
	return cat("00 20 00 01 08", b)
}

func mse(alg, key byte) []byte { return cat("00 22 41 B6 05 04 80", alg, "84", key) }

func pso(in []byte) []byte { return cat("00 2A 9E 9A", len(in), in) }

// signFlow runs PSO CDS and fetches the signature with GET RESPONSE,
// checking the 61 xx announcement.
func signFlow(t testing.TB, c *Card, in []byte) []byte {
	t.Helper()
	resp := c.Transmit(pso(in))
	s := swOf(resp)
	if len(resp) != 2 || s&0xFF00 != 0x6100 {
		t.Fatalf("PSO CDS: %X, want 61 xx", resp)
	}
	return xfer(t, c, cat("00 C0 00 00", byte(s)), 0x9000)
}
