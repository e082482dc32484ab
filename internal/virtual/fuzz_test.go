package virtual

import "testing"

// FuzzTransmit feeds arbitrary APDU sequences to fresh cards of each
// generation: the card must never panic and must always answer at least a
// status word. The input is a generation selector byte, then APDUs each
// prefixed by a length byte, so that the fuzzer reaches stateful paths
// (selected files, SE, PIN rights, pending GET RESPONSE data).
func FuzzTransmit(f *testing.F) {
	seeds := [][]byte{
		h("0C 00A4080C063F00DF014031 05 00B0000000"),
		h("0A 00A4080C063F00DF014035 05 00B000FF10 05 00B0000800"),
		cat("0A", len(mse(0x08, keyAuth)), mse(0x08, keyAuth), len(pinVerify("1234")), pinVerify("1234"), "25", pso(make([]byte, 32)), "05 00C0000080 05 00C0000000"),
		cat("01", len(mse(0x02, keyNonRepudiation)), mse(0x02, keyNonRepudiation), len(pinVerify("1234")), pinVerify("1234"), "05 80E400001C 35", pso(make([]byte, 48)), "05 00C0000060"),
		cat("01 3A 00880281329430", make([]byte, 48), "05 00C0000060"),
		h("02 05 80E4000000 04 00200001 05 80E6000000 05 80B2010100 05 00840000FF"),
		h("00 05 00A4040000 05 80E400001C 14 00A4040C0FA000000030290570 00AD13100101FF"),
		h("00 15 0024000110241234FFFFFFFFFF245678FFFFFFFFFF"),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	profiles := make([]*Profile, 0, 3)
	for _, name := range []string{"citizen-1.1", "citizen-1.7", "citizen-1.8"} {
		p, err := Preset(name)
		if err != nil {
			f.Fatal(err)
		}
		profiles = append(profiles, p)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		c := New(profiles[int(in[0])%len(profiles)], WithShortReads())
		if in[0]&0x80 != 0 {
			c = New(profiles[int(in[0])%len(profiles)])
		}
		rest := in[1:]
		for n := 0; len(rest) > 0 && n < 32; n++ {
			l := int(rest[0])
			rest = rest[1:]
			if l > len(rest) {
				l = len(rest)
			}
			resp := c.Transmit(rest[:l])
			rest = rest[l:]
			if len(resp) < 2 || len(resp) > 258 {
				t.Fatalf("answer of %d bytes to %X", len(resp), in)
			}
			switch resp[len(resp)-2] {
			case 0x90, 0x61, 0x62, 0x63, 0x67, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E:
			default:
				t.Fatalf("SW %X to %X", resp[len(resp)-2:], in)
			}
		}
	})
}
