package virtual

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

const appletAIDHex = "A0 00 00 00 30 29 05 70 00 AD 13 10 01 01 FF"

func TestATRPerGeneration(t *testing.T) {
	for name, want := range map[string][]byte{
		"citizen-1.1": ATRPre18, "citizen-1.7": ATRPre18, "citizen-1.7-ec": ATRPre18, "citizen-1.8": ATR18,
	} {
		if got := preset(t, name).ATR(); !bytes.Equal(got, want) {
			t.Errorf("%s: ATR %X, want %X", name, got, want)
		}
	}
}

func TestSelect(t *testing.T) {
	c := preset(t, "citizen-1.7")
	run(t, c, []step{
		// Applet AID: eid-mw's P2=00 and the others' 0C, bare 90 00 (ref §2.2).
		{"applet P2=00", cat("00 A4 04 00 0F", appletAIDHex), "=9000"},
		{"applet P2=0C", cat("00 A4 04 0C 0F", appletAIDHex), "=9000"},
		{"applet P2=04", cat("00 A4 04 04 0F", appletAIDHex), "=6A86"},
		{"applet AID longer (prefix match)", cat("00 A4 04 0C 10", appletAIDHex, "01"), "=9000"},
		{"applet AID shorter", cat("00 A4 04 0C 0E A0 00 00 00 30 29 05 70 00 AD 13 10 01 01"), "=6A82"},
		{"unknown AID (PIV)", h("00 A4 04 00 09 A0 00 00 03 08 00 00 10 00 00"), "SW 6A82"},
		{"DF(BELPIC) AID", h("00 A4 04 0C 0C A0 00 00 01 77 50 4B 43 53 2D 31 35"), "=9000"},
		{"read on a DF", h("00 B0 00 00 10"), "=6986"},
		{"EF of the current DF", h("00 A4 02 0C 02 50 32"), "=9000"},
		{"read TokenInfo", h("00 B0 00 00 02"), "30 27 90 00"},
		{"DF(ID) AID", h("00 A4 04 0C 0C A0 00 00 01 77 49 64 46 69 6C 65 73"), "=9000"},
		{"EF 4031 of DF01", h("00 A4 02 0C 02 40 31"), "=9000"},
		{"read identity", h("00 B0 00 00 02"), "01 0C 90 00"},
		{"EF of another DF", h("00 A4 02 0C 02 50 32"), "=6A82"},
		// FID walk, one level at a time (eid-mw, ref §2.3).
		{"FID MF", h("00 A4 02 0C 02 3F 00"), "=9000"},
		{"FID EF from MF", h("00 A4 02 0C 02 40 31"), "=6A82"},
		{"FID DF01", h("00 A4 02 0C 02 DF 01"), "=9000"},
		{"FID current DF", h("00 A4 02 0C 02 DF 01"), "=9000"},
		{"FID 4033", h("00 A4 02 0C 02 40 33"), "=9000"},
		{"FID sibling EF", h("00 A4 02 0C 02 40 35"), "=9000"},
		{"read photo", h("00 B0 00 00 02"), "FF D8 90 00"},
		{"FID 2F00 from DF01", h("00 A4 02 0C 02 2F 00"), "=6A82"},
		{"FID with FCI", h("00 A4 02 00 02 3F 00"), "=6A86"},
		{"FID Lc 3", h("00 A4 02 0C 03 3F 00 DF"), "=6A87"},
		// Paths, with and without 3F00 (ref §2.3).
		{"path with MF", h("00 A4 08 0C 06 3F 00 DF 01 40 31"), "=9000"},
		{"read", h("00 B0 00 00 01"), "01 90 00"},
		{"path without MF", h("00 A4 08 0C 04 DF 00 50 31"), "=9000"},
		{"read ODF", h("00 B0 00 00 01"), "A0 90 00"},
		{"path to 2F00", h("00 A4 08 0C 04 3F 00 2F 00"), "=9000"},
		{"path to a DF", h("00 A4 08 0C 04 3F 00 DF 00"), "=9000"},
		{"read DF", h("00 B0 00 00 00"), "=6986"},
		{"path MF only", h("00 A4 08 0C 02 3F 00"), "=9000"},
		{"path unknown EF", h("00 A4 08 0C 06 3F 00 DF 01 40 99"), "=6A82"},
		{"path through an EF", h("00 A4 08 0C 06 3F 00 2F 00 40 31"), "=6A82"},
		{"path odd length", h("00 A4 08 0C 03 3F 00 DF"), "=6A87"},
		{"path P2=00", h("00 A4 08 00 04 3F 00 DF 00"), "=6A86"},
		// OpenSC's probe for unknown cards (testing doc §6.1).
		{"P1=00", h("00 A4 00 0C 02 3F 00"), "=6A86"},
		{"SELECT with Le", h("00 A4 08 0C 04 3F 00 2F 00 00"), "=9000"},
	})
}

func TestCardManagerSelection(t *testing.T) {
	c := preset(t, "citizen-1.7")
	run(t, c, []step{
		{"empty AID selects the card manager", h("00 A4 04 00 00"), "=9000"},
		{"Belpic command unknown", h("80 E4 00 00 1C"), "=6D00"},
		{"read unknown", h("00 B0 00 00 10"), "=6D00"},
		{"FID select fails", h("00 A4 02 0C 02 3F 00"), "=6A82"},
		{"DF AID not reachable", h("00 A4 04 0C 0C A0 00 00 01 77 50 4B 43 53 2D 31 35"), "=6A82"},
		{"re-select Belpic", cat("00 A4 04 0C 0F", appletAIDHex), "=9000"},
		{"card data again", h("80 E4 00 00 1C"), "SW 9000"},
		{"card manager again", h("00 A4 04 0C"), "=9000"},
	})
	c.Reset()
	run(t, c, []step{{"reset re-selects Belpic", h("80 E4 00 00 1C"), "SW 9000"}})
}

func TestReadBinary(t *testing.T) {
	c := preset(t, "citizen-1.7")
	photo := c.Profile().Files[PathPhoto]
	if len(photo) <= 512 {
		t.Fatalf("photo of %d bytes; the test needs several blocks", len(photo))
	}
	n := len(photo)
	off := n - 10
	run(t, c, []step{
		{"MF current after reset", h("00 B0 00 00 10"), "=6986"},
		{"select photo", h("00 A4 08 0C 06 3F 00 DF 01 40 35"), "=9000"},
		{"Le 00 = 256", h("00 B0 00 00 00"), "SW 9000"},
		{"offset at the end", cat("00 B0", byte(n>>8), byte(n), "10"), "=6B00"},
		{"offset beyond the end", h("00 B0 7F 00 10"), "=6B00"},
		{"offset + Le past the end", cat("00 B0", byte(off>>8), byte(off), "20"), "=6C0A"},
		{"Le 00 past the end", cat("00 B0", byte(off>>8), byte(off), "00"), "=6C0A"},
		{"exact rest", cat("00 B0", byte(off>>8), byte(off), "0A"), "SW 9000"},
		{"P1 bit 8", h("00 B0 80 00 10"), "=6B00"},
		{"with data", h("00 B0 00 00 01 00"), "=6700"},
	})
	if got := c.Transmit(h("00 B0 00 00 00")); len(got) != 258 {
		t.Fatalf("Le 00 gave %d bytes", len(got)-2)
	}
	if got := c.Transmit(h("00 B0 00 00")); len(got) != 258 {
		t.Fatalf("4-byte READ BINARY gave %d bytes, want 256", len(got)-2)
	}
	for _, block := range []int{128, 248, 252, 255} { // minidriver, eid-mw, commons-eid (ref §2.4)
		if got := readFile(t, c, PathPhoto, block); !bytes.Equal(got, photo) {
			t.Errorf("block %d: read %d bytes, want the %d of the file", block, len(got), n)
		}
	}
	// OpenSC: 256-byte blocks (Le 00) until a short block or 6B 00.
	if got := readFile(t, c, PathPhoto, 0); !bytes.Equal(got, photo) {
		t.Errorf("Le 00 loop: read %d bytes, want %d", len(got), n)
	}
}

func TestShortReads(t *testing.T) {
	c := preset(t, "citizen-1.7", WithShortReads())
	id := c.Profile().Files[PathIdentity]
	off := len(id) - 5
	run(t, c, []step{
		{"select", h("00 A4 08 0C 06 3F 00 DF 01 40 31"), "=9000"},
		{"short data with 9000", cat("00 B0", byte(off>>8), byte(off), "FF"), "SW 9000"},
		{"at the end still 6B00", cat("00 B0", byte(len(id)>>8), byte(len(id)), "FF"), "=6B00"},
	})
	resp := c.Transmit(cat("00 B0", byte(off>>8), byte(off), "FF"))
	if !bytes.Equal(resp[:len(resp)-2], id[off:]) {
		t.Fatalf("short read %X, want %X", resp, id[off:])
	}
}

func TestGetCardData(t *testing.T) {
	c17 := preset(t, "citizen-1.7")
	c18 := preset(t, "citizen-1.8")
	c11 := preset(t, "citizen-1.1")
	for _, c := range []*Card{c11, c17, c18} {
		p := c.Profile()
		got := xfer(t, c, h("80 E4 00 00 1C"), 0x9000)
		if len(got) != 28 || !bytes.Equal(got, p.CardData) {
			t.Errorf("%s: card data %X", p.Name, got)
		}
		run(t, c, []step{
			{"Le FF (commons-eid)", h("80 E4 00 00 FF"), "=6C1C"},
			{"Le 00", h("80 E4 00 00 00"), "=6C1C"},
			{"no Le", h("80 E4 00 00"), "=6C1C"},
			{"Le short", h("80 E4 00 00 10"), "=6C1C"},
			{"P1", h("80 E4 01 00 1C"), "=6B00"},
			{"CLA 00", h("00 E4 00 00 1C"), "=6E00"},
		})
	}
	// Byte 21: applet version; 1.1 stores 11 00 (ref §5.2).
	if cd := c11.Profile().CardData; cd[21] != 0x11 || cd[22] != 0x00 {
		t.Errorf("1.1 card data %X", cd)
	}
	if cd := c17.Profile().CardData; cd[21] != 0x17 || cd[25] != 0x21 || cd[27] != 0x0F {
		t.Errorf("1.7 card data %X", cd)
	}
	if cd := c18.Profile().CardData; cd[21] != 0x18 || cd[22] != 0 || cd[23] != 1 {
		t.Errorf("1.8 card data %X", cd)
	}
	run(t, c17, []step{{"P2=01 on 1.7", h("80 E4 00 01 1F"), "=6B00"}})
	run(t, c11, []step{{"P2=01 on 1.1", h("80 E4 00 01 1F"), "=6B00"}})
	// 1.8 P2=01: PIN tries at byte 28, untouched by the query (ref §5).
	ext := xfer(t, c18, h("80 E4 00 01 1F"), 0x9000)
	if len(ext) != 31 || ext[28] != 3 || ext[29] != 0xFF || ext[30] != 0xFF {
		t.Fatalf("1.8 P2=01: %X", ext)
	}
	xfer(t, c18, pinVerify("9999"), 0x63C2)
	if ext := xfer(t, c18, h("80 E4 00 01 1F"), 0x9000); ext[28] != 2 {
		t.Fatalf("tries after a wrong PIN: %X", ext)
	}
	run(t, c18, []step{{"P2=01 wrong Le", h("80 E4 00 01 1C"), "=6C1F"}})
}

func TestGetResponse(t *testing.T) {
	c := preset(t, "citizen-1.7")
	xfer(t, c, mse(0x08, keyAuth), 0x9000)
	xfer(t, c, pinVerify("1234"), 0x9000)
	hash := bytes.Repeat([]byte{0x5A}, 32)
	run(t, c, []step{
		{"nothing pending", h("00 C0 00 00 10"), "=6985"},
		{"PSO CDS without Le", pso(hash), "=6100"},
		{"GET RESPONSE part 1", h("00 C0 00 00 80"), "SW 6180"},
		{"Le too big keeps the rest", h("00 C0 00 00 00"), "=6C80"},
		{"Le bigger still", h("00 C0 00 00 FF"), "=6C80"},
		{"part 2 of 3", h("00 C0 00 00 40"), "SW 6140"},
		{"rest", h("00 C0 00 00 40"), "SW 9000"},
		{"nothing left", h("00 C0 00 00 10"), "=6985"},
		{"PSO CDS with a trailing Le", cat(pso(hash), "00"), "=6100"},
		{"another command drops it", h("80 E4 00 00 1C"), "SW 9000"},
		{"dropped", h("00 C0 00 00 00"), "=6985"},
		{"PSO again", pso(hash), "=6100"},
		{"wrong P1P2 keeps it", h("00 C0 01 00 00"), "=6A86"},
		{"whole at once", h("00 C0 00 00 00"), "SW 9000"},
	})
}

func TestCLAAndINS(t *testing.T) {
	c := preset(t, "citizen-1.7")
	run(t, c, []step{
		{"logical channel 1", h("01 A4 08 0C 02 3F 00"), "=6E00"},
		{"secure messaging", h("0C B0 00 00 10"), "=6E00"},
		{"PC/SC pseudo-APDU", h("FF CA 00 00 00"), "=6E00"},
		{"ISO INS with CLA 80", h("80 A4 08 0C 02 3F 00"), "=6E00"},
		{"GET DATA (OpenSC probe)", h("00 CA DF 30 00"), "=6D00"},
		{"READ BINARY odd (probe)", h("00 CB 3F FF 05 5C 03 5F C1 02 00"), "=6D00"},
		{"READ RECORD on 1.7", h("80 B2 01 01 00"), "=6D00"},
		{"GET PIN STATUS", h("80 EA 00 01 01"), "=6D00"},
		{"too short", h("00 A4 08"), "=6700"},
		{"Lc longer than data", h("00 A4 08 0C 06 3F 00"), "=6700"},
		{"extended length", h("00 A4 08 0C 00 00 02 3F 00"), "=6700"},
	})
	if got := c.Transmit(nil); !bytes.Equal(got, h("6700")) {
		t.Fatalf("empty APDU: %X", got)
	}
}

func TestReadRecord18(t *testing.T) {
	c := preset(t, "citizen-1.8")
	id := c.Profile().Files[PathIdentity]
	var nn []byte
	for _, f := range parseSimpleTLV(id) {
		if f.tag == 0x06 {
			nn = f.raw
		}
	}
	run(t, c, []step{
		{"no EF", h("80 B2 06 06 00"), "=6986"},
		{"select identity", h("00 A4 08 0C 06 3F 00 DF 01 40 31"), "=9000"},
		{"national number", h("80 B2 06 06 00"), hexOf(append(append([]byte{}, nn...), 0x90, 0x00))},
		{"wrong Le", h("80 B2 06 06 05"), "=6C0D"},
		{"absent tag", h("80 B2 1B 1B 00"), "=6A83"},
		{"first > last", h("80 B2 07 06 00"), "=6A86"},
	})
}

func hexOf(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&0xF])
	}
	return string(out)
}

func TestGetChallenge(t *testing.T) {
	c := preset(t, "citizen-1.8")
	a := xfer(t, c, h("00 84 00 00 14"), 0x9000)
	b := xfer(t, c, h("00 84 00 00 00"), 0x9000)
	if len(a) != 20 || len(b) != 256 || bytes.Equal(a, b[:20]) {
		t.Fatalf("challenges %X / %X", a, b)
	}
	run(t, c, []step{{"P1", h("00 84 01 00 08"), "=6A86"}})
}

func TestPowerAndOptions(t *testing.T) {
	var mu sync.Mutex
	var trace [][2][]byte
	c := preset(t, "citizen-1.7", WithDelay(10*time.Microsecond), WithTrace(func(cmd, resp []byte) {
		mu.Lock()
		trace = append(trace, [2][]byte{cmd, resp})
		mu.Unlock()
	}))
	start := time.Now()
	xfer(t, c, h("80 E4 00 00 1C"), 0x9000)
	if d := time.Since(start); d < 35*10*time.Microsecond {
		t.Errorf("WithDelay: GET CARD DATA took %v", d)
	}
	c.PowerOff()
	if got := c.Transmit(h("80 E4 00 00 1C")); got != nil {
		t.Fatalf("unpowered card answered %X", got)
	}
	c.PowerOn()
	xfer(t, c, h("00 A4 08 0C 04 3F 00 DF 01"), 0x9000)
	if c.Count() != 2 || len(trace) != 2 {
		t.Fatalf("count %d, trace %d, want 2", c.Count(), len(trace))
	}
	if !bytes.Equal(trace[1][0], h("00 A4 08 0C 04 3F 00 DF 01")) || !bytes.Equal(trace[1][1], h("9000")) {
		t.Fatalf("trace %X", trace[1])
	}
}

// TestConcurrentTransmit checks the card serialises callers (run with
// -race): every answer is a complete, valid response.
func TestConcurrentTransmit(t *testing.T) {
	c := preset(t, "citizen-1.8")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if s := swOf(c.Transmit(h("80 E4 00 00 1C"))); s != 0x9000 {
					t.Errorf("SW %04X", s)
					return
				}
				c.Transmit(h("00 A4 08 0C 06 3F 00 DF 01 40 31"))
				c.Transmit(h("00 B0 00 00 10"))
			}
		}()
	}
	wg.Wait()
}
