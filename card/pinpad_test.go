package card

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/eid-agent/eid-agent/internal/testkit"
	"github.com/eid-agent/eid-agent/internal/virtual"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPINBlock checks the format-2 blocks of ref §7.2 and the refusals.
func TestPINBlock(t *testing.T) {
	cases := []struct{ pin, block string }{
		{"1234", "24 12 34 FF FF FF FF FF"},
		{"12345", "25 12 34 5F FF FF FF FF"},
		{"123456789012", "2C 12 34 56 78 90 12 FF"},
		{"0000", "24 00 00 FF FF FF FF FF"},
		{"", ""}, {"123", ""}, {"1234567890123", ""}, {"12 4", ""}, {"١٢٣٤", ""},
	}
	for _, tc := range cases {
		got, err := pinBlock([]byte(tc.pin))
		if tc.block == "" {
			if !errors.Is(err, ErrPINFormat) {
				t.Errorf("%q: %X %v, want ErrPINFormat", tc.pin, got, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, unhex(t, tc.block)) {
			t.Errorf("%q: % X %v, want %s", tc.pin, got, err, tc.block)
		}
		if err != nil && strings.Contains(err.Error(), tc.pin) {
			t.Errorf("the error shows the PIN: %v", err)
		}
	}
}

// TestPinpadStructures compares the part 10 structures with the table of
// ref §7.7, wLangId little-endian.
func TestPinpadStructures(t *testing.T) {
	verify := unhex(t, "1E 1E 89 47 04 0C 04 02 01 09 04 00 00 00 00 0D 00 00 00"+
		"00 20 00 01 08 20 FF FF FF FF FF FF FF")
	if got := pinVerifyStructure(0x0409, 12); !bytes.Equal(got, verify) || len(got) != 32 {
		t.Errorf("PIN_VERIFY_STRUCTURE\n got % X\nwant % X", got, verify)
	}
	modify := unhex(t, "1E 1E 89 47 04 00 08 0C 04 03 02 03 13 08 00 01 02 00 00 00 15 00 00 00"+
		"00 24 00 01 10 20 FF FF FF FF FF FF FF 20 FF FF FF FF FF FF FF")
	if got := pinModifyStructure(0x0813, 12); !bytes.Equal(got, modify) || len(got) != 45 {
		t.Errorf("PIN_MODIFY_STRUCTURE\n got % X\nwant % X", got, modify)
	}
	// The length fields say what follows.
	if v := pinVerifyStructure(0x0409, 8); binary.LittleEndian.Uint32(v[15:19]) != uint32(len(v)-19) || v[5] != 8 {
		t.Errorf("verify: % X", v)
	}
	if m := pinModifyStructure(0x0409, 8); binary.LittleEndian.Uint32(m[20:24]) != uint32(len(m)-24) || m[7] != 8 {
		t.Errorf("modify: % X", m)
	}
}

func TestPinpadControlCode(t *testing.T) {
	if ctlCode(3400) != 0x42000D48 && ctlCode(3400) != 0x00313520 {
		t.Errorf("SCARD_CTL_CODE(3400) = %08X", ctlCode(3400))
	}
}

func TestPinpadFeatures(t *testing.T) {
	cases := []struct {
		in   string
		want map[byte]uint32
		err  bool
	}{
		// The example of ref §7.7.
		{"06 04 00 31 20 30 07 04 00 31 20 34", map[byte]uint32{6: 0x00312030, 7: 0x00312034}, false},
		// pcsc-lite's CCID driver style codes, other features, tag 80.
		{"01 04 42 33 00 01 06 04 42 33 00 06 0A 04 42 33 00 0A 80 02 01 02", map[byte]uint32{1: 0x42330001, 6: 0x42330006, 0x0A: 0x4233000A}, false},
		{"", map[byte]uint32{}, false},
		{"06 04 00 31 20", nil, true},
		{"06", nil, true},
	}
	for _, tc := range cases {
		got, err := parseFeatures(unhex(t, tc.in))
		if tc.err {
			if err == nil {
				t.Errorf("%s: no error", tc.in)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("%s: %v %v", tc.in, got, err)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: tag %02X = %08X, want %08X", tc.in, k, got[k], v)
			}
		}
	}
}

func TestPinpadResult(t *testing.T) {
	cases := []struct {
		sw    uint16
		check func(error) bool
	}{
		{0x9000, func(err error) bool { return err == nil }},
		{0x6400, func(err error) bool { return errors.Is(err, ErrPINTimeout) }},
		{0x6401, func(err error) bool { return errors.Is(err, ErrPINCancelled) }},
		{0x6402, func(err error) bool { return errors.Is(err, ErrPINMismatch) }},
		{0x6403, func(err error) bool { return errors.Is(err, ErrPINFormat) }},
		{0x6B80, func(err error) bool { return errors.Is(err, ErrPINPad) }},
		{0x63C2, func(err error) bool {
			var pe *PINError
			return errors.As(err, &pe) && pe.Retries == 2 && !errors.Is(err, ErrPINBlocked)
		}},
		{0x63C0, func(err error) bool { return errors.Is(err, ErrPINBlocked) }},
		{0x6983, func(err error) bool { return errors.Is(err, ErrPINBlocked) }},
		{0x6A80, func(err error) bool {
			var se *StatusError
			return errors.As(err, &se) && se.SW() == 0x6A80
		}},
	}
	for _, tc := range cases {
		if err := pinPadResult("VERIFY", tc.sw); !tc.check(err) {
			t.Errorf("%04X: %v", tc.sw, err)
		}
	}
}

// fakePinPad is a PIN-pad reader in front of a virtual card: a Transport
// and a Controller. For VERIFY_PIN_DIRECT and MODIFY_PIN_DIRECT it does
// what a CCID reader does with the structure — reads the digits "typed" on
// its keypad, puts them into the APDU template where the structure says,
// sends the APDU to the card — and answers the card's status word, or the
// reader status set in result (64 00 timeout, 64 01 cancel, ...) without
// talking to the card.
type fakePinPad struct {
	vc       *virtual.Card
	features []byte
	typed    []string // PINs typed, in order (modify: current, new)
	result   uint16   // a reader-made status word instead of the card's
	controls [][]byte // structures received
	mu       sync.Mutex
}

const (
	fakeVerifyCode = 0x42330006
	fakeModifyCode = 0x42330007
)

func newFakePinPad(p *virtual.Profile, typed ...string) *fakePinPad {
	return &fakePinPad{
		vc:       virtual.New(p),
		features: []byte{0x06, 0x04, 0x42, 0x33, 0x00, 0x06, 0x07, 0x04, 0x42, 0x33, 0x00, 0x07},
		typed:    typed,
	}
}

func (f *fakePinPad) Transmit(cmd []byte) ([]byte, error) { return f.vc.Transmit(cmd), nil }

func (f *fakePinPad) Control(code uint32, in []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.controls = append(f.controls, append([]byte(nil), in...))
	switch code {
	case ioctlGetFeatureRequest:
		return f.features, nil
	case fakeVerifyCode:
		if len(in) < 19 {
			return []byte{0x6B, 0x80}, nil
		}
		return f.run(in[2], in[4], in[5], in[6], in[19:], []int{0}, int(binary.LittleEndian.Uint32(in[15:19])))
	case fakeModifyCode:
		if len(in) < 24 {
			return []byte{0x6B, 0x80}, nil
		}
		return f.run(in[2], in[4], in[7], in[8], in[24:], []int{int(in[5]), int(in[6])}, int(binary.LittleEndian.Uint32(in[20:24])))
	}
	return nil, errors.New("fake reader: unknown control code")
}

// run fills a format-2 template: for each PIN, the digits in BCD from the
// byte given by bmFormatString's position (1, after the 2L byte), the
// count in the nibble bmPINLengthFormat points at (bit 4 of the block).
func (f *fakePinPad) run(format, lengthFormat, maxDigits, minDigits byte, apdu []byte, offsets []int, dataLen int) ([]byte, error) {
	if dataLen != len(apdu) || format != 0x89 || lengthFormat != 0x04 || len(apdu) < 5 {
		return []byte{0x6B, 0x80}, nil
	}
	if f.result != 0 {
		return []byte{byte(f.result >> 8), byte(f.result)}, nil
	}
	cmd := append([]byte(nil), apdu...)
	pos := int(format>>3) & 0x0F
	for i, off := range offsets {
		pin := f.typed[i]
		if len(pin) < int(minDigits) || len(pin) > int(maxDigits) {
			return []byte{0x64, 0x03}, nil
		}
		block := cmd[5+off : 5+off+8]
		block[0] = block[0]&0xF0 | byte(len(pin))
		for j := 0; j < len(pin); j++ {
			n := 2*pos + j
			d := pin[j] - '0'
			if n%2 == 0 {
				block[n/2] = d<<4 | block[n/2]&0x0F
			} else {
				block[n/2] = block[n/2]&0xF0 | d
			}
		}
	}
	resp := f.vc.Transmit(cmd)
	return resp[len(resp)-2:], nil
}

func (f *fakePinPad) structures() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.controls) - 1 // minus the feature request
}

func pinpadPreset(t *testing.T, name string) *virtual.Profile {
	t.Helper()
	p, err := virtual.Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// noPrompt fails the test when the dialog is used although the PIN pad
// should be.
func noPrompt(t *testing.T) PINPrompt {
	return func(context.Context, PINRequest) ([]byte, error) {
		t.Error("the PIN dialog was asked on a PIN-pad reader")
		return nil, ErrPINCancelled
	}
}

// TestPinpadSign signs with the PIN typed on the reader: the dialog is
// never asked, the reader gets the structure of ref §7.7 once per PIN.
func TestPinpadSign(t *testing.T) {
	for _, name := range []string{"citizen-1.1", "citizen-1.7", "citizen-1.8"} {
		for _, role := range []KeyRole{KeySigning, KeyAuthentication} {
			t.Run(name+"/"+string(role), func(t *testing.T) {
				pad := newFakePinPad(pinpadPreset(t, name), "1234")
				c := New(pad, "Some Reader With PIN Pad 00 00", nil)
				if has, err := c.HasPINPad(); !has || err != nil {
					t.Fatalf("HasPINPad: %v %v", has, err)
				}
				k, err := c.Key(role, noPrompt(t))
				if err != nil {
					t.Fatal(err)
				}
				d := sha512.Sum384([]byte("x"))
				for range 3 {
					sig, err := k.Sign(rand.Reader, d[:], crypto.SHA384)
					if err != nil {
						t.Fatal(err)
					}
					testkit.VerifySignature(t, k.Public(), d[:], sig, crypto.SHA384)
				}
				want := 1
				if role == KeySigning {
					want = 3
				}
				if pad.structures() != want {
					t.Errorf("%d PIN-pad operations for 3 signatures, want %d", pad.structures(), want)
				}
				if got := pad.controls[1]; !bytes.Equal(got, pinVerifyStructure(0x0409, 12)) {
					t.Errorf("structure % X", got)
				}
			})
		}
	}
}

// TestPinpadOutcomes maps what the reader answers.
func TestPinpadOutcomes(t *testing.T) {
	cases := []struct {
		name   string
		typed  string
		result uint16
		check  func(error) bool
		tries  int
	}{
		{"wrong PIN", "9999", 0, func(err error) bool {
			var pe *PINError
			return errors.As(err, &pe) && pe.Retries == 2
		}, 2},
		{"too short", "12", 0, func(err error) bool { return errors.Is(err, ErrPINFormat) }, 3},
		{"timeout", "1234", 0x6400, func(err error) bool { return errors.Is(err, ErrPINTimeout) }, 3},
		{"cancelled", "1234", 0x6401, func(err error) bool { return errors.Is(err, ErrPINCancelled) }, 3},
		{"invalid parameter", "1234", 0x6B80, func(err error) bool { return errors.Is(err, ErrPINPad) }, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pad := newFakePinPad(pinpadPreset(t, "citizen-1.8"), tc.typed)
			pad.result = tc.result
			c := New(pad, "PIN pad", nil)
			k, err := c.Key(KeySigning, noPrompt(t))
			if err != nil {
				t.Fatal(err)
			}
			d := sha512.Sum384([]byte("x"))
			_, err = k.Sign(rand.Reader, d[:], crypto.SHA384)
			if !tc.check(err) {
				t.Fatalf("err %v", err)
			}
			if pad.vc.PINTries() != tc.tries {
				t.Errorf("tries %d, want %d", pad.vc.PINTries(), tc.tries)
			}
			if pad.structures() != 1 {
				t.Errorf("%d PIN-pad operations: a PIN is never retried", pad.structures())
			}
		})
	}
}

// TestPinpadChangePIN changes the PIN on the reader (MODIFY_PIN_DIRECT),
// then signs with the new PIN typed on it.
func TestPinpadChangePIN(t *testing.T) {
	for _, name := range []string{"citizen-1.1", "citizen-1.7", "citizen-1.8"} {
		t.Run(name, func(t *testing.T) {
			pad := newFakePinPad(pinpadPreset(t, name), "1234", "24680")
			c := New(pad, "PIN pad", nil)
			c.SetPINPadLanguage(0x080C)
			if err := c.ChangePIN(noPrompt(t)); err != nil {
				t.Fatal(err)
			}
			if got, want := pad.controls[1], pinModifyStructure(0x080C, 12); !bytes.Equal(got, want) {
				t.Errorf("structure % X, want % X", got, want)
			}
			pad.typed = []string{"24680"}
			k, err := c.Key(KeySigning, noPrompt(t))
			if err != nil {
				t.Fatal(err)
			}
			d := sha512.Sum512([]byte("x"))
			sig, err := k.Sign(rand.Reader, d[:], crypto.SHA512)
			if err != nil {
				t.Fatal(err)
			}
			testkit.VerifySignature(t, k.Public(), d[:], sig, crypto.SHA512)
			pad.typed = []string{"1234"}
			if _, err := k.Sign(rand.Reader, d[:], crypto.SHA512); !isRetries(err, 2) {
				t.Errorf("old PIN: %v", err)
			}
			// The reader's own refusals.
			for sw, want := range map[uint16]error{0x6402: ErrPINMismatch, 0x6401: ErrPINCancelled, 0x6403: ErrPINFormat} {
				pad.result = sw
				if err := c.ChangePIN(noPrompt(t)); !errors.Is(err, want) {
					t.Errorf("%04X: %v", sw, err)
				}
			}
		})
	}
}

func isRetries(err error, n int) bool {
	var pe *PINError
	return errors.As(err, &pe) && pe.Retries == n
}

// TestPinpadGemPC: the GemPC Pinpad sends an empty VERIFY first, a wrong
// PIN on applet 1.1 (ref §7.3): there the dialog is used instead; on later
// applets it is a PIN pad for at most 8 digits (ref §7.7).
func TestPinpadGemPC(t *testing.T) {
	for _, tc := range []struct {
		profile string
		usePad  bool
	}{{"citizen-1.1", false}, {"citizen-1.7", true}, {"citizen-1.8", true}} {
		t.Run(tc.profile, func(t *testing.T) {
			pad := newFakePinPad(pinpadPreset(t, tc.profile), "1234")
			c := New(pad, "Gemplus GemPC Pinpad 00 00", nil)
			prompts := 0
			k, err := c.Key(KeySigning, func(context.Context, PINRequest) ([]byte, error) {
				prompts++
				return []byte("1234"), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			d := sha512.Sum384([]byte("x"))
			if _, err := k.Sign(rand.Reader, d[:], crypto.SHA384); err != nil {
				t.Fatal(err)
			}
			if tc.usePad {
				if prompts != 0 || pad.structures() != 1 || pad.controls[1][5] != 8 {
					t.Errorf("dialogs %d, PIN-pad operations %d", prompts, pad.structures())
				}
			} else if prompts != 1 || pad.structures() != 0 {
				t.Errorf("1.1 on a GemPC Pinpad: dialogs %d, PIN-pad operations %d", prompts, pad.structures())
			}
		})
	}
}

// TestPinpadAbsent: a reader that does not answer the feature request, or
// has no direct PIN features, means the dialog.
func TestPinpadAbsent(t *testing.T) {
	for _, features := range [][]byte{nil, {0x0A, 0x04, 0x42, 0x33, 0x00, 0x0A}, {0x06}} {
		pad := newFakePinPad(pinpadPreset(t, "citizen-1.8"), "0000")
		pad.features = features
		c := New(pad, "reader", nil)
		if has, err := c.HasPINPad(); has || err != nil {
			t.Errorf("% X: %v %v", features, has, err)
		}
	}
	// A transport whose Control fails (vpcd's SCARD_E_UNSUPPORTED_FEATURE).
	vc := virtual.New(pinpadPreset(t, "citizen-1.8"))
	c := New(controlFails{vc, errors.New("unsupported feature")}, "reader", nil)
	if has, err := c.HasPINPad(); has || err != nil {
		t.Errorf("failing Control: %v %v", has, err)
	}
	// A card removed during the feature request is an error.
	c = New(controlFails{vc, ErrCardRemoved}, "reader", nil)
	if _, err := c.HasPINPad(); !errors.Is(err, ErrCardRemoved) {
		t.Errorf("removed: %v", err)
	}
}

type controlFails struct {
	vc  *virtual.Card
	err error
}

func (f controlFails) Transmit(cmd []byte) ([]byte, error)    { return f.vc.Transmit(cmd), nil }
func (f controlFails) Control(uint32, []byte) ([]byte, error) { return nil, f.err }
