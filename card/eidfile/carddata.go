package eidfile

import (
	"encoding/binary"
	"fmt"
)

// CardData is the decoded GET CARD DATA response (ref §5).
type CardData struct {
	Serial          []byte // bytes 0–15: chip serial (identity tag 02 on the sample cards)
	ComponentCode   byte
	OSNumber        byte
	OSVersion       byte
	SoftmaskNumber  byte
	SoftmaskVersion byte
	// AppletVersion is "1.1", "1.7" or "1.8"; another byte is shown by its
	// hex digits ("2.0" for 20). AppletVersionByte is byte 21 itself.
	AppletVersion     string
	AppletVersionByte byte
	// AppletInterfaceVersion is one byte (24) on 1.7/1.8 and two bytes
	// (23–24) on 1.1.
	AppletInterfaceVersion uint16
	// 1.7 and 1.8 only.
	GlobalOSVersion    uint16 // bytes 22–23
	PKCS1Support       byte   // byte 25: 21 = PKCS#1 v2.1, 00 = none
	KeyExchangeVersion byte   // byte 26
	// 1.1 only.
	PKCS15Version uint16 // bytes 25–26
	LifeCycle     byte   // byte 27: 0F personalised, 07 selectable
	// PINTries is what is left of the PIN's tries: byte 28 of the 31-byte
	// answer to GET CARD DATA with P2=01 (applet 1.8). -1 when the answer
	// does not carry it or the card says FF (PIN not found).
	PINTries int
}

// cardDataLen is the length of the P2=00 answer, the same on every applet
// (ref §5.1, §5.2). OpenSC requires exactly this; a longer answer is the
// P2=01 form (31 bytes) or a future extension whose tail is ignored.
const cardDataLen = 28

// ParseCardData decodes a GET CARD DATA response without its status word:
// the 28-byte answer of every applet (bytes 21–27 laid out differently on
// applet 1.1, ref §5.2) or the 31-byte P2=01 answer of applet 1.8 with the
// PIN tries at byte 28 (ref §5.1). A shorter answer is a *FormatError.
func ParseCardData(b []byte) (CardData, error) {
	if len(b) < cardDataLen {
		return CardData{}, &FormatError{File: "card data", Offset: -1, Reason: fmt.Sprintf("%d bytes, want at least %d", len(b), cardDataLen)}
	}
	d := CardData{
		Serial:            append([]byte(nil), b[0:16]...),
		ComponentCode:     b[16],
		OSNumber:          b[17],
		OSVersion:         b[18],
		SoftmaskNumber:    b[19],
		SoftmaskVersion:   b[20],
		AppletVersionByte: b[21],
		AppletVersion:     fmt.Sprintf("%X.%X", b[21]>>4, b[21]&0x0F),
		LifeCycle:         b[27],
		PINTries:          -1,
	}
	if b[21] < 0x17 {
		// Applet 1.1 (and 1.0): version 11 00, interface and PKCS#15
		// versions on two bytes each (ref §5.2, after eid-mw; 1.0 assumed
		// to share the layout [inferred]).
		d.AppletInterfaceVersion = binary.BigEndian.Uint16(b[23:25])
		d.PKCS15Version = binary.BigEndian.Uint16(b[25:27])
		return d, nil
	}
	d.GlobalOSVersion = binary.BigEndian.Uint16(b[22:24])
	d.AppletInterfaceVersion = uint16(b[24])
	d.PKCS1Support = b[25]
	d.KeyExchangeVersion = b[26]
	if len(b) > 28 && b[28] != 0xFF {
		d.PINTries = int(b[28])
	}
	return d, nil
}
