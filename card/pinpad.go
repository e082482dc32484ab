package card

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
)

// Controller is implemented by transports that can talk to the reader
// itself, not only to the card: SCardControl in PC/SC. PIN-pad readers are
// driven through it (CCID / PC/SC part 10, ref §7.7). A transport without it
// has no PIN pad, and the PINPrompt is used.
type Controller interface {
	Control(code uint32, in []byte) ([]byte, error)
}

// ErrPINPad: the PIN-pad reader refused the operation (status 6B 80,
// "invalid parameter") or answered something that is not a status word.
var ErrPINPad = errors.New("PIN-pad reader error")

// PC/SC part 10 feature tags of the GET_FEATURE_REQUEST answer (ref §7.7).
// Only the "direct" features are used: the reader runs the whole PIN entry
// and the APDU in one SCardControl call.
const (
	featureVerifyPINDirect = 0x06
	featureModifyPINDirect = 0x07
)

// ioctlGetFeatureRequest is SCARD_CTL_CODE(3400), which pcsc-lite and
// Windows encode differently: 0x42000D48 and 0x00313520 (ref §7.7).
var ioctlGetFeatureRequest = ctlCode(3400)

func ctlCode(code uint32) uint32 {
	if runtime.GOOS == "windows" {
		return 0x00310000 | code<<2
	}
	return 0x42000000 + code
}

// pinPadFeatures are the control codes of a PIN-pad reader's direct
// features; 0 means absent.
type pinPadFeatures struct {
	verify, modify uint32
	// maxDigits is the longest PIN the reader is told to accept: 12
	// (ref §7.1), 8 for the GemPC Pinpad (ref §7.7).
	maxDigits byte
}

// parseFeatures reads the TLV list a reader answers to
// GET_FEATURE_REQUEST: tag, length 04, a big-endian control code
// (ref §7.7). Entries with another length are skipped; a truncated list is
// an error.
func parseFeatures(b []byte) (map[byte]uint32, error) {
	out := map[byte]uint32{}
	for len(b) > 0 {
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			return nil, fmt.Errorf("%w: truncated feature list", ErrPINPad)
		}
		tag, l := b[0], int(b[1])
		if l == 4 {
			out[tag] = binary.BigEndian.Uint32(b[2:6])
		}
		b = b[2+l:]
	}
	return out, nil
}

// emptyVerifyReader reports a PIN-pad reader known to send an empty VERIFY
// before the PIN to show the tries left: the GemPC Pinpad (Windows names it
// "Gemplus GemPC Pinpad", pcsc-lite's CCID driver "Gemalto GemPC Pinpad").
// On applet 1.1 that VERIFY is a wrong PIN, so three uses block the card
// (ref §7.3); eid-mw refuses the reader as a PIN pad for this reason.
func emptyVerifyReader(reader string) bool {
	return strings.Contains(strings.ToLower(reader), "gempc pinpad")
}

// SetPINPadLanguage sets the language of the PIN-pad reader's messages, a
// Windows LANGID such as 0x0409 (English), 0x0813 (Dutch, Belgium), 0x080C
// (French, Belgium), 0x0407 (German) (ref §7.7). Zero means 0x0409.
func (c *Card) SetPINPadLanguage(langID uint16) { c.pin.padLang = langID }

// HasPINPad reports whether the reader has a PIN pad the card will be
// used with (for VERIFY; see pinPad for the exclusions).
func (c *Card) HasPINPad() (bool, error) {
	pad, err := c.pinPad()
	return pad.verify != 0, err
}

// pinPad discovers the reader's PIN-pad features once per card session. A
// transport that cannot control the reader, or a reader that does not
// answer GET_FEATURE_REQUEST (vpcd answers SCARD_E_UNSUPPORTED_FEATURE),
// has none. Only a removed card is an error.
func (c *Card) pinPad() (pinPadFeatures, error) {
	if c.pin.padChecked {
		return c.pin.pad, nil
	}
	ctl, ok := c.t.(Controller)
	if !ok {
		c.pin.padChecked = true
		return pinPadFeatures{}, nil
	}
	resp, err := ctl.Control(ioctlGetFeatureRequest, nil)
	if err != nil {
		if errors.Is(err, ErrCardRemoved) {
			return pinPadFeatures{}, err
		}
		c.pin.padChecked = true
		return pinPadFeatures{}, nil
	}
	feats, err := parseFeatures(resp)
	if err != nil {
		c.pin.padChecked = true
		return pinPadFeatures{}, nil
	}
	pad := pinPadFeatures{verify: feats[featureVerifyPINDirect], modify: feats[featureModifyPINDirect], maxDigits: 12}
	if (pad.verify != 0 || pad.modify != 0) && emptyVerifyReader(c.reader) {
		applet, err := c.applet()
		if err != nil {
			return pinPadFeatures{}, err
		}
		if applet < 0x17 {
			// ref §7.3: its empty VERIFY would burn a try; use the dialog.
			pad = pinPadFeatures{}
		} else {
			pad.maxDigits = 8 // ref §7.7
		}
	}
	c.pin.pad, c.pin.padChecked = pad, true
	return pad, nil
}

func (c *Card) padLangID() uint16 {
	if c.pin.padLang == 0 {
		return 0x0409
	}
	return c.pin.padLang
}

// pinVerifyStructure is the 32-byte PIN_VERIFY_STRUCTURE sent with
// FEATURE_VERIFY_PIN_DIRECT (ref §7.7). The reader reads the digits, puts
// them in BCD one byte after Lc, their count in the low nibble of the first
// data byte, and sends the VERIFY template it was given. The
// structure is little-endian throughout (it is a CCID structure), and so is
// wLangId here, as the Windows minidriver and commons-eid write it; eid-mw's
// PKCS#11 module writes it high byte first, which a reader would read as
// another language.
func pinVerifyStructure(langID uint16, maxDigits byte) []byte {
	return []byte{
		0x1E,            // bTimerOut: 30 s
		0x1E,            // bTimerOut2: 30 s
		0x89,            // bmFormatString: byte units, PIN 1 byte after Lc, left-justified, BCD
		0x47,            // bmPINBlockString: 4-bit length field, 7-byte PIN block
		0x04,            // bmPINLengthFormat: length at bit 4 (the L of 2L)
		maxDigits, 0x04, // wPINMaxExtraDigit: max, min 4
		0x02,                            // bEntryValidationCondition: OK key
		0x01,                            // bNumberMessage
		byte(langID), byte(langID >> 8), // wLangId
		0x00,             // bMsgIndex
		0x00, 0x00, 0x00, // bTeoPrologue
		0x0D, 0x00, 0x00, 0x00, // ulDataLength: 13
		// abData: VERIFY with an empty format-2 block the reader fills.
		claISO, insVerify, 0x00, 0x01, 0x08, 0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	}
}

// pinModifyStructure is the 45-byte PIN_MODIFY_STRUCTURE sent with
// FEATURE_MODIFY_PIN_DIRECT (ref §7.7): the reader asks the current PIN,
// the new one and its confirmation, and fills both blocks of the CHANGE
// REFERENCE DATA template (current at offset 0, new at offset 8).
func pinModifyStructure(langID uint16, maxDigits byte) []byte {
	return []byte{
		0x1E, 0x1E, // bTimerOut, bTimerOut2: 30 s
		0x89, 0x47, 0x04, // as in PIN_VERIFY_STRUCTURE
		0x00,            // bInsertionOffsetOld
		0x08,            // bInsertionOffsetNew
		maxDigits, 0x04, // wPINMaxExtraDigit
		0x03,                            // bConfirmPIN: confirm the new PIN, ask the current one
		0x02,                            // bEntryValidationCondition: OK key
		0x03,                            // bNumberMessage
		byte(langID), byte(langID >> 8), // wLangId
		0x00, 0x01, 0x02, // bMsgIndex1..3
		0x00, 0x00, 0x00, // bTeoPrologue
		0x15, 0x00, 0x00, 0x00, // ulDataLength: 21
		claISO, insChangeRef, 0x00, 0x01, 0x10,
		0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
		0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	}
}

// padVerify has the user type the PIN on the reader, which sends the VERIFY.
func (c *Card) padVerify(pad pinPadFeatures) error {
	return c.padOperation("VERIFY", pad.verify, pinVerifyStructure(c.padLangID(), pad.maxDigits))
}

// padModify has the user type the current and the new PIN on the reader,
// which sends the CHANGE REFERENCE DATA.
func (c *Card) padModify(pad pinPadFeatures) error {
	err := c.padOperation("CHANGE REFERENCE DATA", pad.modify, pinModifyStructure(c.padLangID(), pad.maxDigits))
	return changeError(err)
}

func (c *Card) padOperation(name string, code uint32, structure []byte) error {
	ctl := c.t.(Controller) // pinPad found features only on a Controller
	resp, err := ctl.Control(code, structure)
	if err != nil {
		return err
	}
	if len(resp) != 2 {
		return fmt.Errorf("%w: %d bytes instead of a status word", ErrPINPad, len(resp))
	}
	return pinPadResult(name, uint16(resp[0])<<8|uint16(resp[1]))
}

// pinPadResult maps the status word a PIN-pad operation returns: the
// card's (90 00, 63 Cx, 69 83, ...) or one the reader made up (ref §7.7).
// 64 00 is "no precise diagnosis" coming from the card, but from a PIN pad
// it is the reader's timeout, as PC/SC part 10 and eid-mw read it.
func pinPadResult(name string, sw uint16) error {
	switch sw {
	case 0x9000:
		return nil
	case 0x6400:
		return fmt.Errorf("%w (PIN pad)", ErrPINTimeout)
	case 0x6401:
		return fmt.Errorf("%w (PIN pad)", ErrPINCancelled)
	case 0x6402:
		return ErrPINMismatch
	case 0x6403:
		return fmt.Errorf("%w (PIN pad: wrong PIN length)", ErrPINFormat)
	case 0x6B80:
		return fmt.Errorf("%w: invalid parameter (6B80)", ErrPINPad)
	}
	return swError(name, sw)
}
