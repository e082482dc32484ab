package main

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/virtual"
)

// attestation makes what the agent's counter mode pushes for preset,
// origin and nonce, from the virtual card directly: its files, the
// challenge of docs/verify.md ("The challenge", written out here a third
// time), and on 1.8 the card's own answer to INTERNAL AUTHENTICATE.
func attestation(t *testing.T, preset, origin, nonce string) json.RawMessage {
	t.Helper()
	p, err := virtual.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	b := &eidfile.Bundle{Format: eidfile.BundleFormat, CardData: p.CardData,
		Identity: p.Files[virtual.PathIdentity], IdentitySignature: p.Files[virtual.PathIdentitySig],
		Photo: p.Files[virtual.PathPhoto], BasicKey: p.Files[virtual.PathBasicKey], RRNCertificate: p.Files[virtual.PathRRNCert]}
	var files bytes.Buffer
	for _, f := range [][]byte{b.CardData, b.Identity, b.IdentitySignature, b.Address, b.AddressSignature, b.Photo, b.BasicKey, b.RRNCertificate, b.RootCertificate} {
		binary.Write(&files, binary.BigEndian, uint32(len(f)))
		files.Write(f)
	}
	h := func(x []byte) []byte { s := sha512.Sum384(x); return s[:] }
	msg := append([]byte("eid-attestation:1\x00"), h([]byte(origin))...)
	msg = append(append(msg, h([]byte(nonce))...), h(files.Bytes())...)
	challenge := h(msg)
	a := &eidfile.Attestation{Format: eidfile.AttestationFormat, Origin: origin, Nonce: nonce,
		Fields: []string{"identity", "photo"}, Bundle: b}
	if p.Applet == "1.8" {
		vc := virtual.New(p)
		resp := vc.Transmit(append([]byte{0x00, 0x88, 0x02, 0x81, 0x32, 0x94, 0x30}, challenge...))
		if !bytes.Equal(resp, []byte{0x61, 0x60}) {
			t.Fatalf("INTERNAL AUTHENTICATE answered %X", resp)
		}
		resp = vc.Transmit([]byte{0x00, 0xC0, 0x00, 0x00, 0x60})
		a.Challenge, a.ChipSignature = challenge, resp[:96]
	}
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (e *env) counterNonce() string {
	e.t.Helper()
	a := e.do("POST", "/api/counter/nonce", map[string]any{}, nil)
	if a.status != 200 {
		e.t.Fatalf("counter nonce: %d %s", a.status, a.raw)
	}
	n, _ := a.body["nonce"].(string)
	return n
}

// TestCounterAttestation: the counter page's server side. A 1.8 card's
// attestation for the session's counter nonce logs the holder in (new
// session ID); the nonce is good once; another session's nonce, another
// origin, a cross-site post are refused; a 1.7 card is shown, not logged
// in.
func TestCounterAttestation(t *testing.T) {
	e := newEnv(t, testOrigin)
	p17, _ := virtual.Preset("citizen-1.7")
	e.srv.cfg.Bundles.Trust.Add(p17.PKI.Root)
	if a := e.do("GET", "/counter", nil, nil); a.status != 200 || !bytes.Contains(a.raw, []byte(`src="/counter.js"`)) {
		t.Fatalf("page: %d", a.status)
	}
	n := e.counterNonce()
	before := e.cookie.Value
	att := attestation(t, "citizen-1.8", testOrigin, n)
	a := e.do("POST", "/api/counter/attestation", map[string]any{"attestation": att}, nil)
	if a.status != 200 || a.body["present"] != true || a.body["bound"] != true || a.body["loggedIn"] != true || a.body["presentBy"] != "basic-key" {
		t.Fatalf("attestation: %d %s", a.status, a.raw)
	}
	_, id, _ := eidfile.ParseIdentity(e.card.p.Files[virtual.PathIdentity])
	if p := a.body["person"].(map[string]any); p["ssin"] != id.NationalNumber {
		t.Errorf("person %v", p)
	}
	if e.cookie.Value == before {
		t.Error("session ID not renewed at login")
	}
	if s := e.do("GET", "/api/session", nil, nil); s.body["loggedIn"] != true {
		t.Errorf("session: %s", s.raw)
	}
	// The same again: the session's nonce is spent.
	if a := e.do("POST", "/api/counter/attestation", map[string]any{"attestation": att}, nil); a.status != 400 || a.code() != "NONCE_UNKNOWN" {
		t.Errorf("second use: %d %s", a.status, a.raw)
	}
	// An attestation made for another session's nonce (handed to this
	// session's page by an attacker).
	other := newEnvShared(t, e)
	theirs := other.counterNonce()
	e.counterNonce()
	if a := e.do("POST", "/api/counter/attestation", map[string]any{"attestation": attestation(t, "citizen-1.8", testOrigin, theirs)}, nil); a.status != 401 || a.code() != "WRONG_NONCE" {
		t.Errorf("another session's nonce: %d %s", a.status, a.raw)
	}
	// Made for another site.
	n = e.counterNonce()
	if a := e.do("POST", "/api/counter/attestation", map[string]any{"attestation": attestation(t, "citizen-1.8", "https://other.example", n)}, nil); a.status != 401 || a.code() != "WRONG_ORIGIN" {
		t.Errorf("another origin: %d %s", a.status, a.raw)
	}
	// Posted from another site.
	n = e.counterNonce()
	cross := func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }
	if a := e.do("POST", "/api/counter/attestation", map[string]any{"attestation": attestation(t, "citizen-1.8", testOrigin, n)}, cross); a.status != 403 {
		t.Errorf("cross-site: %d %s", a.status, a.raw)
	}
	// A 1.7 card: genuine, shown, not present, not logged in.
	e.do("POST", "/api/logout", map[string]any{}, nil)
	n = e.counterNonce()
	a = e.do("POST", "/api/counter/attestation", map[string]any{"attestation": attestation(t, "citizen-1.7", testOrigin, n)}, nil)
	if a.status != 200 || a.body["genuine"] != true || a.body["present"] != false || a.body["loggedIn"] != false {
		t.Fatalf("1.7: %d %s", a.status, a.raw)
	}
	if s := e.do("GET", "/api/session", nil, nil); s.body["loggedIn"] != false {
		t.Errorf("session after a 1.7 card: %s", s.raw)
	}
}

// newEnvShared is a second browser on e's server.
func newEnvShared(t *testing.T, e *env) *env {
	return &env{t: t, card: e.card, srv: e.srv, ts: e.ts, clock: e.clock}
}
