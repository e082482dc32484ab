package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/agent"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/internal/vpcd"
	"github.com/eid-agent/eid-agent/verify"
)

// chipCounter counts the INTERNAL AUTHENTICATE commands a virtual card
// receives (virtual.WithTrace), the chip challenges really spent, and its
// GET CARD DATA commands.
type chipCounter struct{ n, gcd atomic.Int32 }

func (c *chipCounter) trace(cmd, _ []byte) {
	switch {
	case len(cmd) > 1 && cmd[1] == 0x88:
		c.n.Add(1)
	case len(cmd) > 1 && cmd[0] == 0x80 && cmd[1] == 0xE4:
		c.gcd.Add(1)
	}
}

// insertTraced puts p in slot with a chip counter and waits for the
// client's card-inserted event of that reader.
func insertTraced(t *testing.T, c *client.Client, slot lab.Slot, p *virtual.Profile, opts ...virtual.Option) (*vpcd.Insertion, *chipCounter) {
	t.Helper()
	cc := &chipCounter{}
	in, err := vpcd.Insert(context.Background(), slot.Addr, virtual.New(p, append(opts, virtual.WithTrace(cc.trace))...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Remove() })
	for {
		e := nextEvent(t, c, "card-inserted", 5*time.Second)
		if strings.Contains(string(e.Data), slot.Reader) {
			return in, cc
		}
	}
}

// dialApp connects as the agent's own desktop application (its token).
func (d *daemon) dialApp() *client.Client {
	d.t.Helper()
	tok, err := os.ReadFile(filepath.Join(d.state, agent.TokenFile))
	if err != nil {
		d.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, d.url, client.Auth{Token: strings.TrimSpace(string(tok))})
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { c.Close() })
	if _, err := c.Hello(ctx); err != nil {
		d.t.Fatal(err)
	}
	return c
}

func callAttest(ctx context.Context, c *client.Client, reader, nonce string, fields []string, withAuth bool) ([]byte, error) {
	var res struct {
		Attestation json.RawMessage `json:"attestation"`
	}
	p := map[string]any{"nonce": nonce, "fields": fields, "reader": reader}
	if withAuth {
		p["withAuthentication"] = true
	}
	err := c.Call(ctx, "attest", p, &res)
	return res.Attestation, err
}

func codeOf(err error) bridge.Code {
	var be *bridge.Error
	if errors.As(err, &be) {
		return be.Code
	}
	return ""
}

// TestDaemonAttestPCSC: attestations through the real binary, pcscd and
// vpcd, verified by package verify: an applet 1.8 card proves presence
// with its basic key, a 1.7 card only with the PIN; the chip-challenge
// budget per insertion and per caller holds, and nothing is spent by an
// attest that fails before the challenge.
func TestDaemonAttestPCSC(t *testing.T) {
	slots := lab.Slots(t)
	const app = "https://counter.example"
	cfg := "consent_prompt = \"none\"\npin_prompt = \"pinentry\"\npinentry_program = \"" + slowPinentry(t, virtual.DefaultPIN, 0) + "\"\n" +
		"[attestation]\nper_insertion = 3\nper_origin_hourly = 5\n"
	d := startDaemon(t, cfg, "--allow-origin", app, "--grant", app+"=identity,address,photo,authenticate", "--grant", "app:local=identity")
	c := d.dial(app)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := c.Call(ctx, "subscribe", nil, nil); err != nil {
		t.Fatal(err)
	}
	store := &verify.MemoryNonceStore{}
	verifier := func(preset string) *verify.AttestationVerifier {
		p, err := virtual.Preset(preset)
		if err != nil {
			t.Fatal(err)
		}
		ts := &eidfile.TrustStore{}
		ts.Add(p.PKI.Root)
		return &verify.AttestationVerifier{Trust: ts, Nonces: store}
	}
	all := []string{"identity", "address", "photo"}

	for _, tc := range []struct {
		preset   string
		withAuth bool
		present  bool
	}{{"citizen-1.8", false, true}, {"citizen-1.7", false, false}, {"citizen-1.7", true, true}} {
		p, err := virtual.Preset(tc.preset)
		if err != nil {
			t.Fatal(err)
		}
		in, cc := insertTraced(t, c, slots[0], p)
		n, _ := store.Issue()
		raw, err := callAttest(ctx, c, slots[0].Reader, n, all, tc.withAuth)
		if err != nil {
			t.Fatalf("%s: %v", tc.preset, err)
		}
		res, err := verifier(tc.preset).VerifyAttestation(raw, app, n)
		if err != nil {
			t.Fatalf("%s: %v (%s)", tc.preset, err, verify.ErrorCode(err))
		}
		if res.Present != tc.present || res.Authenticated != tc.withAuth || !res.Genuine {
			t.Errorf("%s auth=%v: %+v", tc.preset, tc.withAuth, res)
		}
		if want := map[bool]int32{true: 1, false: 0}[p.Applet == "1.8"]; cc.n.Load() != want {
			t.Errorf("%s: %d chip challenges, want %d", tc.preset, cc.n.Load(), want)
		}
		in.Remove()
		nextEvent(t, c, "card-removed", 5*time.Second)
	}

	// The budget, on a 1.8 card: 3 per insertion, 5 per caller per hour.
	p18, _ := virtual.Preset("citizen-1.8")
	in, cc := insertTraced(t, c, slots[0], p18)
	// Failures before the challenge spend nothing.
	n, _ := store.Issue()
	if _, err := callAttest(ctx, c, slots[0].Reader, "short", all, false); codeOf(err) != bridge.CodeBadRequest {
		t.Errorf("bad nonce: %v", err)
	}
	if _, err := callAttest(ctx, c, slots[0].Reader, n, []string{"identity", "certificates"}, false); codeOf(err) != bridge.CodeBadRequest {
		t.Errorf("bad field: %v", err)
	}
	if _, err := callAttest(ctx, c, slots[1].Reader, n, all, false); codeOf(err) != bridge.CodeNoCard {
		t.Errorf("empty reader: %v", err)
	}
	if cc.n.Load() != 0 {
		t.Fatalf("%d challenges spent by failed attests", cc.n.Load())
	}
	// The desktop application binds "app:local", and is refused the
	// address it was not granted before anything is read.
	cApp := d.dialApp()
	if _, err := callAttest(ctx, cApp, slots[0].Reader, n, all, false); codeOf(err) != bridge.CodeConsentDenied {
		t.Errorf("ungranted field: %v", err)
	}
	if cc.n.Load() != 0 {
		t.Fatalf("%d challenges spent by a refused attest", cc.n.Load())
	}
	raw, err := callAttest(ctx, cApp, slots[0].Reader, n, []string{"identity"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := verifier("citizen-1.8").VerifyAttestation(raw, "app:local", n); err != nil || !res.Present {
		t.Fatalf("desktop application: %v %+v", err, res)
	}
	// Two more from the page: the insertion's 3 are spent.
	for i := 0; i < 2; i++ {
		n, _ := store.Issue()
		if _, err := callAttest(ctx, c, slots[0].Reader, n, all, false); err != nil {
			t.Fatalf("attest %d: %v", i+2, err)
		}
	}
	n, _ = store.Issue()
	if _, err := callAttest(ctx, c, slots[0].Reader, n, all, false); codeOf(err) != bridge.CodeRateLimited {
		t.Fatalf("fourth attest of the insertion: %v", err)
	}
	if cc.n.Load() != 3 {
		t.Fatalf("%d challenges spent, want 3", cc.n.Load())
	}
	// A read of integrity reuses an attestation's answer as the
	// insertion's chip check instead of spending another challenge.
	var read struct {
		Reading struct{ Integrity eidfile.Integrity }
	}
	if err := c.Call(ctx, "read", map[string]any{"fields": []string{"identity"}, "reader": slots[0].Reader}, &read); err != nil {
		t.Fatal(err)
	}
	if cc.n.Load() != 3 {
		t.Errorf("the read spent a challenge: %d", cc.n.Load())
	}
	in.Remove()
	nextEvent(t, c, "card-removed", 5*time.Second)

	// A new insertion has a new budget, but the page has spent 3 of its 5
	// of the hour (the desktop application's one is its own): 2 more.
	in, cc = insertTraced(t, c, slots[0], p18)
	defer in.Remove()
	for i := 0; i < 2; i++ {
		n, _ := store.Issue()
		if _, err := callAttest(ctx, c, slots[0].Reader, n, []string{"identity"}, false); err != nil {
			t.Fatalf("attest after reinsertion %d: %v", i, err)
		}
	}
	n, _ = store.Issue()
	_, err = callAttest(ctx, c, slots[0].Reader, n, []string{"identity"}, false)
	var be *bridge.Error
	if !errors.As(err, &be) || be.Code != bridge.CodeRateLimited || !strings.Contains(be.Detail, "caller") {
		t.Fatalf("sixth attest of the hour: %v", err)
	}
	if cc.n.Load() != 2 {
		t.Errorf("%d challenges spent on the second insertion, want 2", cc.n.Load())
	}

	// The audit journal names every attest with its fields.
	var attests []string
	for _, e := range d.audit() {
		if e.Operation == "attest" {
			attests = append(attests, e.Caller+" "+strings.Join(e.Fields, ",")+" "+e.Outcome)
		}
	}
	for _, want := range []string{app + " address,identity,photo ok", "app:local identity ok", app + " address,identity,photo RATE_LIMITED", app + " identity RATE_LIMITED"} {
		if !slices.Contains(attests, want) {
			t.Errorf("audit lacks %q: %q", want, attests)
		}
	}
}
