package card_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/virtual"
)

// The virtual card plugged in-process behind the same Transport interface
// as PC/SC: fast tests of everything above the transport.

// inProcess wraps a virtual card; removeAfter > 0 pulls the card out when
// that many commands have been sent; corrupt edits responses.
type inProcess struct {
	vc          *virtual.Card
	sent        int
	removeAfter int
	corrupt     func(cmd, resp []byte) []byte
}

func (p *inProcess) Transmit(cmd []byte) ([]byte, error) {
	p.sent++
	if p.removeAfter > 0 && p.sent >= p.removeAfter {
		return nil, fmt.Errorf("%w (test)", card.ErrCardRemoved)
	}
	resp := p.vc.Transmit(cmd)
	if p.corrupt != nil {
		resp = p.corrupt(cmd, resp)
	}
	return resp, nil
}

func newInProcess(p *virtual.Profile) (*card.Card, *inProcess) {
	t := &inProcess{vc: virtual.New(p)}
	c := card.New(t, "in-process", p.ATR)
	c.Delay6C = 0
	return c, t
}

// TestYankInProcess removes every profile's card after N commands for
// every N of its full read.
func TestYankInProcess(t *testing.T) {
	for _, p := range profiles(t) {
		c, tr := newInProcess(p)
		if _, err := c.ReadFiles(card.PartAll); err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		total := tr.sent
		for n := 1; n <= total; n++ {
			c, tr := newInProcess(p)
			tr.removeAfter = n
			files, err := c.ReadFiles(card.PartAll)
			if !errors.Is(err, card.ErrCardRemoved) || files != nil {
				t.Fatalf("%s removed at command %d of %d: err %v, files %v", p.Name, n, total, err, files != nil)
			}
		}
	}
}

// TestChipAuthenticationForged: a chip whose basic-key answer does not
// verify (a clone holding copied files but not the key) is reported.
func TestChipAuthenticationForged(t *testing.T) {
	p, err := virtual.Preset("citizen-1.8")
	if err != nil {
		t.Fatal(err)
	}
	c, tr := newInProcess(p)
	var internalAuth bool
	tr.corrupt = func(cmd, resp []byte) []byte {
		switch {
		case cmd[1] == 0x88:
			internalAuth = true
		case cmd[1] == 0xC0 && internalAuth && len(resp) > 2:
			resp[0] ^= 0xFF
		}
		return resp
	}
	r, err := c.Read(card.ReadOptions{Trust: trustFor(p), Now: clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if r.Integrity.ChipAuthentication != eidfile.Invalid || r.Integrity.Identity != eidfile.Valid {
		t.Fatalf("%+v", r.Integrity)
	}

	// Without the part, no challenge is sent.
	c, tr = newInProcess(p)
	var challenged bool
	tr.corrupt = func(cmd, resp []byte) []byte {
		challenged = challenged || cmd[1] == 0x88
		return resp
	}
	f, err := c.ReadFiles(card.PartAddress)
	if err != nil {
		t.Fatal(err)
	}
	if challenged {
		t.Fatal("INTERNAL AUTHENTICATE sent for a read without the chip check")
	}
	if f.Challenge != nil || f.Photo != nil || f.AuthCert != nil || f.Address == nil {
		t.Fatalf("parts not honoured: challenge %v photo %v auth %v", f.Challenge != nil, f.Photo != nil, f.AuthCert != nil)
	}
}

// TestNotBELPIC: a card that does not know GET CARD DATA is refused with
// ErrUnsupportedCard, and a mute one with a clear error.
func TestNotBELPIC(t *testing.T) {
	other := card.TransportFunc(func(cmd []byte) ([]byte, error) { return []byte{0x6D, 0x00}, nil })
	if _, err := card.New(other, "", nil).ReadFiles(card.PartAll); !errors.Is(err, card.ErrUnsupportedCard) {
		t.Errorf("6D00 card: %v", err)
	}
	mute := card.TransportFunc(func(cmd []byte) ([]byte, error) { return nil, nil })
	if _, err := card.New(mute, "", nil).ReadFiles(card.PartAll); !errors.Is(err, card.ErrUnsupportedCard) {
		t.Errorf("mute card: %v", err)
	}
}
