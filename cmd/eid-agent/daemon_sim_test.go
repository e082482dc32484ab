package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/internal/agent/simulator"
)

func testNonce(t *testing.T) string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// TestDaemonSimulate: `run --simulate` needs no pcscd. A web client reads
// the virtual card, authenticates (the token verifies), sees the card
// leave and come back as another profile (the `simulator` command), and
// everything lands in the audit journal; SIGTERM closes the client and
// exits 0.
func TestDaemonSimulate(t *testing.T) {
	const app = "https://counter.example"
	d := startDaemon(t, "", "--simulate", "--allow-origin", app, "--grant", app+"=card,identity,integrity,authenticate",
		"--profile", "citizen-1.7")
	c := d.dial(app)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Call(ctx, "subscribe", nil, nil); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, c, "card-inserted", 2*time.Second)
	if !strings.Contains(string(ev.Data), simulator.ReaderName) || !strings.Contains(string(ev.Data), "belpic") {
		t.Errorf("initial card event %s", ev.Data)
	}
	var read struct {
		Reading struct {
			Identity  struct{ NationalNumber, Surname string }
			Integrity map[string]string
		}
	}
	if err := c.Call(ctx, "read", map[string]any{"fields": []string{"identity", "integrity"}}, &read); err != nil {
		t.Fatal(err)
	}
	nn := read.Reading.Identity.NationalNumber
	if len(nn) != 11 || read.Reading.Integrity["identity"] != "valid" || read.Reading.Integrity["rrnChain"] != "trusted" {
		t.Errorf("reading %+v", read.Reading)
	}
	n := testNonce(t)
	var tok webeid.Token
	if err := c.Call(ctx, "authenticate", map[string]any{"nonce": n}, &tok); err != nil {
		t.Fatalf("authenticate (the simulated card's PIN comes from the configured dialog): %v", err)
	}
	if _, err := webeid.Verify(&tok, app, n); err != nil {
		t.Errorf("token does not verify: %v", err)
	}

	if r := d.cli("simulator", "remove", "--url", d.url, "--state-dir", d.state); r.code != 0 {
		t.Fatalf("simulator remove: %+v", r)
	}
	nextEvent(t, c, "card-removed", time.Second)
	if r := d.cli("simulator", "insert", "--profile", "kids-1.8", "--url", d.url, "--state-dir", d.state); r.code != 0 {
		t.Fatalf("simulator insert: %+v", r)
	}
	nextEvent(t, c, "card-inserted", time.Second)
	if err := c.Call(ctx, "read", map[string]any{"fields": []string{"identity"}}, &read); err != nil {
		t.Fatal(err)
	}
	if read.Reading.Identity.NationalNumber == nn {
		t.Error("still the first card after the swap")
	}
	st := d.status()
	if !st.Simulate || st.Service != "up" || len(st.Readers) != 1 || st.Readers[0].Card != "belpic" || st.Subscribers != 1 {
		t.Errorf("status %+v", st)
	}
	if r := d.cli("status", "--url", d.url, "--state-dir", d.state); r.code != 0 || !strings.Contains(r.stdout, simulator.ReaderName) {
		t.Errorf("status command: %+v", r)
	}

	if code := d.stop(); code != 0 {
		t.Errorf("exit status %d after SIGTERM; logs:\n%s", code, d.Logs())
	}
	if !closedWithin(c, 2*time.Second) {
		t.Error("the client was not disconnected at shutdown")
	}
	entries := d.audit()
	var ops []string
	for _, e := range entries {
		ops = append(ops, e.Operation+":"+e.Outcome)
		if e.Caller != app || e.Reader != simulator.ReaderName || len(e.Card) != 32 {
			t.Errorf("audit entry %+v", e)
		}
	}
	if strings.Join(ops, " ") != "read:ok authenticate:ok read:ok" {
		t.Errorf("audit operations %v", ops)
	}
	// No personal data in the logs or the journal.
	raw, _ := json.Marshal(entries)
	for _, secret := range []string{nn, read.Reading.Identity.NationalNumber, read.Reading.Identity.Surname} {
		if secret != "" && (strings.Contains(d.Logs(), secret) || strings.Contains(string(raw), secret)) {
			t.Errorf("%q leaked into the logs or the audit journal", secret)
		}
	}
}
