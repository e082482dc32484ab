package pkcs

import (
	"context"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"

	"github.com/eid-agent/eid-agent/card"
)

// Slot is a PKCS#11 slot; for a smart-card module, a PC/SC reader.
type Slot struct {
	ID           uint
	Reader       string // the slot description: the reader's name, cut at 64 bytes
	Manufacturer string
	Removable    bool
	TokenPresent bool
	Token        Token // zero when no token is present
}

// Token is what C_GetTokenInfo says about the card in a slot.
type Token struct {
	Label        string // "BELPIC (Basic PIN)" with OpenSC
	Manufacturer string
	Model        string
	Serial       string
	Initialized  bool // CKF_TOKEN_INITIALIZED
	PINPad       bool // CKF_PROTECTED_AUTHENTICATION_PATH
	Flags        uint // CKF_* of the token info
}

// descLen is the size of CK_SLOT_INFO.slotDescription.
const descLen = 64

// Slots lists the module's slots with their reader names and whether a
// token is present. Listing the slots is also what makes some modules
// (OpenSC) notice readers and cards that appeared since the last look.
func (m *Module) Slots(ctx context.Context) ([]Slot, error) {
	var ids []uint
	err := m.libCall(ctx, "C_GetSlotList", func(p *pkcs11.Ctx) (err error) {
		ids, err = p.GetSlotList(false)
		return err
	})
	if err != nil {
		return nil, err
	}
	slots := make([]Slot, 0, len(ids))
	for _, id := range ids {
		var si pkcs11.SlotInfo
		err := m.libCall(ctx, "C_GetSlotInfo", func(p *pkcs11.Ctx) (err error) {
			si, err = p.GetSlotInfo(id)
			return err
		})
		if err != nil {
			return nil, err
		}
		s := Slot{
			ID:           id,
			Reader:       strings.TrimRight(strings.TrimRight(si.SlotDescription, "\x00"), " "),
			Manufacturer: strings.TrimRight(si.ManufacturerID, " \x00"),
			Removable:    si.Flags&pkcs11.CKF_REMOVABLE_DEVICE != 0,
			TokenPresent: si.Flags&pkcs11.CKF_TOKEN_PRESENT != 0,
		}
		if s.TokenPresent {
			var ti pkcs11.TokenInfo
			err := m.libCall(ctx, "C_GetTokenInfo", func(p *pkcs11.Ctx) (err error) {
				ti, err = p.GetTokenInfo(id)
				return err
			})
			switch {
			case err == nil:
				s.Token = tokenFrom(ti)
			case hasCode(err, pkcs11.CKR_TOKEN_NOT_PRESENT), hasCode(err, pkcs11.CKR_TOKEN_NOT_RECOGNIZED):
				// Pulled out between the two calls, or a card the module
				// does not handle: no usable token here.
				s.TokenPresent = false
			default:
				return nil, err
			}
		}
		slots = append(slots, s)
	}
	return slots, nil
}

func tokenFrom(ti pkcs11.TokenInfo) Token {
	trim := func(s string) string { return strings.TrimRight(s, " \x00") }
	return Token{
		Label:        trim(ti.Label),
		Manufacturer: trim(ti.ManufacturerID),
		Model:        trim(ti.Model),
		Serial:       trim(ti.SerialNumber),
		Initialized:  ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0,
		PINPad:       ti.Flags&pkcs11.CKF_PROTECTED_AUTHENTICATION_PATH != 0,
		Flags:        ti.Flags,
	}
}

// SlotForReader finds the slot of a PC/SC reader, so that "the card in
// reader X" means the same card here as in package card. The reader
// matches the slot description (compared after the module's blank padding
// is removed, and against the first 64 bytes of a longer name, which is all
// the description can hold) or, failing that, a token label.
//
// An empty reader picks the only slot holding an initialised token;
// several give card.ErrAmbiguousReader, none card.ErrNoCard. An unknown
// reader is card.ErrReaderNotFound. A matching reader without a card is
// returned with TokenPresent false.
func (m *Module) SlotForReader(ctx context.Context, reader string) (Slot, error) {
	slots, err := m.Slots(ctx)
	if err != nil {
		return Slot{}, err
	}
	return pickSlot(slots, reader)
}

func pickSlot(slots []Slot, reader string) (Slot, error) {
	if reader == "" {
		var with []Slot
		for _, s := range slots {
			if s.TokenPresent && s.Token.Initialized {
				with = append(with, s)
			}
		}
		switch len(with) {
		case 0:
			return Slot{}, card.ErrNoCard
		case 1:
			return with[0], nil
		}
		return Slot{}, card.ErrAmbiguousReader
	}
	match := func(ok func(Slot) bool) (Slot, bool) {
		var found []Slot
		for _, s := range slots {
			if ok(s) {
				found = append(found, s)
			}
		}
		// A module may give one reader several slots (one per PIN or
		// application); the one holding a token is the one to use.
		for _, s := range found {
			if s.TokenPresent {
				return s, true
			}
		}
		if len(found) > 0 {
			return found[0], true
		}
		return Slot{}, false
	}
	want := strings.TrimRight(reader, " ")
	if s, ok := match(func(s Slot) bool { return s.Reader == want }); ok {
		return s, nil
	}
	if len(want) > descLen {
		cut := strings.TrimRight(want[:descLen], " ")
		if s, ok := match(func(s Slot) bool { return s.Reader == cut }); ok {
			return s, nil
		}
	}
	if s, ok := match(func(s Slot) bool { return s.TokenPresent && s.Token.Label == want }); ok {
		return s, nil
	}
	return Slot{}, fmt.Errorf("%w: %q", card.ErrReaderNotFound, reader)
}
