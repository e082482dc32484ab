package verify

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/virtual"
)

// anyNonce accepts every nonce, so that the fuzzer reaches the
// attestation's checks instead of stopping at the nonce store.
type anyNonce struct{}

func (anyNonce) Put(string, time.Time) error { return nil }
func (anyNonce) Take(string) error           { return nil }

// FuzzVerifyAttestation: any bytes a client posts end in a typed error or
// a result, never a panic; a result comes only with the files genuine, and
// for a card whose identity names a basic key, only with the chip's answer
// verified.
func FuzzVerifyAttestation(f *testing.F) {
	const origin, nonce = "https://counter.example", "bm9uY2Ugb2YgdGhlIGZ1enplciwgMzIgYnl0ZXMgbG9uZw=="
	p, err := virtual.Preset("citizen-1.8")
	if err != nil {
		f.Fatal(err)
	}
	vc := virtual.New(p)
	c := card.New(card.TransportFunc(func(cmd []byte) ([]byte, error) { return vc.Transmit(cmd), nil }), "fuzz", p.ATR)
	c.Delay6C = 0
	var b *eidfile.Bundle
	files, err := c.ReadFilesAndChallenge(card.PartIdentity|card.PartPhoto, nil, func(fs *eidfile.Files) ([]byte, error) {
		b = eidfile.NewBundle(fs)
		return attestationChallenge(origin, nonce, b), nil
	})
	if err != nil {
		f.Fatal(err)
	}
	good, err := json.Marshal(&eidfile.Attestation{Format: eidfile.AttestationFormat, Origin: origin, Nonce: nonce,
		Fields: []string{"identity", "photo"}, Bundle: b, Challenge: files.Challenge, ChipSignature: files.ChallengeSignature})
	if err != nil {
		f.Fatal(err)
	}
	v := &AttestationVerifier{Trust: vcardTrust(p), Nonces: anyNonce{}}
	if _, err := v.VerifyAttestation(good, origin, nonce); err != nil {
		f.Fatalf("seed does not verify: %v", err)
	}
	f.Add(good)
	f.Add([]byte(`{"format":"eid-attestation:1","bundle":{"format":"eid-bundle:1"}}`))
	f.Add([]byte(`{"format":"eid-attestation:1","origin":"https://counter.example","nonce":"` + nonce + `","fields":["identity"],"bundle":null}`))
	f.Add([]byte(`{"format":"eid-attestation:1","authentication":{"certificate":"MAA=","algorithm":"ES384","signature":""}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := v.VerifyAttestation(data, origin, nonce)
		if err != nil {
			if ErrorCode(err) == "INTERNAL" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !res.Genuine || res.Identity == nil {
			t.Fatalf("accepted without genuine files: %+v", res)
		}
		if res.Identity.Reading.Identity.BasicKeyHash != "" && !res.Present {
			t.Fatal("a 1.8 identity accepted without the chip's answer")
		}
	})
}
