package virtual

// Status words the applet answers (ref §2.3, §2.4, §2.5, §5, §7.3, §8.2, §8.3).
const (
	swOK               = 0x9000
	swWrongLength      = 0x6700
	swSecurityNotSat   = 0x6982
	swPINBlocked       = 0x6983
	swConditionsNotSat = 0x6985
	swNoCurrentEF      = 0x6986
	swWrongData        = 0x6A80
	swFileNotFound     = 0x6A82
	swWrongP1P2        = 0x6A86
	swLcInconsistent   = 0x6A87
	swRefNotFound      = 0x6A88
	swOffsetOutside    = 0x6B00
	swWrongParams      = 0x6B00 // "wrong P1-P2" in the MSE, PSO and GET CARD DATA tables
	swINSNotSupported  = 0x6D00
	swCLANotSupported  = 0x6E00
	swBytesAvailable   = 0x6100 // | xx
	swWrongLe          = 0x6C00 // | xx
	swWrongPIN         = 0x63C0 // | tries left
	swRecordNotFound   = 0x6A83
)

// Instructions. The ISO ones take CLA 00, the proprietary ones CLA 80
// (ref §2.1).
const (
	insSelect       = 0xA4
	insReadBinary   = 0xB0
	insGetResponse  = 0xC0
	insVerify       = 0x20
	insChangeRef    = 0x24
	insMSE          = 0x22
	insPSO          = 0x2A
	insInternalAuth = 0x88
	insGetChallenge = 0x84
	insGetCardData  = 0xE4
	insLogOff       = 0xE6
	insReadRecord   = 0xB2

	claISO         = 0x00
	claProprietary = 0x80

	maxShortResponse = 256
)

// command is a parsed short APDU. The applet speaks T=0 (ref §1.3): the
// fifth byte P3 is Lc for a command carrying data and Le for one expecting
// data, and P3 = 00 on an outgoing command means 256.
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
	// p3 is the fifth byte when the APDU is exactly 5 bytes long (no data):
	// an Le for case-2 commands, an empty Lc for the others.
	p3      int // -1 when absent
	hasData bool
}

// parseCommand splits raw into header, data and Le. ok is false for an APDU
// whose length does not match its Lc, or an extended-length APDU, which the
// applet does not support (ref §1.3: short APDUs only).
func parseCommand(raw []byte) (c command, ok bool) {
	if len(raw) < 4 {
		return c, false
	}
	c = command{cla: raw[0], ins: raw[1], p1: raw[2], p2: raw[3], p3: -1}
	switch {
	case len(raw) == 4:
		return c, true
	case len(raw) == 5:
		c.p3 = int(raw[4])
		return c, true
	}
	lc := int(raw[4])
	if lc == 0 { // extended length
		return c, false
	}
	// A trailing Le on a case-4 command is accepted and ignored: under T=0
	// the reader strips it and the card answers 61 xx anyway (ref §1.3).
	if len(raw) != 5+lc && len(raw) != 6+lc {
		return c, false
	}
	c.data = raw[5 : 5+lc]
	c.hasData = true
	return c, true
}

// expected returns the Le of a case-2 command: P3, with 00 meaning 256; a
// 4-byte APDU is read as P3 = 00, as a T=0 reader would send it.
func (c command) expected() int {
	if c.p3 <= 0 {
		return 256
	}
	return c.p3
}

func sw(w int) []byte { return []byte{byte(w >> 8), byte(w)} }

func dataSW(data []byte, w int) []byte {
	out := make([]byte, len(data), len(data)+2)
	copy(out, data)
	return append(out, byte(w>>8), byte(w))
}

// dispatch runs one APDU. It is called with c.mu held.
func (c *Card) dispatch(raw []byte) []byte {
	cmd, ok := parseCommand(raw)
	// A response waiting for GET RESPONSE is lost by any other command, as
	// with every T=0 card.
	pending := c.pending
	c.pending = nil
	c.sec.beginCommand()
	defer c.endCommand()
	if !ok {
		return sw(swWrongLength)
	}
	// Only the basic logical channel, no secure messaging, no chaining
	// (ref §1.3).
	if cmd.cla != claISO && cmd.cla != claProprietary {
		return sw(swCLANotSupported)
	}
	wantCLA, known := instructionCLA(cmd.ins, c.gen)
	if !known {
		return sw(swINSNotSupported)
	}
	if cmd.cla != wantCLA {
		return sw(swCLANotSupported)
	}
	if !c.appletSelected && cmd.ins != insSelect {
		// The card manager is selected (empty SELECT by AID, ref §2.2): the
		// Belpic commands are unknown to it.
		return sw(swINSNotSupported)
	}
	switch cmd.ins {
	case insSelect:
		return c.selectFile(cmd)
	case insReadBinary:
		return c.readBinary(cmd)
	case insGetResponse:
		return c.getResponse(cmd, pending)
	case insVerify:
		return c.verify(cmd)
	case insChangeRef:
		return c.changeReference(cmd)
	case insMSE:
		return c.manageSE(cmd)
	case insPSO:
		return c.computeSignature(cmd)
	case insInternalAuth:
		return c.internalAuthenticate(cmd)
	case insGetChallenge:
		return c.getChallenge(cmd)
	case insGetCardData:
		return c.getCardData(cmd)
	case insLogOff:
		return c.logOff(cmd)
	case insReadRecord:
		return c.readRecord(cmd)
	}
	return sw(swINSNotSupported)
}

// instructionCLA tells whether the applet knows ins and with which CLA.
func instructionCLA(ins byte, g generation) (cla byte, known bool) {
	switch ins {
	case insSelect, insReadBinary, insGetResponse, insVerify, insChangeRef,
		insMSE, insPSO, insInternalAuth, insGetChallenge:
		return claISO, true
	case insGetCardData, insLogOff:
		return claProprietary, true
	case insReadRecord:
		return claProprietary, g.readRecord
	}
	return 0, false
}

// respond hands a case-4 result to the host the T=0 way: 61 xx now, the data
// through GET RESPONSE (ref §1.3, §2.5). It is used whether or not the host
// appended an Le: a T=0 reader strips it before the card sees the command.
func (c *Card) respond(data []byte) []byte {
	c.pending = data
	return sw(swBytesAvailable | len(data)&0xFF)
}

// getResponse serves the pending data: partial reads leave 61 yy for the
// rest, an Le beyond what is left gives 6C xx and keeps the data, and with
// nothing pending the answer is 69 85 (ref §2.5).
func (c *Card) getResponse(cmd command, pending []byte) []byte {
	if cmd.hasData {
		return sw(swWrongLength)
	}
	if cmd.p1 != 0 || cmd.p2 != 0 {
		c.pending = pending
		return sw(swWrongP1P2)
	}
	if len(pending) == 0 {
		return sw(swConditionsNotSat)
	}
	le := cmd.expected()
	if le > len(pending) {
		c.pending = pending
		return sw(swWrongLe | len(pending))
	}
	out, rest := pending[:le], pending[le:]
	if len(rest) == 0 {
		return dataSW(out, swOK)
	}
	c.pending = rest
	return dataSW(out, swBytesAvailable|len(rest)&0xFF)
}
