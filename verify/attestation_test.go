package verify_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/agent"
	"github.com/eid-agent/eid-agent/internal/testkit"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/verify"
)

// Attestations made by the agent (the simulator's virtual card behind a
// real bridge and the Go client), then verified, then forged one way at
// a time. The same round trip runs through pcscd and vpcd in
// cmd/eid-agent's TestDaemonAttestPCSC.

var attestGrant = bridge.Grant{Fields: []string{"identity", "address", "photo"}, Authenticate: true}

// attest asks the agent behind c for an attestation and returns its JSON.
func attest(t *testing.T, c *client.Client, nonce string, fields []string, withAuth bool) []byte {
	t.Helper()
	var res struct {
		Attestation json.RawMessage `json:"attestation"`
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	params := map[string]any{"nonce": nonce, "fields": fields}
	if withAuth {
		params["withAuthentication"] = true
	}
	if err := c.Call(ctx, "attest", params, &res); err != nil {
		t.Fatal(err)
	}
	return res.Attestation
}

// attestTrust trusts the roots of the presets named.
func attestTrust(t *testing.T, presets ...string) *eidfile.TrustStore {
	t.Helper()
	ts := &eidfile.TrustStore{}
	for _, n := range presets {
		p, err := virtual.Preset(n)
		if err != nil {
			t.Fatal(err)
		}
		ts.Add(p.PKI.Root)
	}
	return ts
}

func parseAtt(t *testing.T, raw []byte) *eidfile.Attestation {
	t.Helper()
	var a eidfile.Attestation
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	return &a
}

func marshal(t *testing.T, a *eidfile.Attestation) []byte {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// chipAnswer has preset's virtual chip (in process, not the agent's card)
// sign challenge with its basic key, as an attacker holding that card
// could; it returns the card's files too.
func chipAnswer(t *testing.T, preset string, challenge []byte) (*eidfile.Files, []byte) {
	t.Helper()
	p, err := virtual.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	vc := virtual.New(p)
	c := card.New(card.TransportFunc(func(cmd []byte) ([]byte, error) { return vc.Transmit(cmd), nil }), "attacker", p.ATR)
	c.Delay6C = 0
	f, err := c.ReadFilesAndChallenge(card.PartIdentity|card.PartAddress|card.PartPhoto, nil, func(*eidfile.Files) ([]byte, error) { return challenge, nil })
	if err != nil {
		t.Fatal(err)
	}
	return f, f.ChallengeSignature
}

// TestAttestationRoundTrip: what each card generation's attestation
// proves, with and without the authentication key.
func TestAttestationRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		preset    string
		withAuth  bool
		present   bool
		presentBy string
	}{
		{"citizen-1.8", false, true, "basic-key"},
		{"citizen-1.8", true, true, "basic-key"},
		{"foreigner-1.8", false, true, "basic-key"},
		{"citizen-1.7", false, false, ""},
		{"citizen-1.7", true, true, "authentication-key"},
		{"citizen-1.7-ec", false, false, ""},
	} {
		name := tc.preset
		if tc.withAuth {
			name += "+auth"
		}
		t.Run(name, func(t *testing.T) {
			a := startAgent(t, tc.preset, attestGrant)
			c := a.dial(t, rtOrigin)
			store := &verify.MemoryNonceStore{}
			v := &verify.AttestationVerifier{Trust: attestTrust(t, tc.preset), Nonces: store}
			n, _ := store.Issue()
			raw := attest(t, c, n, []string{"identity", "address", "photo"}, tc.withAuth)
			if err := testkit.ValidateSchema(bridge.Schema, "response-attest", append(append([]byte(`{"id":1,"result":{"attestation":`), raw...), "}}"...)); err != nil {
				t.Errorf("schema: %v", err)
			}
			res, err := v.VerifyAttestation(raw, rtOrigin, n)
			if err != nil {
				t.Fatalf("%v (%s)", err, verify.ErrorCode(err))
			}
			if !res.Genuine || res.Present != tc.present || res.Bound != tc.present || res.PresentBy != tc.presentBy || res.Authenticated != tc.withAuth {
				t.Errorf("result %+v", res)
			}
			p, _ := virtual.Preset(tc.preset)
			_, id, _ := eidfile.ParseIdentity(p.Files[virtual.PathIdentity])
			if res.Identity.Reading.Identity != id || res.Identity.Reading.Address == nil || res.Identity.Reading.Photo == nil {
				t.Errorf("identity %+v", res.Identity.Reading.Identity)
			}
			// A server that insists on presence.
			n2, _ := store.Issue()
			strict := &verify.AttestationVerifier{Trust: v.Trust, Nonces: store, RequirePresent: true}
			_, err = strict.VerifyAttestation(attest(t, c, n2, []string{"identity"}, tc.withAuth), rtOrigin, n2)
			if tc.present && err != nil || !tc.present && !errors.Is(err, verify.ErrNotPresent) {
				t.Errorf("RequirePresent: %v", err)
			}
			// The identity alone: no address or photo leaves the agent.
			n3, _ := store.Issue()
			only := parseAtt(t, attest(t, c, n3, []string{"identity"}, false))
			if only.Bundle.Address != nil || only.Bundle.Photo != nil || only.Bundle.AddressSignature != nil {
				t.Error("identity-only attestation carries the address or photo")
			}
		})
	}
}

// TestAttestationForgeries: each forgery of the issue, each refused with
// its own error.
func TestAttestationForgeries(t *testing.T) {
	const victim, attacker = "citizen-1.8", "foreigner-1.8"
	// Every forgery starts from fresh genuine attestations: more than the
	// budget of one insertion.
	a := startAgent(t, victim, attestGrant, func(b *agent.Backend) { b.AttestLimits = agent.AttestLimits{PerInsertion: 1000, PerOriginHourly: 1000} })
	c := a.dial(t, rtOrigin)
	store := &verify.MemoryNonceStore{}
	trust := attestTrust(t, victim, attacker)
	v := &verify.AttestationVerifier{Trust: trust, Nonces: store}
	all := []string{"identity", "address", "photo"}

	// good returns a fresh genuine attestation and its nonce.
	good := func(t *testing.T) (*eidfile.Attestation, string) {
		n, _ := store.Issue()
		return parseAtt(t, attest(t, c, n, all, false)), n
	}

	for _, tc := range []struct {
		name string
		// forge returns the JSON to present, the origin and the nonce the
		// server expects.
		forge func(t *testing.T) ([]byte, string, string)
		want  error
	}{
		{"files of another card (attacker's chip answers over the victim's files)", func(t *testing.T) ([]byte, string, string) {
			att, n := good(t)
			ch := agent.AttestationChallenge(rtOrigin, n, att.Bundle)
			_, sig := chipAnswer(t, attacker, ch)
			att.Challenge, att.ChipSignature = ch, sig
			return marshal(t, att), rtOrigin, n
		}, verify.ErrWrongCard},
		{"files of another card (card data of the chip that answered)", func(t *testing.T) ([]byte, string, string) {
			att, n := good(t)
			f, _ := chipAnswer(t, attacker, make([]byte, 48))
			att.Bundle.CardData = f.CardData
			return marshal(t, att), rtOrigin, n
		}, verify.ErrWrongCard},
		{"a replayed attestation", func(t *testing.T) ([]byte, string, string) {
			att, n := good(t)
			raw := marshal(t, att)
			if _, err := v.VerifyAttestation(raw, rtOrigin, n); err != nil {
				t.Fatalf("first use: %v", err)
			}
			return raw, rtOrigin, n
		}, verify.ErrNonceReplayed},
		{"another origin", func(t *testing.T) ([]byte, string, string) {
			att, n := good(t)
			return marshal(t, att), "https://other.example", n
		}, verify.ErrWrongOrigin},
		{"another origin, the origin member rewritten", func(t *testing.T) ([]byte, string, string) {
			att, n := good(t)
			att.Origin = "https://other.example"
			return marshal(t, att), "https://other.example", n
		}, verify.ErrChallengeMismatch},
		{"another nonce", func(t *testing.T) ([]byte, string, string) {
			att, _ := good(t)
			n2, _ := store.Issue()
			return marshal(t, att), rtOrigin, n2
		}, verify.ErrWrongNonce},
		{"a card answer over another challenge", func(t *testing.T) ([]byte, string, string) {
			old, _ := good(t)
			att, n := good(t)
			att.Challenge, att.ChipSignature = old.Challenge, old.ChipSignature
			return marshal(t, att), rtOrigin, n
		}, verify.ErrChallengeMismatch},
		{"a tampered photo", func(t *testing.T) ([]byte, string, string) {
			att, n := good(t)
			att.Bundle.Photo[len(att.Bundle.Photo)/2] ^= 0x40
			return marshal(t, att), rtOrigin, n
		}, verify.ErrPhotoMismatch},
		{"a 1.8 attestation with the card answer stripped", func(t *testing.T) ([]byte, string, string) {
			att, n := good(t)
			att.Challenge, att.ChipSignature = nil, nil
			return marshal(t, att), rtOrigin, n
		}, verify.ErrDowngrade},
		{"downgrade posing as an older card (basic key and card data gone too)", func(t *testing.T) ([]byte, string, string) {
			att, n := good(t)
			att.Challenge, att.ChipSignature, att.Bundle.BasicKey, att.Bundle.CardData = nil, nil, nil, nil
			return marshal(t, att), rtOrigin, n
		}, verify.ErrDowngrade},
		{"a basic key that is not the one the identity file hashes", func(t *testing.T) ([]byte, string, string) {
			att, n := good(t)
			f, _ := chipAnswer(t, attacker, make([]byte, 48))
			att.Bundle.BasicKey = f.BasicKey
			att.Challenge = agent.AttestationChallenge(rtOrigin, n, att.Bundle)
			_, att.ChipSignature = chipAnswer(t, attacker, att.Challenge)
			return marshal(t, att), rtOrigin, n
		}, verify.ErrBasicKeyMismatch},
		{"an answer made before the nonce existed, challenge member rewritten", func(t *testing.T) ([]byte, string, string) {
			old, _ := good(t)
			att, n := good(t)
			att.ChipSignature = old.ChipSignature
			return marshal(t, att), rtOrigin, n
		}, verify.ErrWrongCard},
		{"files of a field not asked", func(t *testing.T) ([]byte, string, string) {
			att, n := good(t)
			att.Fields = []string{"identity", "address"}
			return marshal(t, att), rtOrigin, n
		}, verify.ErrAttestationFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, origin, n := tc.forge(t)
			res, err := v.VerifyAttestation(raw, origin, n)
			if !errors.Is(err, tc.want) || res != nil {
				t.Fatalf("got %v (%v), want %v", err, verify.ErrorCodes(err), tc.want)
			}
			// Its own error: no other forgery's sentinel matches.
			for _, other := range []error{verify.ErrWrongCard, verify.ErrNonceReplayed, verify.ErrWrongOrigin, verify.ErrWrongNonce,
				verify.ErrChallengeMismatch, verify.ErrPhotoMismatch, verify.ErrDowngrade, verify.ErrBasicKeyMismatch, verify.ErrAttestationFormat} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("%v also matches %v", err, other)
				}
			}
		})
	}
}

// TestAttestationHolderMismatch: an authentication signature by another
// person's card over the right challenge.
func TestAttestationHolderMismatch(t *testing.T) {
	victim := startAgent(t, "citizen-1.8", attestGrant)
	other := startAgent(t, "kids-1.8", attestGrant)
	store := &verify.MemoryNonceStore{}
	v := &verify.AttestationVerifier{Trust: attestTrust(t, "citizen-1.8", "kids-1.8"), Nonces: store}
	n, _ := store.Issue()
	att := parseAtt(t, attest(t, victim.dial(t, rtOrigin), n, []string{"identity"}, false))
	// The other card's agent signs the same challenge with its
	// authentication key: made for the same origin and nonce over the
	// other's files, so only its authentication part is taken.
	mine := parseAtt(t, attest(t, other.dial(t, rtOrigin), n, []string{"identity"}, true))
	if mine.Authentication == nil {
		t.Fatal("no authentication")
	}
	// Re-sign the victim's challenge: the kids card has an
	// authentication key, driven here through the card layer.
	p, _ := virtual.Preset("kids-1.8")
	vc := virtual.New(p)
	cd := card.New(card.TransportFunc(func(cmd []byte) ([]byte, error) { return vc.Transmit(cmd), nil }), "other", p.ATR)
	cd.Delay6C = 0
	key, err := cd.Key(card.KeyAuthentication, func(context.Context, card.PINRequest) ([]byte, error) { return []byte(virtual.DefaultPIN), nil })
	if err != nil {
		t.Fatal(err)
	}
	der, err := key.Sign(rand.Reader, att.Challenge, cryptoSHA384)
	if err != nil {
		t.Fatal(err)
	}
	mine.Authentication.Signature = derToRaw(t, der, 48)
	att.Authentication = mine.Authentication
	if _, err := v.VerifyAttestation(marshal(t, att), rtOrigin, n); !errors.Is(err, verify.ErrHolderMismatch) {
		t.Fatalf("%v (%v)", err, verify.ErrorCodes(err))
	}
}

// TestAttestationChallengeTwoReadings: the verifier's challenge (its own
// reading of docs/verify.md) is the agent's, on real and edge inputs, and
// the fixed vector of the documentation.
func TestAttestationChallengeTwoReadings(t *testing.T) {
	a := startAgent(t, "citizen-1.8", attestGrant)
	store := &verify.MemoryNonceStore{}
	n, _ := store.Issue()
	att := parseAtt(t, attest(t, a.dial(t, rtOrigin), n, []string{"identity", "photo"}, false))
	if !bytes.Equal(att.Challenge, agent.AttestationChallenge(rtOrigin, n, att.Bundle)) {
		t.Fatal("the agent's challenge is not AttestationChallenge of its bundle")
	}
	if !bytes.Equal(att.Challenge, verify.AttestationChallengeForTest(rtOrigin, n, att.Bundle)) {
		t.Fatal("verify and agent derive different challenges")
	}
	empty := &eidfile.Bundle{}
	if !bytes.Equal(agent.AttestationChallenge("", "", empty), verify.AttestationChallengeForTest("", "", empty)) {
		t.Fatal("empty inputs differ")
	}
	// docs/verify.md's vector.
	vec := &eidfile.Bundle{Identity: []byte{0x01, 0x02}, RRNCertificate: []byte{0x30}}
	got := hex.EncodeToString(verify.AttestationChallengeForTest("https://counter.example", "AAAA", vec))
	if got != attestationVector {
		t.Errorf("vector %s, want %s", got, attestationVector)
	}
}

const cryptoSHA384 = crypto.SHA384

// attestationVector is docs/verify.md's example challenge: origin
// https://counter.example, nonce AAAA, a bundle with identity 01 02 and
// RRN certificate 30, nothing else.
const attestationVector = "2010e61e075bd0fc790684eafb9d9f49652bb3564e4b6b132904464d50a6855dacc60c430ccbe2312b50d0c9e30bbcae"

// derToRaw turns an ASN.1 ECDSA signature into r||s.
func derToRaw(t *testing.T, der []byte, size int) []byte {
	t.Helper()
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &sig); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 2*size)
	sig.R.FillBytes(out[:size])
	sig.S.FillBytes(out[size:])
	return out
}
