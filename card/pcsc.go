package card

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/ebfe/scard"

	"github.com/eid-agent/eid-agent/card/eidfile"
)

// ErrNoService: the PC/SC service (pcscd on Linux) is not running.
var ErrNoService = errors.New("PC/SC service not running")

// Context is a connection to the PC/SC service. It is not safe for
// concurrent use (ebfe/scard's GetStatusChange is not).
type Context struct {
	ctx *scard.Context
}

// NewContext connects to the PC/SC service.
func NewContext() (*Context, error) {
	ctx, err := scard.EstablishContext()
	if err != nil {
		return nil, mapPCSCError(err)
	}
	return &Context{ctx: ctx}, nil
}

// Release closes the connection to the PC/SC service.
func (c *Context) Release() error { return c.ctx.Release() }

// Kind is what a reader holds, as reported by Readers.
type Kind string

// Kinds of card a reader can hold.
const (
	KindNone    Kind = "none"    // no card
	KindBELPIC  Kind = "belpic"  // a Belgian eID (BELPIC applet)
	KindUnknown Kind = "unknown" // some other card
)

// ReaderStatus is what a reader holds.
type ReaderStatus struct {
	Name          string
	Kind          Kind // KindNone, KindBELPIC or KindUnknown
	ATR           []byte
	AppletVersion string // "1.1", "1.7", "1.8" for a BELPIC card that answered GET CARD DATA
	InUse         bool   // another program holds the card exclusively
}

// Readers lists the readers and what each holds. A BELPIC card is
// recognised by its ATR (ref §1.2) and asked its applet version with GET
// CARD DATA, the only way to tell 1.1 from 1.7; other cards are left alone.
func (c *Context) Readers() ([]ReaderStatus, error) { return c.readers(true) }

// readers lists the readers, asking BELPIC cards their applet version
// only when applet is set: ChooseReader does not need it, and asking costs
// a connection and a GET CARD DATA per card, which the operation that
// follows sends anyway.
func (c *Context) readers(applet bool) ([]ReaderStatus, error) {
	names, err := c.ctx.ListReaders()
	if err != nil {
		return nil, mapPCSCError(err)
	}
	if len(names) == 0 {
		return nil, ErrNoReader
	}
	states := make([]scard.ReaderState, len(names))
	for i, n := range names {
		states[i] = scard.ReaderState{Reader: n, CurrentState: scard.StateUnaware}
	}
	if err := c.ctx.GetStatusChange(states, 0); err != nil && !errors.Is(err, scard.ErrTimeout) {
		return nil, mapPCSCError(err)
	}
	// A card that was just inserted can show as present before pcscd has
	// powered it (no ATR yet); wait a moment for its ATR rather than call
	// it an unknown card (card.Watch does the same).
	var arriving []scard.ReaderState
	var at []int
	for i, st := range states {
		if st.EventState&scard.StatePresent != 0 && len(st.Atr) == 0 && st.EventState&scard.StateMute == 0 {
			arriving = append(arriving, scard.ReaderState{Reader: st.Reader, CurrentState: st.EventState})
			at = append(at, i)
		}
	}
	if len(arriving) > 0 {
		if err := c.ctx.GetStatusChange(arriving, time.Second); err == nil {
			for j, st := range arriving {
				states[at[j]] = st
			}
		}
	}
	out := make([]ReaderStatus, len(names))
	for i, st := range states {
		rs := ReaderStatus{Name: st.Reader, Kind: KindNone}
		if st.EventState&scard.StatePresent != 0 {
			rs.ATR = append([]byte(nil), st.Atr...)
			rs.InUse = st.EventState&scard.StateExclusive != 0
			rs.Kind = KindUnknown
			if IsBELPICATR(rs.ATR) {
				rs.Kind = KindBELPIC
				if !rs.InUse && applet {
					rs.AppletVersion = c.appletVersion(st.Reader)
				}
			}
		}
		out[i] = rs
	}
	return out, nil
}

func (c *Context) appletVersion(reader string) string {
	card, err := c.Connect(reader)
	if err != nil {
		return ""
	}
	defer card.Close()
	data, err := card.ReadCardData()
	if err != nil {
		return ""
	}
	cd, err := eidfile.ParseCardData(data)
	if err != nil {
		return ""
	}
	return cd.AppletVersion
}

// ATR patterns of the BELPIC applet (ref §1.2): all pre-1.8 cards match the
// masked pattern that eid-mw's installer registers; 1.8 is matched exactly.
var (
	atrPre18     = []byte{0x3B, 0x98, 0x00, 0x40, 0x00, 0xA5, 0x03, 0x01, 0x01, 0x01, 0xAD, 0x13, 0x00}
	atrPre18Mask = []byte{0xFF, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00}
	atr18        = []byte{0x3B, 0x7F, 0x96, 0x00, 0x00, 0x80, 0x31, 0x80, 0x65, 0xB0, 0x85, 0x04, 0x01, 0x20, 0x12, 0x0F, 0xFF, 0x82, 0x90, 0x00}
)

// IsBELPICATR reports whether atr is one of a Belgian eID card.
func IsBELPICATR(atr []byte) bool {
	if bytes.Equal(atr, atr18) {
		return true
	}
	if len(atr) != len(atrPre18) {
		return false
	}
	for i := range atr {
		if atr[i]&atrPre18Mask[i] != atrPre18[i] {
			return false
		}
	}
	return true
}

// ChooseReader picks the reader to use: the named one (which must exist),
// or else the only reader that holds a card.
func (c *Context) ChooseReader(name string) (string, error) {
	readers, err := c.readers(false)
	if err != nil {
		return "", err
	}
	if name != "" {
		for _, r := range readers {
			if r.Name == name {
				if r.Kind == KindNone {
					return "", fmt.Errorf("%s: %w", name, ErrNoCard)
				}
				return name, nil
			}
		}
		return "", fmt.Errorf("%q: %w", name, ErrReaderNotFound)
	}
	var with []string
	for _, r := range readers {
		if r.Kind != KindNone {
			with = append(with, r.Name)
		}
	}
	switch len(with) {
	case 0:
		return "", ErrNoCard
	case 1:
		return with[0], nil
	}
	return "", fmt.Errorf("%w: %q", ErrAmbiguousReader, with)
}

// Connect opens the card in reader, shared with other programs. BELPIC
// cards speak T=0 only (ref §1.3); T=1 is accepted so that another card
// can be told apart by its answers rather than by a protocol error.
func (c *Context) Connect(reader string) (*Card, error) {
	h, err := c.ctx.Connect(reader, scard.ShareShared, scard.ProtocolT0|scard.ProtocolT1)
	if err != nil {
		return nil, mapPCSCError(err)
	}
	st, err := h.Status()
	if err != nil {
		h.Disconnect(scard.LeaveCard)
		return nil, mapPCSCError(err)
	}
	card := New(&pcscTransport{h: h}, reader, st.Atr)
	card.closer = func() error { return h.Disconnect(scard.LeaveCard) }
	return card, nil
}

// pcscTransport is a Transport over one PC/SC card handle.
type pcscTransport struct {
	h *scard.Card
}

func (p *pcscTransport) Transmit(cmd []byte) ([]byte, error) {
	resp, err := p.h.Transmit(cmd)
	if err != nil {
		return nil, p.failure(err)
	}
	if len(resp) < 2 {
		// A card pulled out during the command can come back as an empty
		// answer without any error (seen with pcscd 1.9.9 and vpcd); only
		// the next call fails. Check presence before calling it garbage.
		if err := p.failure(scard.ErrCommError); errors.Is(err, ErrCardRemoved) {
			return nil, err
		}
	}
	return resp, nil
}

// Control sends a control code to the reader (SCardControl), for PIN pads
// (ref §7.7). Readers that do not implement it (vpcd) answer
// SCARD_E_UNSUPPORTED_FEATURE, returned as is.
func (p *pcscTransport) Control(code uint32, in []byte) ([]byte, error) {
	out, err := p.h.Control(code, in)
	if err != nil {
		return nil, p.failure(err)
	}
	return out, nil
}

func (p *pcscTransport) Begin() error {
	if err := p.h.BeginTransaction(); err != nil {
		return p.failure(err)
	}
	return nil
}

func (p *pcscTransport) End() error {
	if err := p.h.EndTransaction(scard.LeaveCard); err != nil {
		return p.failure(err)
	}
	return nil
}

// failure turns a PC/SC error into one of ours. Pulling the card out in the
// middle of an exchange does not always come back as "removed": the driver
// may report a transmission failure first and the service notice the
// absence only at its next presence poll (pcscd polls every 400 ms), so on
// a communication error the card's presence is checked for up to a second.
func (p *pcscTransport) failure(err error) error {
	mapped := mapPCSCError(err)
	if errors.Is(mapped, ErrCardRemoved) {
		return mapped
	}
	switch err {
	case scard.ErrNotTransacted, scard.ErrCommError, scard.ErrCommDataLost, scard.ErrUnknownError,
		scard.ErrReaderUnavailable, scard.ErrUnresponsiveCard, scard.ErrUnpoweredCard:
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			st, serr := p.h.Status()
			if serr != nil {
				if m := mapPCSCError(serr); errors.Is(m, ErrCardRemoved) {
					return fmt.Errorf("%w (%v)", ErrCardRemoved, err)
				}
				continue
			}
			if st.State&scard.Present == 0 {
				return fmt.Errorf("%w (%v)", ErrCardRemoved, err)
			}
		}
	}
	return mapped
}

// mapPCSCError maps the PC/SC errors a caller can act on to our sentinels,
// keeping the original text.
func mapPCSCError(err error) error {
	switch err {
	case nil:
		return nil
	case scard.ErrNoService, scard.ErrServiceStopped, scard.ErrNoReadersAvailable:
		if err == scard.ErrNoReadersAvailable {
			return ErrNoReader
		}
		return fmt.Errorf("%w (%v)", ErrNoService, err)
	case scard.ErrRemovedCard, scard.ErrNoSmartcard, scard.ErrResetCard, scard.ErrUnpoweredCard:
		return fmt.Errorf("%w (%v)", ErrCardRemoved, err)
	case scard.ErrUnknownReader, scard.ErrReaderUnavailable:
		return fmt.Errorf("%w (%v)", ErrReaderNotFound, err)
	case scard.ErrSharingViolation:
		return fmt.Errorf("card in use by another program: %w", err)
	}
	return err
}
