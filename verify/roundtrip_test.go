package verify_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/agent"
	"github.com/eid-agent/eid-agent/internal/agent/simulator"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/verify"
)

// Round trips: a virtual card in the agent's simulated reader, the agent's
// Backend behind a real bridge on loopback, the Go bridge client playing
// the page, and the verifier on the other end. The same chain runs through
// pcscd and the lab's vpcd readers in cmd/eid-verify's browser test.

const rtOrigin = "https://verify.example"

type agentUnderTest struct {
	sim *simulator.Simulator
	srv *bridge.Server
	url string
}

func startAgent(t *testing.T, preset string, grant bridge.Grant, tune ...func(*agent.Backend)) *agentUnderTest {
	t.Helper()
	sim := simulator.New(nil)
	if err := sim.Insert(preset); err != nil {
		t.Fatal(err)
	}
	pin := func(context.Context, card.PINRequest) ([]byte, error) { return []byte(virtual.DefaultPIN), nil }
	backend := &agent.Backend{Hardware: sim, Prompt: pin, Version: "0.0.0-test"}
	for _, f := range tune {
		f(backend)
	}
	srv, err := bridge.New(bridge.Config{
		Listen:         []string{"127.0.0.1:0"},
		AllowedOrigins: []string{rtOrigin},
		Backend:        backend,
		Consent:        bridge.NewMemoryConsent(map[string]bridge.Grant{rtOrigin: grant}),
		Version:        "0.0.0-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { srv.Close() })
	return &agentUnderTest{sim: sim, srv: srv, url: "ws://" + srv.Addrs()[0].String() + "/ws"}
}

func (a *agentUnderTest) dial(t *testing.T, origin string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, a.url, client.Auth{Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// validatorFor trusts the virtual card's test PKI: root as anchor, Citizen
// CA as intermediate (the token carries only the user certificate).
func validatorFor(t *testing.T, preset string, store verify.NonceStore) *verify.Validator {
	t.Helper()
	p, err := virtual.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(p.PKI.Root)
	inters.AddCert(p.PKI.CA)
	// The virtual card's certificates name no OCSP responder; revocation
	// is covered against a local responder in validate_test.go.
	return &verify.Validator{Roots: roots, Intermediates: inters, Nonces: store, OCSP: verify.OCSPConfig{Policy: verify.OCSPOff}}
}

func TestRoundTripAuthenticate(t *testing.T) {
	for _, tc := range []struct{ preset, alg string }{
		{"citizen-1.7", "RS256"},
		{"citizen-1.8", "ES384"},
	} {
		t.Run(tc.preset, func(t *testing.T) {
			a := startAgent(t, tc.preset, bridge.Grant{Authenticate: true})
			c := a.dial(t, rtOrigin)
			store := &verify.MemoryNonceStore{}
			v := validatorFor(t, tc.preset, store)
			ctx := context.Background()

			authenticate := func(nonce string) json.RawMessage {
				var tok json.RawMessage
				if err := c.Call(ctx, "authenticate", map[string]string{"nonce": nonce}, &tok); err != nil {
					t.Fatal(err)
				}
				return tok
			}
			nonce, _ := store.Issue()
			tok := authenticate(nonce)
			res, err := v.Validate(ctx, tok, rtOrigin, nonce)
			if err != nil {
				t.Fatalf("%v (%s)", err, verify.ErrorCode(err))
			}
			p, _ := virtual.Preset(tc.preset)
			_, id, err := eidfile.ParseIdentity(p.Files[virtual.PathIdentity])
			if err != nil {
				t.Fatal(err)
			}
			if res.Algorithm != tc.alg || res.Person.SSIN != id.NationalNumber {
				t.Fatalf("algorithm %s person %+v, want %s and SSIN %s", res.Algorithm, res.Person, tc.alg, id.NationalNumber)
			}

			// The same token, replayed.
			if _, err := v.Validate(ctx, tok, rtOrigin, nonce); !errors.Is(err, verify.ErrNonceReplayed) {
				t.Fatalf("replay: %v", err)
			}
			// Checked for another site: the agent signed for rtOrigin.
			n2, _ := store.Issue()
			if _, err := v.Validate(ctx, authenticate(n2), "https://other.example", n2); !errors.Is(err, verify.ErrWrongOrigin) {
				t.Fatalf("wrong origin: %v", err)
			}
			// A nonce the server never issued.
			n3, _ := verify.NewNonce()
			if _, err := v.Validate(ctx, authenticate(n3), rtOrigin, n3); !errors.Is(err, verify.ErrNonceUnknown) {
				t.Fatalf("unknown nonce: %v", err)
			}
			// A server that does not trust the card's PKI.
			n4, _ := store.Issue()
			other := validatorFor(t, map[string]string{"citizen-1.7": "citizen-1.8", "citizen-1.8": "citizen-1.7"}[tc.preset], store)
			if _, err := other.Validate(ctx, authenticate(n4), rtOrigin, n4); !errors.Is(err, verify.ErrUntrusted) {
				t.Fatalf("other PKI: %v", err)
			}
		})
	}
}

// A page of another origin cannot even ask: the bridge refuses the
// handshake, so no token for the verifier exists.
func TestRoundTripOtherOrigin(t *testing.T) {
	a := startAgent(t, "citizen-1.8", bridge.Grant{Authenticate: true})
	_, err := client.Dial(context.Background(), a.url, client.Auth{Origin: "https://evil.example"})
	var he *client.HandshakeError
	if !errors.As(err, &he) || he.Err == nil || he.Err.Code != "ORIGIN_NOT_ALLOWED" {
		t.Fatalf("%v", err)
	}
}

// Identity bundles through the agent: the bridge's read with the
// "bundle" field when the agent has it; the agent's own read path
// (card.ReadFiles on the simulator, then eidfile.NewBundle) otherwise, so
// that the bundle code is exercised either way.
func TestRoundTripBundle(t *testing.T) {
	for _, preset := range []string{"citizen-1.7", "citizen-1.8"} {
		t.Run(preset, func(t *testing.T) {
			a := startAgent(t, preset, bridge.Grant{Fields: []string{"identity", "bundle"}})
			c := a.dial(t, rtOrigin)
			p, _ := virtual.Preset(preset)
			trust := &eidfile.TrustStore{}
			trust.Add(p.PKI.Root)
			v := &verify.BundleVerifier{Trust: trust}

			var raw json.RawMessage
			var reading struct {
				Reading struct {
					Bundle json.RawMessage `json:"bundle"`
				} `json:"reading"`
			}
			err := c.Call(context.Background(), "read", map[string]any{"fields": []string{"bundle"}}, &raw)
			var be *bridge.Error
			switch {
			case err == nil:
				if err := json.Unmarshal(raw, &reading); err != nil || len(reading.Reading.Bundle) == 0 {
					t.Fatalf("read bundle answered %.200s (%v)", raw, err)
				}
			case errors.As(err, &be) && be.Code == "BAD_REQUEST":
				t.Logf("the agent has no \"bundle\" read field yet (%v): bundle made with the agent's read path instead", err)
				cd, err := a.sim.Connect(simulator.ReaderName)
				if err != nil {
					t.Fatal(err)
				}
				f, err := cd.ReadFiles(card.PartIdentity | card.PartAddress | card.PartPhoto)
				if err != nil {
					t.Fatal(err)
				}
				reading.Reading.Bundle, _ = json.Marshal(eidfile.NewBundle(f))
			default:
				t.Fatal(err)
			}
			res, err := v.VerifyBundle(reading.Reading.Bundle)
			if err != nil {
				t.Fatalf("%v (%v)", err, verify.ErrorCodes(err))
			}
			_, id, _ := eidfile.ParseIdentity(p.Files[virtual.PathIdentity])
			if res.Reading.Identity != id {
				t.Fatalf("identity %+v, want %+v", res.Reading.Identity, id)
			}
			// The same bundle to a server that trusts other roots.
			if _, err := (&verify.BundleVerifier{}).VerifyBundle(reading.Reading.Bundle); !errors.Is(err, verify.ErrRRNUntrusted) {
				t.Fatalf("embedded roots only: %v", err)
			}
		})
	}
}
