package card

import (
	"context"
	"errors"
	"fmt"

	"github.com/eid-agent/eid-agent/card/eidfile"
)

// PIN errors besides ErrPINBlocked, *PINError, ErrPINCancelled and
// ErrPINTimeout.
var (
	// ErrPINFormat: a PIN that is not 4 to 12 digits (ref §7.1), refused
	// before anything reaches the card, so it costs no try. A PIN pad that
	// reports a wrong PIN length (64 03) and a card that refuses the new
	// PIN's block (6A 80) match it too.
	ErrPINFormat = errors.New("a PIN is 4 to 12 digits")
	// ErrPINStatusUnavailable: the card cannot tell the tries left without
	// spending one. On applet 1.1 the empty VERIFY that 1.7 and 1.8 answer
	// as a status query counts as a wrong PIN (ref §7.3).
	ErrPINStatusUnavailable = errors.New("PIN tries cannot be read on this card without spending a try")
	// ErrPINMismatch: the two entries of the new PIN on a PIN pad differ
	// (reader status 64 02). The card was not asked anything.
	ErrPINMismatch = errors.New("the new PIN and its confirmation differ")
)

// MaxPINTries is the cardholder PIN's try counter (ref §7.1). A successful
// VERIFY resets the counter to it.
const MaxPINTries = 3

// pinState is what a Card remembers of the PIN and the reader's PIN pad for
// the card session. The card stays the authority: nothing here lets an
// operation skip the card except a PIN the card already called blocked.
type pinState struct {
	// blocked: the card answered 69 83 or 63 C0. No PIN dialog is shown
	// again and no VERIFY sent in this session: unblocking takes the PUK at
	// the municipality (ref §7.6), not this program. It matters on applet
	// 1.1, which has no harmless status query.
	blocked bool

	padChecked bool
	pad        pinPadFeatures
	// padLang is the wLangId of the PIN-pad structures; 0 means English
	// (0409).
	padLang uint16
}

type purposeKey struct{}

// WithPINPurpose returns a context whose PIN requests carry purpose
// (PINRequest.Purpose), e.g. "sign in to https://example.be". Key.SignContext
// and ChangePINContext read it.
func WithPINPurpose(ctx context.Context, purpose string) context.Context {
	return context.WithValue(ctx, purposeKey{}, purpose)
}

// PINPurpose returns the purpose WithPINPurpose put in ctx, for PIN
// dialogs of any signing path.
func PINPurpose(ctx context.Context) string {
	s, _ := ctx.Value(purposeKey{}).(string)
	return s
}

// pinBlock encodes a PIN as the card expects it in VERIFY and CHANGE
// REFERENCE DATA: the 8-byte "format 2" block, nibbles 2, length, digits,
// F padding (ref §7.2). The PIN is checked first — 4 to 12 ASCII digits
// (ref §7.1) — so a malformed PIN never reaches the card and costs no try.
// The caller wipes the block.
func pinBlock(pin []byte) ([]byte, error) {
	if len(pin) < 4 || len(pin) > 12 {
		return nil, fmt.Errorf("%w (got %d characters)", ErrPINFormat, len(pin))
	}
	for _, d := range pin {
		if d < '0' || d > '9' {
			return nil, fmt.Errorf("%w (not only digits)", ErrPINFormat)
		}
	}
	b := []byte{0x20 | byte(len(pin)), 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	for i, d := range pin {
		n := 2 + i // nibble index; nibbles 0 and 1 are "2" and the length
		if n%2 == 0 {
			b[n/2] = (d-'0')<<4 | 0x0F
		} else {
			b[n/2] = b[n/2]&0xF0 | (d - '0')
		}
	}
	return b, nil
}

// applet returns GET CARD DATA byte 21 (11, 17, 18), asking the card once
// per session (ref §1.2: the only way to tell 1.1 from 1.7).
func (c *Card) applet() (byte, error) {
	if len(c.cardData) < 28 {
		if _, err := c.ReadCardData(); err != nil {
			return 0, err
		}
	}
	return c.cardData[21], nil
}

// pkcs1Support is GET CARD DATA byte 25 on 1.7 and 1.8: 21 means PKCS#1
// v2.1, i.e. RSASSA-PSS (ref §5.1). On 1.1 the byte belongs to another
// field (ref §5.2), so the answer is 0 there.
func (c *Card) pkcs1Support() byte {
	if len(c.cardData) < 28 || c.cardData[21] < 0x17 {
		return 0
	}
	return c.cardData[25]
}

// PINStatus returns the cardholder PIN tries left, without spending one:
//
//   - applet 1.8: GET CARD DATA with P2=01, byte 28 (ref §5.1, §7.3);
//   - applet 1.7: the empty VERIFY status query (ref §7.3). 63 Cx gives x;
//     90 00 means the PIN is already verified in this card session, which
//     a good VERIFY only grants after resetting the counter, so it reports
//     MaxPINTries;
//   - applet 1.1: ErrPINStatusUnavailable, because there the empty VERIFY
//     is a wrong PIN (ref §7.3).
//
// A blocked PIN is (0, nil): a status, not a failure of the query.
func (c *Card) PINStatus() (retries int, err error) {
	err = c.withTransaction(func() error {
		retries, err = c.pinStatus()
		return err
	})
	return retries, err
}

func (c *Card) pinStatus() (int, error) {
	applet, err := c.applet()
	if err != nil {
		return 0, err
	}
	switch {
	case applet < 0x17:
		return 0, ErrPINStatusUnavailable
	case applet >= 0x18:
		data, err := c.command("GET CARD DATA", []byte{claBelpic, insGetCardData, 0x00, 0x01, 0x1F})
		if err != nil {
			return 0, err
		}
		cd, err := eidfile.ParseCardData(data)
		if err != nil {
			return 0, err
		}
		if len(data) < 29 || cd.PINTries < 0 {
			// FF: "PIN not found" (ref §5.1).
			return 0, fmt.Errorf("GET CARD DATA: the card reports no cardholder PIN: %w", ErrUnsupportedCard)
		}
		if cd.PINTries == 0 {
			c.pin.blocked = true
		}
		return cd.PINTries, nil
	}
	// Lc absent: a case-1 APDU, the status query of ref §7.3.
	_, sw, err := c.Transmit([]byte{claISO, insVerify, 0x00, 0x01})
	if err != nil {
		return 0, err
	}
	switch {
	case sw == 0x9000:
		return MaxPINTries, nil
	case sw&0xFFF0 == 0x63C0:
		if sw&0x0F == 0 {
			c.pin.blocked = true
		}
		return int(sw & 0x0F), nil
	case sw == 0x6983:
		c.pin.blocked = true
		return 0, nil
	}
	return 0, swError("VERIFY", sw)
}

// retriesForDialog is what a PIN dialog is told about the tries left: the
// status where the card gives it for free (1.7, 1.8), -1 otherwise. A card
// that reports the PIN blocked ends the operation before any dialog.
func (c *Card) retriesForDialog() (int, error) {
	n, err := c.PINStatus()
	switch {
	case errors.Is(err, ErrPINStatusUnavailable):
		return -1, nil
	case err != nil:
		return 0, err
	case n == 0:
		return 0, fmt.Errorf("%w: the card reports no tries left", ErrPINBlocked)
	}
	return n, nil
}

// askPIN runs the prompt and turns its answer into a format-2 block. The
// digits the prompt returned are wiped here whatever happens; the caller
// wipes the block. A prompt failure (ErrPINCancelled, ErrPINTimeout) comes
// back as is and nothing is sent to the card.
func (c *Card) askPIN(ctx context.Context, prompt PINPrompt, req PINRequest) ([]byte, error) {
	if prompt == nil {
		return nil, fmt.Errorf("%w: a PIN is needed and there is no PIN dialog", ErrPINCancelled)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pin, err := prompt(ctx, req)
	defer Wipe(pin)
	if err != nil {
		if errors.Is(err, ErrPINCancelled) || errors.Is(err, ErrPINTimeout) {
			return nil, err
		}
		return nil, fmt.Errorf("PIN dialog: %w", err)
	}
	return pinBlock(pin)
}

// verifyPIN sends VERIFY with a format-2 block (ref §7.3) and wipes the
// APDU. 63 Cx is a *PINError, 69 83 a *StatusError matching ErrPINBlocked;
// either way the operation ends: the agent never retries a PIN.
func (c *Card) verifyPIN(block []byte) error {
	cmd := append([]byte{claISO, insVerify, 0x00, 0x01, 0x08}, block...)
	defer Wipe(cmd)
	_, err := c.command("VERIFY", cmd)
	return c.notePINResult(err)
}

// notePINResult remembers a PIN the card called blocked and passes err on.
func (c *Card) notePINResult(err error) error {
	if errors.Is(err, ErrPINBlocked) {
		c.pin.blocked = true
	}
	return err
}

// errBlockedKnown is returned, without touching the card, once the card
// has said the PIN is blocked in this session.
func errBlockedKnown() error {
	return fmt.Errorf("%w: the card reported it earlier in this session", ErrPINBlocked)
}

// ChangePIN changes the cardholder PIN with CHANGE REFERENCE DATA
// (ref §7.4). See ChangePINContext.
func (c *Card) ChangePIN(prompt PINPrompt) error {
	return c.ChangePINContext(context.Background(), prompt)
}

// ChangePINContext changes the cardholder PIN: `00 24 00 01 10 <current
// block> <new block>` (ref §7.4). On a reader with a PIN pad that can
// modify PINs, both PINs are typed on the pad (FEATURE_MODIFY_PIN_DIRECT,
// ref §7.7) and prompt is not called; otherwise prompt is asked the
// current PIN (PINRequest.Change) and then the new one (PINRequest.New).
// Confirming the new PIN is the dialog's business. Both PINs are checked
// (4 to 12 digits) before anything is sent. The errors are those of
// signing: *PINError for a wrong current PIN, ErrPINBlocked, ErrPINFormat,
// ErrPINCancelled, ErrPINTimeout, ErrPINMismatch (PIN pad).
//
// On success the card also grants the authentication right (ref §7.4).
func (c *Card) ChangePINContext(ctx context.Context, prompt PINPrompt) error {
	if c.pin.blocked {
		return errBlockedKnown()
	}
	pad, err := c.pinPad()
	if err != nil {
		return err
	}
	if pad.modify != 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		return c.withTransaction(func() error {
			return c.notePINResult(c.padModify(pad))
		})
	}
	retries, err := c.retriesForDialog()
	if err != nil {
		return c.notePINResult(err)
	}
	req := PINRequest{Reader: c.reader, Retries: retries, Purpose: PINPurpose(ctx), Change: true}
	old, err := c.askPIN(ctx, prompt, req)
	if err != nil {
		return err
	}
	defer Wipe(old)
	req.Change, req.New = false, true
	nu, err := c.askPIN(ctx, prompt, req)
	if err != nil {
		return err
	}
	defer Wipe(nu)
	if err := ctx.Err(); err != nil {
		return err
	}
	cmd := make([]byte, 0, 5+16)
	cmd = append(cmd, claISO, insChangeRef, 0x00, 0x01, 0x10)
	cmd = append(append(cmd, old...), nu...)
	defer Wipe(cmd)
	return c.withTransaction(func() error {
		_, err := c.command("CHANGE REFERENCE DATA", cmd)
		return c.notePINResult(changeError(err))
	})
}

// changeError adds meaning to the CHANGE REFERENCE DATA status words that
// have one for the caller: 6A 80 is a new PIN block the card refuses
// (ref §7.4).
func changeError(err error) error {
	var se *StatusError
	if errors.As(err, &se) && se.SW() == 0x6A80 {
		return fmt.Errorf("%w: %v", ErrPINFormat, err)
	}
	return err
}
