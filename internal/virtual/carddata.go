package virtual

import "crypto/rand"

// Lengths of the GET CARD DATA answers (ref §5).
const (
	cardDataLen    = 28 // P2=00
	cardDataExtLen = 31 // P2=01, applet 1.8: + PIN tries + 2 RFU bytes
)

// getCardData implements GET CARD DATA, `80 E4 00 P2 Le` (ref §5): the Le
// must be exact, else 6C with the right one; P2=01 only on 1.8.
func (c *Card) getCardData(cmd command) []byte {
	if cmd.hasData {
		return sw(swWrongLength)
	}
	var out []byte
	switch {
	case cmd.p1 == 0 && cmd.p2 == 0:
		out = c.p.CardData
	case cmd.p1 == 0 && cmd.p2 == 1 && c.gen.cardDataExt:
		out = append(append([]byte(nil), c.p.CardData...), byte(c.tries), 0xFF, 0xFF)
	default:
		return sw(swWrongParams)
	}
	if cmd.p3 != len(out) {
		return sw(swWrongLe | len(out))
	}
	return dataSW(out, swOK)
}

// getChallenge implements GET CHALLENGE, `00 84 00 00 Le` (ref §8.6): used by
// commons-eid and OpenSC's RNG, absent from the public 1.7/1.8 tables; the
// emulator answers it on every generation.
func (c *Card) getChallenge(cmd command) []byte {
	if cmd.hasData {
		return sw(swWrongLength)
	}
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return sw(swWrongP1P2)
	}
	out := make([]byte, cmd.expected())
	_, _ = rand.Read(out) // crypto/rand.Read never fails (Go ≥ 1.24)
	return dataSW(out, swOK)
}
