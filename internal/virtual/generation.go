package virtual

import "fmt"

// Applet versions a Profile can name.
const (
	Applet11 = "1.1"
	Applet17 = "1.7"
	Applet18 = "1.8"
)

// ATRs per generation (ref §1.2). Applets 1.1 and 1.7 share one ATR; both are
// T=0 only (ref §1.3).
var (
	ATRPre18 = []byte{0x3B, 0x98, 0x13, 0x40, 0x0A, 0xA5, 0x03, 0x01, 0x01, 0x01, 0xAD, 0x13, 0x11}
	ATR18    = []byte{0x3B, 0x7F, 0x96, 0x00, 0x00, 0x80, 0x31, 0x80, 0x65, 0xB0, 0x85, 0x04, 0x01, 0x20, 0x12, 0x0F, 0xFF, 0x82, 0x90, 0x00}
)

// generation holds what differs in the applet's behaviour between versions.
type generation struct {
	version byte // GET CARD DATA byte 21 (ref §5)
	// emptyVerifyIsTry: an empty VERIFY burns a try on 1.1 instead of
	// querying the status (ref §7.3).
	emptyVerifyIsTry bool
	// nrGap is how many other commands may sit between the VERIFY and the
	// key-83 PSO CDS: none on 1.7, one on 1.8 (ref §8.4 rule 1).
	nrGap int
	// algs are the MSE SET algorithm bytes the applet accepts (ref §8.2).
	algs []byte
	// ec: algorithm bytes name ECDSA variants and signatures are raw r‖s.
	ec bool
	// cardDataExt: GET CARD DATA P2=01 (PIN tries) exists (ref §5).
	cardDataExt bool
	// readRecord: READ RECORD of one TLV field exists (ref §4.1).
	readRecord bool
}

func generationOf(applet string) (generation, error) {
	switch applet {
	case Applet11:
		// 1.1 predates the 1.7 "at most one command" rule; treat it like 1.7.
		return generation{version: 0x11, emptyVerifyIsTry: true, algs: []byte{0x01, 0x02, 0x04}}, nil
	case Applet17:
		return generation{version: 0x17, algs: []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20}}, nil
	case Applet18:
		return generation{version: 0x18, nrGap: 1, ec: true, cardDataExt: true, readRecord: true,
			algs: []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40}}, nil
	}
	return generation{}, fmt.Errorf("unknown applet version %q (want %q, %q or %q)", applet, Applet11, Applet17, Applet18)
}

func (g generation) acceptsAlg(alg byte) bool {
	for _, a := range g.algs {
		if a == alg {
			return true
		}
	}
	return false
}
