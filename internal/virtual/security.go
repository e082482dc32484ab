package virtual

import (
	"bytes"
	"errors"
)

// security is the transient security state: the security environment set
// by MSE SET and the rights granted by the cardholder PIN.
//
// The rules are those of ref §8.4 (a model inferred from the manuals):
//
//  1. A VERIFY done while the SE names key 83 arms a non-repudiation
//     signature: the PSO CDS with key 83 must follow immediately (1.1, 1.7)
//     or with at most one other command in between (1.8). Every key-83
//     signature needs its own VERIFY; otherwise 69 82.
//  2. A VERIFY not consumed that way grants the authentication right:
//     key-82 signatures work until the rights are cleared.
//  3. A VERIFY consumed by a key-83 signature grants nothing more.
//  4. A wrong PIN clears every right; so do LOG OFF and a reset.
//  5. A successful INTERNAL AUTHENTICATE clears the SE.
type security struct {
	seSet  bool
	seAlg  byte
	seKey  byte
	auth   bool // authentication right (rule 2)
	nrArm  bool // a VERIFY waiting for its key-83 signature (rule 1)
	nrAge  int  // commands since that VERIFY
	armNow bool // the current command armed nrArm
}

func (s *security) beginCommand() { s.armNow = false }

func (s *security) clearRights() {
	s.auth = false
	s.nrArm = false
}

// endCommand ages an armed non-repudiation VERIFY: once more commands than
// the generation allows have passed, it can no longer be used for key 83 and
// counts as an ordinary VERIFY (rule 2).
func (c *Card) endCommand() {
	s := &c.sec
	if !s.nrArm || s.armNow {
		return
	}
	s.nrAge++
	if s.nrAge > c.gen.nrGap {
		s.nrArm = false
		s.auth = true
	}
}

// errPINFormat is a PIN block that is not ISO 9564 format 2.
var errPINFormat = errors.New("not a format-2 PIN block")

// pinBlock encodes a PIN as the applet stores and compares it: 8 bytes,
// nibbles 2 | length | digits | F padding (ref §7.2).
func pinBlock(pin string) ([]byte, error) {
	if len(pin) < 4 || len(pin) > 12 {
		return nil, errPINFormat
	}
	b := bytes.Repeat([]byte{0xFF}, 8)
	b[0] = 0x20 | byte(len(pin))
	for i := 0; i < len(pin); i++ {
		d := pin[i]
		if d < '0' || d > '9' {
			return nil, errPINFormat
		}
		pos := 2 + i // nibble index in the block
		if pos%2 == 0 {
			b[pos/2] = (d-'0')<<4 | b[pos/2]&0x0F
		} else {
			b[pos/2] = b[pos/2]&0xF0 | (d - '0')
		}
	}
	return b, nil
}

// decodePINBlock is the inverse of pinBlock.
func decodePINBlock(b []byte) (string, error) {
	if len(b) != 8 || b[0]>>4 != 2 {
		return "", errPINFormat
	}
	n := int(b[0] & 0x0F)
	if n < 4 || n > 12 {
		return "", errPINFormat
	}
	digits := make([]byte, 0, n)
	for pos := 2; pos < 16; pos++ {
		nib := b[pos/2] >> 4
		if pos%2 == 1 {
			nib = b[pos/2] & 0x0F
		}
		switch {
		case pos-2 < n && nib <= 9:
			digits = append(digits, '0'+nib)
		case pos-2 >= n && nib == 0x0F:
		default:
			return "", errPINFormat
		}
	}
	return string(digits), nil
}

// verify implements VERIFY (ref §7.3): a format-2 block, or no data for a
// status query (a wrong try on applet 1.1).
func (c *Card) verify(cmd command) []byte {
	if cmd.p1 != 0x00 {
		return sw(swWrongP1P2)
	}
	if cmd.p2 != 0x01 {
		return sw(swRefNotFound)
	}
	if !cmd.hasData {
		if c.gen.emptyVerifyIsTry {
			// The GemPC Pinpad trap: 1.1 counts the empty VERIFY as a wrong
			// PIN (ref §7.3).
			return c.wrongPIN()
		}
		switch {
		case c.tries == 0:
			return sw(swPINBlocked)
		case c.sec.auth || c.sec.nrArm:
			return sw(swOK)
		}
		return sw(swWrongPIN | c.tries)
	}
	if len(cmd.data) != 8 {
		return sw(swWrongLength)
	}
	if c.tries == 0 {
		return sw(swPINBlocked)
	}
	want, _ := pinBlock(c.pin)
	if !bytes.Equal(cmd.data, want) {
		return c.wrongPIN()
	}
	c.pinOK()
	s := &c.sec
	if s.seSet && s.seKey == keyNonRepudiation {
		if s.nrArm { // the previous VERIFY was never consumed (rule 2)
			s.auth = true
		}
		s.nrArm, s.nrAge, s.armNow = true, 0, true
	} else {
		s.auth = true
	}
	return sw(swOK)
}

func (c *Card) pinOK() {
	c.tries = maxPINTries
	// A good VERIFY lifts the INTERNAL AUTHENTICATE limit (ref §8.5).
	c.iaCalls, c.iaLocked = 0, false
}

// wrongPIN burns a try and clears every right (ref §7.3, §8.4 rule 4). The
// try that exhausts the counter answers 63 C0; later ones 69 83.
func (c *Card) wrongPIN() []byte {
	if c.tries == 0 {
		return sw(swPINBlocked)
	}
	c.tries--
	c.sec.clearRights()
	return sw(swWrongPIN | c.tries)
}

// changeReference implements CHANGE REFERENCE DATA: old block ‖ new block
// (ref §7.4). Success sets the PIN and grants the access right.
func (c *Card) changeReference(cmd command) []byte {
	if cmd.p1 != 0x00 {
		return sw(swWrongP1P2)
	}
	if cmd.p2 != 0x01 {
		return sw(swRefNotFound)
	}
	if len(cmd.data) != 16 {
		return sw(swWrongLength)
	}
	if c.tries == 0 {
		return sw(swPINBlocked)
	}
	newPIN, err := decodePINBlock(cmd.data[8:])
	if err != nil {
		return sw(swWrongData)
	}
	want, _ := pinBlock(c.pin)
	if !bytes.Equal(cmd.data[:8], want) {
		return c.wrongPIN()
	}
	c.pin = newPIN
	c.pinOK()
	c.sec.auth = true
	return sw(swOK)
}

// logOff implements LOG OFF in its 4-byte form and eid-mw's 5-byte form
// with a trailing 00 (ref §7.5).
func (c *Card) logOff(cmd command) []byte {
	if cmd.hasData || cmd.p3 > 0 {
		return sw(swWrongLength)
	}
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return sw(swWrongP1P2)
	}
	c.sec.clearRights()
	return sw(swOK)
}
