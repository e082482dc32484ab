package card_test

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/virtual"
)

// swLog records the status words a virtual card answered to READ BINARY.
type swLog struct{ readBinary, wrongLe, beyondEnd int }

func (l *swLog) trace(cmd, resp []byte) {
	if len(cmd) < 2 || cmd[1] != 0xB0 || len(resp) < 2 {
		return
	}
	l.readBinary++
	switch sw1 := resp[len(resp)-2]; {
	case sw1 == 0x6C:
		l.wrongLe++
	case sw1 == 0x6B:
		l.beyondEnd++
	}
}

func traced(p *virtual.Profile) (*card.Card, *swLog) {
	l := &swLog{}
	vc := virtual.New(p, virtual.WithTrace(l.trace))
	c := card.New(card.TransportFunc(func(cmd []byte) ([]byte, error) { return vc.Transmit(cmd), nil }), "sizes", p.ATR)
	c.Delay6C = 0
	return c, l
}

// TestRememberedSizes: a returning card's identity, address, signature and
// basic-key files are read with their remembered sizes: no 6C xx and no
// end probe, the same files; the 1.8 basic key is read without a 6C even
// the first time.
func TestRememberedSizes(t *testing.T) {
	for _, name := range []string{"citizen-1.7", "citizen-1.8", "foreigner-1.7"} {
		t.Run(name, func(t *testing.T) {
			p := preset(t, name)
			cache := &mapCache{m: map[string][]byte{}}
			parts := card.PartIdentity | card.PartAddress | card.PartPhoto
			c, cold := traced(p)
			first, err := c.ReadFilesCached(parts, cache)
			if err != nil {
				t.Fatal(err)
			}
			c, warm := traced(p)
			second, err := c.ReadFilesCached(parts, cache)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range [][2][]byte{{first.Identity, second.Identity}, {first.IdentitySignature, second.IdentitySignature},
				{first.Address, second.Address}, {first.AddressSignature, second.AddressSignature}, {first.BasicKey, second.BasicKey}} {
				if !bytes.Equal(f[0], f[1]) {
					t.Fatal("the returning card's files differ")
				}
			}
			if !bytes.Equal(second.Identity, p.Files[virtual.PathIdentity]) || !bytes.Equal(second.Address, p.Files[virtual.PathAddress]) {
				t.Fatal("not the card's files")
			}
			if warm.wrongLe != 0 || warm.beyondEnd != 0 {
				t.Errorf("returning card: %d 6C and %d 6B answers (cold read: %d and %d)", warm.wrongLe, warm.beyondEnd, cold.wrongLe, cold.beyondEnd)
			}
			if warm.readBinary >= cold.readBinary {
				t.Errorf("returning card: %d READ BINARY, not fewer than %d", warm.readBinary, cold.readBinary)
			}
			if p.Applet == "1.8" {
				// The basic key's first block is its documented 120 bytes:
				// the cold read has one 6C less than files of unknown size.
				c, l := traced(p)
				if _, err := c.ReadFiles(card.PartIdentity); err != nil {
					t.Fatal(err)
				}
				withKey := l.wrongLe
				if n := len(p.Files[virtual.PathBasicKey]); n != 120 {
					t.Fatalf("basic key file of %d bytes", n)
				}
				// identity (6C) and basic key (none): 1 for PartIdentity.
				if withKey != 1 {
					t.Errorf("%d 6C answers reading identity and basic key, want 1 (the identity's)", withKey)
				}
			}
		})
	}
}

// TestRememberedSizeWrong: a remembered size that is not the card's (two
// test cards with one chip serial) costs a second read, never a wrong
// file: too short is caught by the National Register's signature, too long
// by the card's own answer.
func TestRememberedSizeWrong(t *testing.T) {
	p := preset(t, "citizen-1.8")
	for _, delta := range []int{-7, +9} {
		t.Run(fmt.Sprint(delta), func(t *testing.T) {
			cache := &mapCache{m: map[string][]byte{}}
			c, _ := traced(p)
			if _, err := c.ReadFilesCached(card.PartIdentity|card.PartAddress, cache); err != nil {
				t.Fatal(err)
			}
			for k := range cache.m {
				if bytes.HasPrefix([]byte(k), []byte("size:")) && bytes.HasSuffix([]byte(k), []byte(fmt.Sprintf("%X", card.PathIdentity))) {
					_, sum, _ := strings.Cut(string(cache.m[k]), " ")
					cache.m[k] = []byte(strconv.Itoa(len(p.Files[virtual.PathIdentity])+delta) + " " + sum)
				}
			}
			c, _ = traced(p)
			f, err := c.ReadFilesCached(card.PartIdentity|card.PartAddress, cache)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f.Identity, p.Files[virtual.PathIdentity]) || !bytes.Equal(f.Address, p.Files[virtual.PathAddress]) {
				t.Fatalf("identity of %d bytes, want the card's %d", len(f.Identity), len(p.Files[virtual.PathIdentity]))
			}
			// And the size is right again for the next time.
			c, l := traced(p)
			if _, err := c.ReadFilesCached(card.PartIdentity|card.PartAddress, cache); err != nil || l.wrongLe != 0 {
				t.Errorf("third read: %v, %d 6C", err, l.wrongLe)
			}
		})
	}
}
