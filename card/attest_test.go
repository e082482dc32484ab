package card_test

import (
	"bytes"
	"crypto/sha512"
	"errors"
	"testing"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/card/eidfile"
)

// TestReadFilesAndChallenge: the challenger sees the files read, and the
// basic key's answer over its challenge verifies with file 4040 (checked
// by eidfile.Verify, the code a server runs). A challenger that returns nil
// or fails sends no INTERNAL AUTHENTICATE at all: a challenge is only spent
// when one is wanted. Cards before 1.8 never get one.
func TestReadFilesAndChallenge(t *testing.T) {
	for _, tc := range []struct {
		preset string
		basic  bool
	}{{"citizen-1.8", true}, {"kids-1.8", true}, {"citizen-1.7", false}, {"citizen-1.1", false}} {
		t.Run(tc.preset, func(t *testing.T) {
			p := preset(t, tc.preset)
			c, _, log := newSigner(t, p)
			var seen *eidfile.Files
			want := sha512.Sum384([]byte("bound to " + tc.preset))
			f, err := c.ReadFilesAndChallenge(card.PartIdentity|card.PartPhoto|card.PartChipAuthentication, nil, func(f *eidfile.Files) ([]byte, error) {
				seen = f
				if f.Identity == nil || f.Photo == nil {
					t.Error("challenger called before the files were read")
				}
				if f.BasicKey == nil {
					return nil, nil
				}
				return want[:], nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if seen != f {
				t.Error("challenger saw other files than those returned")
			}
			if f.Address != nil {
				t.Error("address read although not asked")
			}
			if got := log.ins(0x88); got != map[bool]int{true: 1, false: 0}[tc.basic] {
				t.Fatalf("%d INTERNAL AUTHENTICATE sent", got)
			}
			if !tc.basic {
				if f.Challenge != nil || f.ChallengeSignature != nil {
					t.Error("challenge on a card without a basic key")
				}
				return
			}
			if !bytes.Equal(f.Challenge, want[:]) || len(f.ChallengeSignature) != 96 {
				t.Fatalf("challenge %x, answer %d bytes", f.Challenge, len(f.ChallengeSignature))
			}
			in := eidfile.Verify(f, &eidfile.TrustStore{}, p.PKI.Root.NotBefore)
			if in.ChipAuthentication != eidfile.Valid || in.BasicKey != eidfile.Valid {
				t.Errorf("chip %s (%s), basic key %s", in.ChipAuthentication, in.ChipAuthenticationDetail, in.BasicKey)
			}
			// Another challenge does not verify with this answer.
			f.Challenge[0] ^= 1
			if in := eidfile.Verify(f, &eidfile.TrustStore{}, p.PKI.Root.NotBefore); in.ChipAuthentication != eidfile.Invalid {
				t.Errorf("answer verifies over another challenge: %s", in.ChipAuthentication)
			}
		})
	}

	t.Run("nothing spent", func(t *testing.T) {
		p := preset(t, "citizen-1.8")
		c, _, log := newSigner(t, p)
		if f, err := c.ReadFilesAndChallenge(card.PartIdentity, nil, func(*eidfile.Files) ([]byte, error) { return nil, nil }); err != nil || f.Challenge != nil {
			t.Fatalf("nil challenge: %v, %x", err, f.Challenge)
		}
		boom := errors.New("budget spent")
		if _, err := c.ReadFilesAndChallenge(card.PartIdentity, nil, func(*eidfile.Files) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("challenger error: %v", err)
		}
		if n := log.ins(0x88); n != 0 {
			t.Errorf("%d INTERNAL AUTHENTICATE sent", n)
		}
	})

	t.Run("removed", func(t *testing.T) {
		p := preset(t, "citizen-1.8")
		c, tr, log := newSigner(t, p)
		// Pulled while the files are read: the challenger is never asked.
		tr.removeAfter = 4
		called := false
		if _, err := c.ReadFilesAndChallenge(card.PartIdentity, nil, func(*eidfile.Files) ([]byte, error) { called = true; return make([]byte, 48), nil }); !errors.Is(err, card.ErrCardRemoved) || called {
			t.Fatalf("err %v, challenger called %v", err, called)
		}
		if n := log.ins(0x88); n != 0 {
			t.Errorf("%d INTERNAL AUTHENTICATE sent", n)
		}
	})

	t.Run("bad challenge", func(t *testing.T) {
		c, _, log := newSigner(t, preset(t, "citizen-1.8"))
		if _, err := c.ReadFilesAndChallenge(card.PartIdentity, nil, func(*eidfile.Files) ([]byte, error) { return make([]byte, 32), nil }); err == nil {
			t.Fatal("32-byte challenge accepted")
		}
		if n := log.ins(0x88); n != 0 {
			t.Errorf("%d INTERNAL AUTHENTICATE sent", n)
		}
		c17, _, _ := newSigner(t, preset(t, "citizen-1.7"))
		if _, err := c17.ReadCardData(); err != nil {
			t.Fatal(err)
		}
		if _, err := c17.InternalAuthenticate(make([]byte, 48)); !errors.Is(err, card.ErrNoBasicKey) {
			t.Errorf("1.7: %v", err)
		}
	})
}
