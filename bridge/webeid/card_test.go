package webeid_test

import (
	"context"
	"errors"
	"testing"

	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/virtual"
)

const (
	origin = "https://app.example:8443"
	nonce  = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
)

// TestCardTokens: the virtual card's authentication key, in process behind
// card.Transport, makes tokens that verify: RS256 on RSA applets, ES384 on
// applet 1.8.
func TestCardTokens(t *testing.T) {
	for _, tc := range []struct{ profile, alg string }{
		{"citizen-1.1", "RS256"},
		{"citizen-1.7", "RS256"},
		{"citizen-1.8", "ES384"},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			p, err := virtual.Preset(tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			vc := virtual.New(p)
			c := card.New(card.TransportFunc(func(cmd []byte) ([]byte, error) { return vc.Transmit(cmd), nil }), "in-process", p.ATR)
			c.Delay6C = 0
			prompts := 0
			k, err := c.Key(card.KeyAuthentication, func(context.Context, card.PINRequest) ([]byte, error) {
				prompts++
				return []byte(virtual.DefaultPIN), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := webeid.Create(k, origin, nonce, webeid.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tok.Algorithm != tc.alg {
				t.Errorf("algorithm %s, want %s", tok.Algorithm, tc.alg)
			}
			cert, err := webeid.Verify(tok, origin, nonce)
			if err != nil {
				t.Fatal(err)
			}
			if !cert.Equal(k.Certificate()) {
				t.Error("certificate differs from the card's")
			}
			if prompts != 1 {
				t.Errorf("%d PIN prompts", prompts)
			}
		})
	}
}

func TestCardTokenPINCancelled(t *testing.T) {
	p, err := virtual.Preset("citizen-1.8")
	if err != nil {
		t.Fatal(err)
	}
	vc := virtual.New(p)
	c := card.New(card.TransportFunc(func(cmd []byte) ([]byte, error) { return vc.Transmit(cmd), nil }), "in-process", p.ATR)
	c.Delay6C = 0
	k, err := c.Key(card.KeyAuthentication, func(context.Context, card.PINRequest) ([]byte, error) {
		return nil, card.ErrPINCancelled
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := webeid.Create(k, origin, nonce, webeid.Options{}); !errors.Is(err, card.ErrPINCancelled) {
		t.Fatalf("err %v, want ErrPINCancelled", err)
	}
}
