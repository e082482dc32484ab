package card_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/testkit"
)

// TestPINStatus reads the tries left on every generation, before and after
// wrong PINs, without spending any.
func TestPINStatus(t *testing.T) {
	for _, name := range []string{"citizen-1.1", "citizen-1.7", "citizen-1.7-ec", "citizen-1.8"} {
		t.Run(name, func(t *testing.T) {
			p := preset(t, name)
			c, tr, log := newSigner(t, p)
			if p.Applet == "1.1" {
				n, err := c.PINStatus()
				if !errors.Is(err, card.ErrPINStatusUnavailable) {
					t.Fatalf("1.1: %d %v", n, err)
				}
				// Not even an empty VERIFY went out: it is a wrong PIN there.
				if log.ins(0x20) != 0 || tr.vc.PINTries() != 3 {
					t.Fatalf("1.1: %d VERIFY sent, tries %d", log.ins(0x20), tr.vc.PINTries())
				}
				return
			}
			status := func(want int) {
				t.Helper()
				before := tr.vc.PINTries()
				n, err := c.PINStatus()
				if err != nil || n != want {
					t.Fatalf("PINStatus = %d %v, want %d", n, err, want)
				}
				if tr.vc.PINTries() != before {
					t.Fatal("the status query cost a try")
				}
			}
			status(3)
			k, err := c.Key(card.KeySigning, pins("0000").prompt)
			if err != nil {
				t.Fatal(err)
			}
			d := testkit.Digest(crypto.SHA256, "x")
			for want := 2; want >= 0; want-- {
				if _, err := k.Sign(rand.Reader, d, crypto.SHA256); !isPINError(err, want) {
					t.Fatalf("wrong PIN: %v", err)
				}
				status(want)
			}
		})
	}

	// 1.7: 90 00 to the status query (PIN already verified) is the full
	// counter.
	c, _, _ := newSigner(t, preset(t, "citizen-1.7"))
	k, err := c.Key(card.KeyAuthentication, pins("1234").prompt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Sign(rand.Reader, testkit.Digest(crypto.SHA256, "x"), crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if n, err := c.PINStatus(); err != nil || n != card.MaxPINTries {
		t.Errorf("verified 1.7: %d %v", n, err)
	}
}

// TestChangePIN changes the PIN on every generation, then signs with the
// new one; the failures cost what they should and nothing more.
func TestChangePIN(t *testing.T) {
	for _, name := range []string{"citizen-1.1", "citizen-1.7", "citizen-1.7-ec", "citizen-1.8"} {
		t.Run(name, func(t *testing.T) {
			p := preset(t, name)
			c, tr, log := newSigner(t, p)
			changes := func() int { return log.ins(0x24) }

			// Failures before anything is sent.
			fails := []struct {
				name string
				pr   *prompter
				want error
			}{
				{"cancel current", &prompter{err: card.ErrPINCancelled}, card.ErrPINCancelled},
				{"malformed current", pins("12"), card.ErrPINFormat},
				{"malformed new", pins("1234", "12345678901234"), card.ErrPINFormat},
				{"new not digits", pins("1234", "abcd"), card.ErrPINFormat},
			}
			for _, f := range fails {
				if err := c.ChangePIN(f.pr.prompt); !errors.Is(err, f.want) {
					t.Errorf("%s: %v", f.name, err)
				}
				if changes() != 0 || tr.vc.PINTries() != 3 || !f.pr.wiped() {
					t.Fatalf("%s: %d CHANGE sent, tries %d, wiped %v", f.name, changes(), tr.vc.PINTries(), f.pr.wiped())
				}
			}
			// The dialog is asked the current PIN, then the new one.
			var cancelNew prompter
			cancelNew.pins = []string{"1234"}
			newCancelled := func(ctx context.Context, req card.PINRequest) ([]byte, error) {
				if req.New {
					return nil, card.ErrPINCancelled
				}
				return cancelNew.prompt(ctx, req)
			}
			if err := c.ChangePIN(newCancelled); !errors.Is(err, card.ErrPINCancelled) || changes() != 0 || !cancelNew.wiped() {
				t.Fatalf("new PIN cancelled: %v, %d CHANGE", err, changes())
			}

			// A wrong current PIN costs a try.
			if err := c.ChangePIN(pins("9999", "5678").prompt); !isPINError(err, 2) || tr.vc.PINTries() != 2 {
				t.Fatalf("wrong current PIN: %v (tries %d)", err, tr.vc.PINTries())
			}
			pr := pins("1234", "567890")
			if err := c.ChangePIN(pr.prompt); err != nil {
				t.Fatal(err)
			}
			if len(pr.reqs) != 2 || !pr.reqs[0].Change || pr.reqs[0].New || !pr.reqs[1].New || pr.reqs[1].Change {
				t.Errorf("requests %+v", pr.reqs)
			}
			if !pr.wiped() || tr.vc.PINTries() != 3 {
				t.Errorf("wiped %v, tries %d", pr.wiped(), tr.vc.PINTries())
			}

			// The new PIN signs; the old one is wrong.
			sign, err := c.Key(card.KeySigning, pins("567890").prompt)
			if err != nil {
				t.Fatal(err)
			}
			d := testkit.Digest(crypto.SHA256, "x")
			sig, err := sign.Sign(rand.Reader, d, crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			testkit.VerifySignature(t, sign.Public(), d, sig, crypto.SHA256)
			old, err := c.Key(card.KeySigning, pins("1234").prompt)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := old.Sign(rand.Reader, d, crypto.SHA256); !isPINError(err, 2) {
				t.Errorf("old PIN: %v", err)
			}
		})
	}
}

// TestChangePINBlocked: three wrong current PINs block the card, and a
// later change is refused without a dialog.
func TestChangePINBlocked(t *testing.T) {
	c, tr, log := newSigner(t, preset(t, "citizen-1.8"))
	for want := 2; want >= 0; want-- {
		if err := c.ChangePIN(pins("0000", "5678").prompt); !isPINError(err, want) {
			t.Fatalf("%v", err)
		}
	}
	pr := pins("1234", "5678")
	if err := c.ChangePIN(pr.prompt); !errors.Is(err, card.ErrPINBlocked) || pr.calls() != 0 {
		t.Errorf("blocked: %v after %d dialogs", err, pr.calls())
	}
	if tr.vc.PINTries() != 0 || log.ins(0x24) != 3 {
		t.Errorf("tries %d, %d CHANGE", tr.vc.PINTries(), log.ins(0x24))
	}
}
